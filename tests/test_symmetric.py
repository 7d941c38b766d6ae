"""Symmetric matrices: the declared shape, X^T = X in results, the gradient by a symmetric X.

Expected values are the closed forms by hand (the Matrix Cookbook's, symmetrized), evaluated with
numpy, and central differences of numpy code written here, changing X_{k,l} and X_{l,k} together.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy
from click.testing import CliRunner

import derivtex
from derivtex.calculus import numeric as N
from derivtex.calculus import symmetric as SYM
from derivtex.cli import main
from derivtex.errors import ShapeError, VerificationError
from derivtex.language.shapes import parse_shape
from derivtex.tex.runner import tex_available

needs_tex = pytest.mark.skipif(not tex_available(), reason="no TeX engine (pdflatex)")
RNG = np.random.default_rng(7)
SYMMETRIC_A = {"x": "D", "A": "D x D symmetric"}


def _symmetric(n: int) -> np.ndarray:
    m = RNG.normal(size=(n, n))
    return (m + m.T) / 2


def _evaluate(d: derivtex.Derivation, values: dict) -> np.ndarray:
    graph = d.derivative.graph
    arrays, dims = N.bind(graph, values)
    env = N.eval_graph(graph, arrays)
    return np.asarray(N.eval_matrix(d.derivative.symmetric, env, dims), dtype=float)


def _directional(f, base: np.ndarray, direction: np.ndarray, h: float = 1e-6) -> float:
    return (f(base + h * direction) - f(base - h * direction)) / (2 * h)


# -- the shape ------------------------------------------------------------------------------------
def test_a_symmetric_shape_reads_and_prints_back() -> None:
    shape = parse_shape("D x D symmetric", "A")
    assert shape.symmetric and shape.text() == "D x D symmetric"
    assert shape == parse_shape("D x D")  # it fits wherever a D x D matrix does


@pytest.mark.parametrize(
    ("text", "column"),
    [("C x D symmetric", 6), ("D symmetric", 2), ("1 x D symmetric", 6)],
)
def test_only_a_square_matrix_can_be_symmetric(text: str, column: int) -> None:
    with pytest.raises(ShapeError) as caught:
        parse_shape(text, "A")
    assert caught.value.column == column
    assert "only a square matrix can be symmetric" in str(caught.value)
    assert "^^^^^^^^^" in str(caught.value)


def test_the_cli_reports_a_bad_symmetric_shape_with_exit_2() -> None:
    result = CliRunner().invoke(
        main,
        ["derive", "L = x' A x", "--wrt", "x", "--shape", "x=D", "--shape", "A=C x D symmetric"],
    )
    assert result.exit_code == 2
    assert "only a square matrix can be symmetric" in result.output
    assert "Traceback" not in result.output


# -- X^T = X in the result ------------------------------------------------------------------------
def test_a_symmetric_matrix_simplifies_the_quadratic_form_gradient() -> None:
    d = derivtex.derive("L = x' A x", "x", SYMMETRIC_A)
    a = sympy.MatrixSymbol("A", *[sympy.Symbol("D", positive=True, integer=True)] * 2)
    assert sympy.srepr(d.derivative.result).count("Transpose") == 1  # entry by entry: A + A^T
    assert "Transpose" not in sympy.srepr(d.result)  # 2 A x
    n = 4
    values = {"x": RNG.normal(size=n), "A": _symmetric(n)}
    np.testing.assert_allclose(
        _evaluate(d, values).ravel(), 2 * values["A"] @ values["x"], rtol=1e-12
    )
    assert a.name in str(d.result)
    assert "symmetric" in " ".join(d.derivative.notes)
    assert "symmetric" in [s.kind for s in d.steps]


def test_without_a_symmetric_input_nothing_changes() -> None:
    d = derivtex.derive("L = x' A x", "x", {"x": "D", "A": "D x D"})
    assert d.derivative.symmetric is None and "symmetric" not in [s.kind for s in d.steps]
    assert d.result == d.derivative.result


# -- the gradient by a symmetric matrix -----------------------------------------------------------
CASES = [
    # (text, shapes, f(A, extra) in numpy, the symmetric gradient by hand)
    (
        "L = tr(B A)",
        {"B": "D x D", "A": "D x D symmetric"},
        lambda a, v: np.trace(v["B"] @ a),
        lambda v: (v["B"] + v["B"].T) / 2,
    ),
    (
        "L = x' A x",
        SYMMETRIC_A,
        lambda a, v: v["x"] @ a @ v["x"],
        lambda v: np.outer(v["x"], v["x"]),
    ),
    (
        "L = norm(A x - t)^2",
        {"x": "D", "t": "D", "A": "D x D symmetric"},
        lambda a, v: np.sum((a @ v["x"] - v["t"]) ** 2),
        lambda v: (lambda g: (g + g.T) / 2)(2 * np.outer(v["A"] @ v["x"] - v["t"], v["x"])),
    ),
]


@pytest.mark.parametrize(("text", "shapes", "f", "gradient"), CASES)
def test_the_gradient_by_a_symmetric_matrix_is_symmetric_and_right(text, shapes, f, gradient):
    d = derivtex.derive(text, "A", shapes)
    for n in (2, 3, 5):
        values = {k: RNG.normal(size=n) for k, s in shapes.items() if s == "D"}
        values["A"] = _symmetric(n)
        values.update({k: RNG.normal(size=(n, n)) for k, s in shapes.items() if s == "D x D"})
        got = _evaluate(d, values)
        np.testing.assert_allclose(got, gradient(values), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got, got.T, atol=1e-12)
        # a symmetric change E moves L by <S, E>
        e = _symmetric(n)
        moved = _directional(lambda a, v=values: f(a, v), values["A"], e)
        assert np.sum(got * e) == pytest.approx(moved, rel=1e-6, abs=1e-8)


def test_the_cookbook_form_is_the_partials_by_the_distinct_entries() -> None:
    """G + G^T - diag(G) = 2 S - diag(S): X_{k,l} and X_{l,k} moved together, k <= l."""
    d = derivtex.derive("L = tr(B A)", "A", {"B": "D x D", "A": "D x D symmetric"})
    n = 3
    values = {"B": RNG.normal(size=(n, n)), "A": _symmetric(n)}
    s = _evaluate(d, values)
    g = values["B"].T  # entry by entry, by hand
    np.testing.assert_allclose(2 * s - np.diag(np.diag(s)), g + g.T - np.diag(np.diag(g)))
    for k in range(n):
        for m in range(k, n):
            step = np.zeros((n, n))
            step[k, m] = step[m, k] = 1.0
            moved = _directional(lambda a: np.trace(values["B"] @ a), values["A"], step)
            assert (2 * s - np.diag(np.diag(s)))[k, m] == pytest.approx(moved, rel=1e-6)


def test_the_check_rejects_the_entrywise_derivative_as_a_gradient() -> None:
    d = derivtex.derive("L = tr(B A)", "A", {"B": "D x D", "A": "D x D symmetric"})
    graph = d.derivative.graph
    values = {"B": RNG.normal(size=(3, 3)), "A": _symmetric(3)}
    with pytest.raises(VerificationError, match="not symmetric"):
        SYM.check(graph, "A", d.derivative.result, values, 1e-5, "numerator")
    wrong = sympy.MatMul(2, d.derivative.symmetric)  # symmetric, but twice too large
    with pytest.raises(VerificationError, match="disagrees"):
        SYM.check(graph, "A", wrong, values, 1e-5, "numerator")


def test_a_jacobian_by_a_symmetric_matrix_stays_entry_by_entry() -> None:
    d = derivtex.derive("y = A x", "A", SYMMETRIC_A)
    assert d.derivative.symmetric is None
    assert any("separate variables" in note for note in d.derivative.notes)


def test_symmetric_steps_round_trip_as_json() -> None:
    result = CliRunner().invoke(
        main,
        ["plan", "L = tr(B A)", "--wrt", "A", "--shape", "B=D x D", "--shape", "A=D x D symmetric",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"kind": "symmetric"' in result.output


@needs_tex
def test_a_spec_with_a_symmetric_matrix_builds_a_pdf(tmp_path: Path) -> None:
    spec = tmp_path / "sym.toml"
    spec.write_text(
        'title = "Symmetric"\n[[derivation]]\ntitle = "Trace"\ngiven = "L = tr(B A)"\n'
        'wrt = "A"\nshapes = { B = "D x D", A = "D x D symmetric" }\n'
    )
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "out" / "sym.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert "Symmetric matrices" in text
    assert "A is symmetric: equal to its transpose." in text
    assert "not a gradient" in text


def test_symmetry_reaches_inside_the_tools_own_names() -> None:
    """logdet(X) by a symmetric X: X^{-T} (X^{-1} named by the tool) becomes X^{-1}."""
    d = derivtex.derive("L = logdet(X)", "X", {"X": "D x D symmetric"})
    assert "Transpose" in sympy.srepr(d.derivative.result)
    assert "Transpose" not in sympy.srepr(d.result)
    n = 4
    m = RNG.normal(size=(n, n))
    x = m @ m.T + n * np.eye(n)  # positive definite
    got = _evaluate(d, {"X": x})
    np.testing.assert_allclose(got, np.linalg.inv(x), rtol=1e-10)


def test_the_gaussian_log_likelihood_by_its_symmetric_precision() -> None:
    d = derivtex.derive(
        "L = 0.5 logdet(P) - 0.5 (x - m)' P (x - m)",
        "P",
        {"x": "D", "m": "D", "P": "D x D symmetric"},
    )
    n = 3
    r = RNG.normal(size=(n, n))
    values = {"x": RNG.normal(size=n), "m": RNG.normal(size=n), "P": r @ r.T + n * np.eye(n)}
    e = values["x"] - values["m"]
    want = 0.5 * np.linalg.inv(values["P"]) - 0.5 * np.outer(e, e)  # by hand
    np.testing.assert_allclose(_evaluate(d, values), want, rtol=1e-10)
