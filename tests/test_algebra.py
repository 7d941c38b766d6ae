"""Inverses, determinants, log-determinants and matrix powers, against numpy and the Cookbook.

Expected values never come from derivtex: they are the Matrix Cookbook's closed forms evaluated
with numpy.linalg, and central differences of numpy.linalg functions (tests/checks.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
import sympy
from checks import central_differences

import derivtex
from derivtex.calculus import numeric as N
from derivtex.calculus.elimination import eliminate
from derivtex.errors import UnsupportedError
from derivtex.rendering.printer import notation, to_latex

inv, det, T = np.linalg.inv, np.linalg.det, np.transpose
Values = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    text: str
    wrt: str
    shapes: dict[str, str]
    f: Callable[[Values], np.ndarray]  # the value, in numpy
    cookbook: Callable[[Values], np.ndarray] | None  # the derivative's closed form, or None
    latex: str | None = None  # the printed matrix form


def _logdet(a: np.ndarray) -> float:
    return float(np.linalg.slogdet(a)[1])


CASES = [
    Case("y = tr(inv(X) A)", "X", {"X": "D x D", "A": "D x D"},
         lambda v: np.trace(inv(v["X"]) @ v["A"]),
         lambda v: -T(inv(v["X"])) @ T(v["A"]) @ T(inv(v["X"])),
         r"- X^{-\top} A^{\top} X^{-\top}"),
    Case("y = tr(X^-1 A)", "X", {"X": "D x D", "A": "D x D"},
         lambda v: np.trace(inv(v["X"]) @ v["A"]),
         lambda v: -T(inv(v["X"])) @ T(v["A"]) @ T(inv(v["X"]))),
    Case("y = det(X)", "X", {"X": "D x D"}, lambda v: det(v["X"]),
         lambda v: det(v["X"]) * T(inv(v["X"])), r"\det\left(X\right) X^{-\top}"),
    Case("y = logdet(X)", "X", {"X": "D x D"}, lambda v: _logdet(v["X"]),
         lambda v: T(inv(v["X"])), r"X^{-\top}"),
    Case("y = log(det(X))", "X", {"X": "D x D"}, lambda v: np.log(det(v["X"])),
         lambda v: T(inv(v["X"])), r"X^{-\top}"),
    Case("y = x^T inv(A) x", "A", {"x": "D", "A": "D x D"},
         lambda v: v["x"] @ inv(v["A"]) @ v["x"],
         lambda v: -T(inv(v["A"])) @ np.outer(v["x"], v["x"]) @ T(inv(v["A"]))),
    Case("y = x^T inv(A) x", "x", {"x": "D", "A": "D x D"},
         lambda v: v["x"] @ inv(v["A"]) @ v["x"],
         lambda v: (inv(v["A"]) + T(inv(v["A"]))) @ v["x"]),
    Case("y = logdet(X^T X)", "X", {"X": "N x D"}, lambda v: _logdet(T(v["X"]) @ v["X"]),
         lambda v: 2 * v["X"] @ inv(T(v["X"]) @ v["X"])),
    Case("y = tr(X^3)", "X", {"X": "D x D"},
         lambda v: np.trace(v["X"] @ v["X"] @ v["X"]),
         lambda v: 3 * T(v["X"] @ v["X"]), r"3 X^{\top} X^{\top}"),
    Case("y = tr(A X^2)", "X", {"X": "D x D", "A": "D x D"},
         lambda v: np.trace(v["A"] @ v["X"] @ v["X"]),
         lambda v: T(v["X"]) @ T(v["A"]) + T(v["A"]) @ T(v["X"])),
    Case("y = tr(X^-2 A)", "X", {"X": "D x D", "A": "D x D"},
         lambda v: np.trace(inv(v["X"]) @ inv(v["X"]) @ v["A"]), None),
    Case("y = a^T inv(X) b", "X", {"X": "D x D", "a": "D", "b": "D"},
         lambda v: v["a"] @ inv(v["X"]) @ v["b"],
         lambda v: -T(inv(v["X"])) @ np.outer(v["a"], v["b"]) @ T(inv(v["X"]))),
    Case("y = det(X)^2 + logdet(X) tr(X)", "X", {"X": "D x D"},
         lambda v: det(v["X"]) ** 2 + _logdet(v["X"]) * np.trace(v["X"]),
         lambda v: 2 * det(v["X"]) ** 2 * T(inv(v["X"]))
         + np.trace(v["X"]) * T(inv(v["X"])) + _logdet(v["X"]) * np.eye(len(v["X"]))),
    Case("r = x - m; L = 0.5 logdet(P) - 0.5 r^T P r", "P", {"P": "D x D", "x": "D", "m": "D"},
         lambda v: 0.5 * _logdet(v["P"]) - 0.5 * (v["x"] - v["m"]) @ v["P"] @ (v["x"] - v["m"]),
         lambda v: 0.5 * T(inv(v["P"])) - 0.5 * np.outer(v["x"] - v["m"], v["x"] - v["m"])),
    Case("r = x - m; L = 0.5 logdet(P) - 0.5 r^T P r", "m", {"P": "D x D", "x": "D", "m": "D"},
         lambda v: 0.5 * _logdet(v["P"]) - 0.5 * (v["x"] - v["m"]) @ v["P"] @ (v["x"] - v["m"]),
         lambda v: 0.5 * (v["P"] + T(v["P"])) @ (v["x"] - v["m"])),
    # Matrix-valued: four axes, the index form only.
    Case("Y = inv(X)", "X", {"X": "D x D"}, lambda v: inv(v["X"]),
         lambda v: -np.einsum("ik,lj->ijkl", inv(v["X"]), inv(v["X"]))),
    Case("Y = X^2", "X", {"X": "D x D"}, lambda v: v["X"] @ v["X"],
         lambda v: np.einsum("ik,lj->ijkl", np.eye(len(v["X"])), v["X"])
         + np.einsum("ik,jl->ijkl", v["X"], np.eye(len(v["X"])))),
    Case("Y = inv(A B)", "A", {"A": "D x D", "B": "D x D"}, lambda v: inv(v["A"] @ v["B"]),
         lambda v: -np.einsum("ik,lj->ijkl", inv(v["A"] @ v["B"]), v["B"] @ inv(v["A"] @ v["B"]))),
]  # fmt: skip


def _sizes(shapes: dict[str, str], rng: np.random.Generator) -> dict[str, int]:
    d = int(rng.integers(2, 6))
    return {"D": d, "N": d + int(rng.integers(0, 3))}


def _values(case: Case, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Diagonally dominant square matrices (well conditioned, det > 0), normal vectors."""
    sizes = _sizes(case.shapes, rng)
    out = {}
    for name, shape in case.shapes.items():
        dims = tuple(sizes[p.strip()] for p in shape.split("x"))
        value = rng.normal(0, 0.5, dims)
        if len(dims) == 2 and dims[0] == dims[1]:
            value = value + np.diag(np.abs(value).sum(axis=1) + 1)
        out[name] = value
    return out


