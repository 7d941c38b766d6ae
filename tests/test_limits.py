"""Bad or huge input: a DerivtexError (TooLargeError naming the limit) or a result, quickly."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

import derivtex
from derivtex.api import derive
from derivtex.cli import main
from derivtex.errors import BudgetError, TooLargeError, UnsupportedError
from derivtex.language.limits import LIMITS

D = {"x": "D"}
NESTED_SUMS = "y = " + "(" * 20 + "x" + ("+x" * 150 + ")") * 20
PRODUCT_35 = "y = " + " ".join(f"A{i}" for i in range(1, 36)) + " x"
SHAPES_35 = {**{f"A{i}": "D x D" for i in range(1, 36)}, "x": "D"}

# (text, wrt, shapes, what must happen): the limit a TooLargeError must name, "derives", or
# None: derives or raises a DerivtexError
CASES = [
    ("y = " + "(" * 170 + "x" + ")" * 170, "x", D, "max_depth"),
    ("y = " + "-" * 500 + "x", "x", D, "max_depth"),
    ("y = x" + "'" * 500, "x", D, "max_depth"),
    ("y = x" + ".T" * 100, "x", D, "max_depth"),
    ("y = " + "tanh(" * 100 + "x" + ")" * 100, "x", D, "max_depth"),
    ("y = " + " + ".join(["x"] * 300), "x", D, "max_terms"),
    (PRODUCT_35, "x", SHAPES_35, "max_factors"),
    (NESTED_SUMS, "x", D, "max_tree_depth"),
    ("y = " + " + ".join(["x"] * 200), "x", D, "derives"),
    ("y = " + "x " * 20000, "x", D, "max_source_length"),
    ("y = 1e999999999 x", "x", D, "max_exponent"),
    ("y = " + "7" * 5000 + " x", "x", D, "max_integer_digits"),
    ("y = x^" + "9" * 5000, "x", D, "max_integer_digits"),
    ("y = W x", "x", {"x": "3", "W": "1000000000000 x 3"}, "max_dimension"),
    ("y = W x", "x", {"x": "3", "W": "65 x 3"}, "max_dimension"),
    ("\n".join(f"m{i} = x" for i in range(150)) + "\ny = m0", "x", D, "max_statements"),
    ("y = W x", "x", {"x": "D", "W": "00 x D"}, None),
    ("y = W x", "x", {"x": "Cscr", "W": "D x Cscr"}, None),
    ("y_ = W x", "x", {"x": "D", "W": "C x D"}, None),
    ("q = W q_", "q_", {"q_": "D", "W": "C x D"}, None),
    ("y = x^T A x + s", "A", {"x": "D", "A": "D x D", "s": ""}, "derives"),
    ("m = s; y = a^T x + m", "x", {"x": "D", "a": "D", "s": ""}, "derives"),
    ("m = u; y = s + m", "u", {"u": "", "s": ""}, "derives"),
    ("s = sum(exp(z)); p = s^(-1) exp(z)", "z", {"z": "D"}, "derives"),
    ("s = norm(x) a^T x", "x", {"x": "D", "a": "D"}, "derives"),
    ("y = (-sum(b))^0.5", "b", {"b": "D"}, None),
    ("y = x^(1e12)", "x", {"x": ""}, None),
    ("y = \x00 x", "x", D, None),
    ("y = x ^ ^", "x", D, None),
    ("", "x", D, None),
]


@pytest.mark.parametrize(("text", "wrt", "shapes", "limit"), CASES, ids=range(len(CASES)))
def test_bad_input_is_a_clean_error(text, wrt, shapes, limit):
    start = time.monotonic()
    if limit == "derives":
        derive(text, wrt, shapes, timeout=20)
        return
    try:
        derive(text, wrt, shapes, timeout=20)
    except TooLargeError as exc:
        assert limit is None or limit in str(exc)
        assert exc.hint
    except derivtex.DerivtexError:
        assert limit is None, f"expected TooLargeError naming {limit}"
    else:
        assert limit is None, f"expected TooLargeError naming {limit}"
    assert time.monotonic() - start < 25


def test_limits_are_named_and_frozen():
    with pytest.raises(AttributeError):
        LIMITS.max_depth = 1  # type: ignore[misc]
    assert LIMITS.max_depth == 64 and LIMITS.max_dimension == 64


def test_budget_error_past_the_timeout(monkeypatch):
    import derivtex.api as api

    def slow(*args, **kwargs):
        time.sleep(5)

    monkeypatch.setattr(api, "_derive", slow)
    start = time.monotonic()
    with pytest.raises(BudgetError, match="within 0.2 s; here is why"):
        derive("y = x", "x", D, timeout=0.2)
    assert time.monotonic() - start < 2


def test_unsupported_error_wraps_what_escapes(monkeypatch):
    import derivtex.api as api

    def broken(*args, **kwargs):
        raise StopIteration

    monkeypatch.setattr(api, "_derive", broken)
    with pytest.raises(UnsupportedError, match="cannot derive this expression yet"):
        derive("y = x", "x", D)


@pytest.mark.parametrize(
    ("text", "shape"),
    [("y = " + "(" * 170 + "x" + ")" * 170, "x=D"), ("y = W x", "x=D"), ("y_ = x", "x=D")],
)
def test_cli_exit_code_2_without_traceback(tmp_path, text, shape):
    args = ["derive", text, "--wrt", "x", "-s", shape, "--tex-only", "-o", str(tmp_path)]
    if text == "y = W x":
        args += ["-s", "W=1000000000000 x D"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_not_real_at_the_sample_point_is_unsupported_not_a_bug():
    with pytest.raises(UnsupportedError, match="not real-valued"):
        derive("y = (-sum(b))^0.5", "b", {"b": "D"})


def test_budget_is_skipped_off_the_main_thread():
    import threading

    out = []
    shapes = {"W": "C x D", **D}
    thread = threading.Thread(target=lambda: out.append(derive("y = W x", "x", shapes)))
    thread.start()
    thread.join(60)
    assert out and out[0].wrt == "x"


def test_budget_error_on_a_real_long_derivation():
    text = "y = " + " ".join(f"A{i}" for i in range(1, 24)) + " x"
    shapes = {**{f"A{i}": "D x D" for i in range(1, 24)}, "x": "D"}
    start = time.monotonic()
    with pytest.raises(BudgetError, match="here is why: time ran out while"):
        derive(text, "A3", shapes, timeout=0.1)  # warm, it takes about 0.3 s since #14
    assert time.monotonic() - start < 15