def _ids(case: Case) -> str:
    return f"{case.text} by {case.wrt}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_derivative_matches_cookbook_and_finite_differences(case: Case) -> None:
    d = derivtex.derive(case.text, wrt=case.wrt, shapes=case.shapes, steps=False)
    rng = np.random.default_rng(len(case.text) + len(case.wrt))
    for _ in range(3):  # random sizes
        values = _values(case, rng)
        got = d.derivative.evaluate(values)
        fd = central_differences(case.f, values, case.wrt)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-6)
        if case.cookbook is not None:
            np.testing.assert_allclose(got, case.cookbook(values), rtol=1e-9, atol=1e-9)
        if d.derivative.has_matrix_form:  # the printed form, with X^{-1} and det X put back
            arrays, dims = N.bind(d.graph, values)
            shown = N.eval_matrix(d.result, N.eval_graph(d.graph, arrays), dims)
            np.testing.assert_allclose(np.asarray(shown).reshape(fd.shape), fd, atol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c.latex], ids=_ids)
def test_result_prints_like_the_cookbook(case: Case) -> None:
    d = derivtex.derive(case.text, wrt=case.wrt, shapes=case.shapes, steps=False)
    assert to_latex(d.result, notation(d.graph)) == case.latex


@pytest.mark.parametrize("case", CASES[:8], ids=_ids)
def test_verification_reports_the_condition_of_its_samples(case: Case) -> None:
    d = derivtex.derive(case.text, wrt=case.wrt, shapes=case.shapes)
    report = d.report
    assert report is not None and report.exact
    assert report.condition is not None and 1 <= report.condition <= 1e4
    assert "condition number" in report.sizes_text()


def test_no_condition_without_an_inverse() -> None:
    d = derivtex.derive("y = tr(X^3)", wrt="X", shapes={"X": "D x D"})
    assert d.report is not None and d.report.condition is None
    assert "condition" not in d.report.sizes_text()


@pytest.mark.parametrize(
    ("text", "shapes", "says", "column", "hint"),
    [
        ("y = inv(A) x", {"A": "C x D", "x": "D"}, "inv() needs a square matrix", 4, "X^T X"),
        ("y = inv(x)", {"x": "D"}, "'x' is D", 4, "x^T x"),
        ("y = inv(s)", {"s": "1"}, "'s' is a scalar", 4, "1 / s"),
        ("y = det(W)", {"W": "C x D"}, "det() needs a square matrix; 'W' is C x D", 4, "D x D"),
        ("y = logdet(x)", {"x": "D"}, "logdet() needs a square matrix; 'x' is D", 4, "x^T x"),
        ("y = log(det(W))", {"W": "C x D"}, "logdet() needs a square matrix", 4, "D x D"),
        ("Y = W^2", {"W": "C x D"}, "a matrix power needs a square matrix", 4, "D x D"),
        ("Y = X^0.5", {"X": "D x D"}, "non-integer exponent 1/2", 4, "X.^0.5"),
        ("Y = X^0", {"X": "D x D"}, "is the identity", 4, "I_D"),
        ("Y = X^30", {"X": "D x D"}, "would multiply 30 factors", 4, "Y Y"),
        ("y = x^2", {"x": "D"}, "only scalars have powers", 4, "x.^2"),
    ],
)  # fmt: skip
def test_misuse_is_a_clear_error(text, shapes, says, column, hint) -> None:
    with pytest.raises(derivtex.ShapeError) as info:
        derivtex.derive(text, wrt=next(iter(shapes)), shapes=shapes)
    message = str(info.value)
    assert says in message and hint in message
    assert info.value.column == column
    assert "^" in message.splitlines()[2]  # the caret line under the source


def test_misuse_exits_2_on_the_cli() -> None:
    from click.testing import CliRunner

    from derivtex.cli import main

    result = CliRunner().invoke(main, ["derive", "y = det(W)", "--wrt", "W", "-s", "W=C x D"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "square matrix" in result.output


def test_singular_everywhere_is_a_clear_error() -> None:
    # X^T X is D x D of rank at most N: never invertible when N < D.
    with pytest.raises(UnsupportedError, match="singular"):
        derivtex.derive("y = logdet(X^T X)", wrt="X", shapes={"X": "2 x 3"})


def test_log_of_det_is_logdet() -> None:
    a = derivtex.derive("y = log(det(X))", wrt="X", shapes={"X": "D x D"}, steps=False)
    b = derivtex.derive("y = logdet(X)", wrt="X", shapes={"X": "D x D"}, steps=False)
    assert a.result == b.result


def test_worked_steps_are_planned() -> None:
    d = derivtex.derive("y = tr(inv(X) A)", wrt="X", shapes={"X": "D x D", "A": "D x D"})
    kinds = [type(s).__name__ for s in d.steps]
    assert kinds[0] == "ComponentFormula" and kinds[-1] == "Summary"


# -- exact elimination, against sympy's own inverse and determinant ------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_elimination_is_exact(n: int) -> None:
    rng = np.random.default_rng(n)
    ints = rng.integers(-9, 10, (n, n)).tolist()
    a = np.array([[Fraction(x) for x in row] for row in ints], dtype=object)
    a[0, 0] = a[0, 0] * 0  # a zero pivot: a row swap is needed where n > 1
    inverse, value = eliminate(a, lambda x: 1 / Fraction(x), lambda x: x == 0)
    m = sympy.Matrix(a.tolist())
    assert value == m.det()
    if m.det() != 0:
        assert inverse is not None
        assert sympy.Matrix(inverse.tolist()) == m.inv()


def test_elimination_of_a_singular_matrix() -> None:
    a = np.array([[Fraction(1), Fraction(2)], [Fraction(2), Fraction(4)]], dtype=object)
    assert eliminate(a, lambda x: 1 / x, lambda x: x == 0) == (None, 0)


@pytest.mark.parametrize(
    ("text", "shapes", "wrt"),
    [
        ("y = tr(inv(X) A)", {"X": "3 x 3", "A": "3 x 3"}, "X"),
        ("y = det(X)", {"X": "2 x 2"}, "X"),
        ("Y = inv(X)", {"X": "3 x 3"}, "X"),
        ("y = logdet(X^T X)", {"X": "4 x 3"}, "X"),
    ],
)
def test_explicit_sizes_plan_their_steps(text, shapes, wrt) -> None:
    # The worked entries (X_{3,3}) sit inside the explicit sizes; their display must allow it.
    d = derivtex.derive(text, wrt=wrt, shapes=shapes)
    assert d.report is not None and d.report.exact and d.steps


def test_exact_check_moves_to_sizes_where_the_inverse_exists() -> None:
    # X X^T (N x N) is singular for N > D: the exact check takes N = 2, D = 3 instead.
    d = derivtex.derive("y = logdet(X X^T)", wrt="X", shapes={"X": "N x D"})
    assert d.report is not None and dict(d.report.exact_sizes) == {"D": 3, "N": 2}
    x = np.random.default_rng(5).normal(size=(3, 4))
    want = 2 * inv(x @ x.T) @ x  # the Matrix Cookbook, (57) with the symmetry of X X^T
    got = d.derivative.evaluate({"X": x})
    np.testing.assert_allclose(got, want, rtol=1e-9)
    fd = central_differences(lambda v: _logdet(v["X"] @ v["X"].T), {"X": x}, "X")
    np.testing.assert_allclose(got, fd, atol=1e-6)


def test_the_determinant_names_the_inverse_it_reads() -> None:
    d = derivtex.derive("y = det(X)", wrt="X", shapes={"X": "D x D"})
    first = d.steps[0]
    names = [str(lhs) for lhs, _ in first.definitions]
    assert "q" not in names  # det(X) is the output itself, y, not named again
    rule = d.steps[1]
    assert "inverse Q of X" in rule.reasons[-1]  # the rule introduces Q = X^{-1}, which it reads
    assert [s.kind for s in d.steps] == [
        "component_formula",
        "worked_rule",
        "generalization",
        "jacobian_assembly",
        "summary",
    ]  # no chain rule through a tool-made q = det(X) with dy/dq = 1
