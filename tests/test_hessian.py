"""Hessians (order=2): expected values from numpy by hand, finite differences, sympy's diff."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import derivtex
from derivtex.api import write_handout
from derivtex.calculus import terms as T
from derivtex.calculus.engine import IndexDerivative
from derivtex.calculus.second import Hessian
from derivtex.cli import main
from derivtex.errors import InputError, SpecError, UnsupportedError, VerificationError
from derivtex.project.spec import parse_spec
from derivtex.tex.runner import tex_available

needs_tex = pytest.mark.skipif(not tex_available(), reason="no TeX engine (latexmk/pdflatex)")
LS = {"X": "N x D", "w": "D", "y": "N"}
LOGREG = {"X": "N x D", "w": "D", "t": "N"}
QUAD = {"A": "D x D", "x": "D"}
RESIDUAL = {"W": "C x D", "x": "D", "t": "C"}


def sigmoid(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


def fd_jacobian(grad, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of a numpy gradient: shape x.shape + x.shape."""
    out = np.zeros(x.shape + x.shape)
    for pos in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[pos] = h
        out[(...,) + pos] = (grad(x + step) - grad(x - step)) / (2 * h)
    return np.moveaxis(out.reshape(x.shape + (x.size,)), -1, 0).reshape(x.shape + x.shape)


def rng_values(seed: int, **shapes: tuple[int, ...]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


# -- the matrix forms, against numpy written by hand ---
@pytest.mark.parametrize(("n", "seed"), [(2, 0), (4, 1), (5, 2)])
def test_quadratic_form_is_a_plus_a_transpose(n: int, seed: int) -> None:
    d = derivtex.derive("L = x^T A x", "x", QUAD, order=2)
    assert str(d.result) == "A + A.T"
    v = rng_values(seed, A=(n, n), x=(n,))
    assert np.allclose(d.evaluate(v), v["A"] + v["A"].T)


@pytest.mark.parametrize(("c", "n", "seed"), [(3, 2, 0), (2, 5, 3)])
def test_least_squares_by_x_is_two_w_transpose_w(c: int, n: int, seed: int) -> None:
    d = derivtex.derive("L = norm(W x - t)^2", "x", RESIDUAL, order=2)
    assert str(d.result) == "2*W.T*W"
    v = rng_values(seed, W=(c, n), x=(n,), t=(c,))
    assert np.allclose(d.evaluate(v), 2 * v["W"].T @ v["W"])


def test_logsumexp_is_diag_p_minus_p_p_transpose() -> None:
    d = derivtex.derive("L = logsumexp(x)", "x", {"x": "D"}, order=2)
    assert d.has_matrix_form
    x = np.random.default_rng(5).normal(size=4)
    p = np.exp(x) / np.exp(x).sum()
    want = np.diag(p) - np.outer(p, p)
    assert np.allclose(d.evaluate({"x": x}), want)
    arrays = {"x": x.reshape(-1, 1)}
    from derivtex.calculus import numeric as N

    env = N.eval_graph(d.graph, arrays)
    (dim,) = {s for _, shape in d.graph.inputs for s in shape.free_dims}
    assert np.allclose(N.eval_matrix(d.matrix, env, {dim: 4}), want)


@pytest.mark.parametrize(("text", "shapes"), [
    ("L = sum(softplus(-t .* (X w)))", LOGREG),
    ("L = sum(log(1 + exp(-t .* (X w))))", LOGREG),
])  # fmt: skip
def test_logistic_regression_against_finite_differences_of_a_numpy_gradient(text, shapes) -> None:
    d = derivtex.derive(text, "w", shapes, order=2)
    assert d.has_matrix_form and "DiagMatrix" in sympy.srepr(d.matrix)
    v = rng_values(7, X=(6, 3), w=(3,), t=(6,))
    X, t = v["X"], v["t"]

    def grad(w: np.ndarray) -> np.ndarray:  # d/dw sum softplus(-t * Xw)
        return -X.T @ (t * sigmoid(-t * (X @ w)))

    s = sigmoid(-t * (X @ v["w"]))
    by_hand = X.T @ np.diag(t**2 * s * (1 - s)) @ X
    assert np.allclose(fd_jacobian(grad, v["w"]), by_hand, atol=1e-6)
    assert np.allclose(d.evaluate(v), by_hand)


def test_hessian_by_a_matrix_is_a_four_index_array() -> None:
    d = derivtex.derive("L = norm(W x - t)^2", "W", RESIDUAL, order=2)
    assert not d.has_matrix_form and len(d.index.out_idx + d.index.wrt_idx) == 4
    v = rng_values(3, W=(3, 4), x=(4,), t=(3,))

    def grad(W: np.ndarray) -> np.ndarray:
        return 2 * np.outer(W @ v["x"] - v["t"], v["x"])

    got = d.evaluate(v)
    assert got.shape == (3, 4, 3, 4)
    assert np.allclose(got, fd_jacobian(grad, v["W"]), atol=1e-6)
    assert np.allclose(got, got.transpose(2, 3, 0, 1))  # symmetric


def test_sympy_diff_twice_on_explicit_matrices() -> None:
    """The whole Hessian at D=3 against sympy.hessian of the expanded scalar."""
    text, shapes = "L = sum(sigmoid(X w)) + w^T A w", {"X": "N x D", "w": "D", "A": "D x D"}
    d = derivtex.derive(text, "w", shapes, order=2)
    n, rows = 3, 2
    Xs, As = sympy.Matrix(rows, n, sympy.symbols("X:6")), sympy.Matrix(n, n, sympy.symbols("A:9"))
    ws = sympy.Matrix(sympy.symbols("w:3"))
    z = Xs * ws
    L = sum(1 / (1 + sympy.exp(-z[k])) for k in range(rows)) + (ws.T * As * ws)[0]
    H = sympy.hessian(L, list(ws))
    v = rng_values(11, X=(rows, n), w=(n,), A=(n, n))
    subs = dict(zip(Xs, v["X"].reshape(-1), strict=True))
    subs |= dict(zip(As, v["A"].reshape(-1), strict=True))
    subs |= dict(zip(ws, v["w"], strict=True))
    want = np.array(H.subs(subs).evalf(), dtype=float)
    assert np.allclose(d.evaluate(v), want)


def test_order_one_is_unchanged() -> None:
    a = derivtex.derive("L = x^T A x", "x", QUAD)
    b = derivtex.derive("L = x^T A x", "x", QUAD, order=1)
    assert a.order == b.order == 1 and a.result == b.result and a.hessian is None


def test_steps_the_gradient_then_the_second_partial_then_the_assembly() -> None:
    d = derivtex.derive("L = norm(X w - y)^2", "w", LS, order=2)
    kinds = [s.kind for s in d.steps]
    assert kinds[-3:] == ["second_partial", "hessian_assembly", "summary"]
    assert "chain_rule" in kinds and kinds.count("summary") == 1
    second = next(s for s in d.steps if s.kind == "second_partial")
    assert second.symmetric and second.links  # d r_k / d w_3 = X_{k,3}, from the gradient
    (k, _, size) = second.result.limits[0]
    X = sympy.IndexedBase("X")
    assert second.result == sympy.Sum(2 * X[k, 3] * X[k, 7], (k, 1, size))
    assembly = next(s for s in d.steps if s.kind == "hessian_assembly")
    assert assembly.symmetric and assembly.result == d.result
    assert d.report is not None and d.report.max_error < 1e-6


def test_a_wrong_hessian_fails_verification() -> None:
    d = derivtex.derive("L = x^T A x", "x", QUAD, order=2)
    h = d.hessian
    assert h is not None
    half = IndexDerivative(
        T.Terms(h.index.terms[:1]), h.index.out_idx, h.index.wrt_idx, h.index.out_dims,
        h.index.wrt_dims,
    )  # fmt: skip
    with pytest.raises(VerificationError):
        Hessian(h.gradient, half, None, None).verify()


# -- misuse ---
def test_a_vector_output_has_no_hessian() -> None:
    with pytest.raises(InputError, match="scalar output") as info:
        derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, order=2)
    assert info.value.exit_code == 2 and "Hessians are of scalar outputs" in str(info.value)


@pytest.mark.parametrize("order", [0, 3, -1, True, 1.5, "2"])
def test_only_orders_one_and_two(order: object) -> None:
    with pytest.raises(InputError, match="order must be 1 or 2"):
        derivtex.derive("L = x^T A x", "x", QUAD, order=order)  # type: ignore[arg-type]


def test_mixed_second_derivatives_are_unsupported() -> None:
    with pytest.raises(UnsupportedError, match="mixed second derivatives") as info:
        derivtex.derive("L = norm(W x - t)^2", ("x", "W"), RESIDUAL, order=2)  # type: ignore
    assert info.value.exit_code == 2


# -- the CLI and specs ---
def test_cli_plan_order_2() -> None:
    args = ["plan", "L = x^T A x", "--wrt", "x", "-s", "A=D x D", "-s", "x=D", "--order", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "[second_partial]" in result.output and "[hessian_assembly]" in result.output


@pytest.mark.parametrize(("text", "order", "message"), [
    ("y = W x", "2", "Hessians are of scalar outputs"),
    ("L = norm(W x)^2", "3", "order must be 1 or 2"),
])  # fmt: skip
def test_cli_bad_order_exits_2(text: str, order: str, message: str) -> None:
    args = ["derive", text, "--wrt", "x", "-s", "W=C x D", "-s", "x=D", "--order", order]
    result = CliRunner().invoke(main, [*args, "--tex-only"])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


SPEC = """
title = "Hessians"
[defaults]
order = 2
[[derivation]]
name = "ls"
given = "L = norm(X w - y)^2"
shapes = { X = "N x D", w = "D", y = "N" }
wrt = "w"
[[derivation]]
name = "first"
given = "y = W x"
shapes = { W = "C x D", x = "D" }
wrt = "x"
order = 1
"""


def test_spec_order_in_defaults_and_per_derivation() -> None:
    spec = parse_spec(SPEC)
    assert [d.order for d in spec.derivations] == [2, 1]


@pytest.mark.parametrize("value", ["3", '"2"', "true"])
def test_spec_bad_order(value: str) -> None:
    with pytest.raises(SpecError, match="order") as info:
        parse_spec(SPEC.replace("order = 1", f"order = {value}"))
    assert info.value.exit_code == 2


# -- the handout ---
@needs_tex
def test_hessian_handout_compiles(tmp_path: Path) -> None:
    d = derivtex.derive("L = norm(X w - y)^2", "w", LS, order=2)
    paths = write_handout(d, tmp_path, name="hessian")
    pdf = next(p for p in paths if p.suffix == ".pdf")
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True)
    text = " ".join(out.stdout.decode().split())
    for words in ("The Hessian of L by w", "Second partial", "Hessian assembly", "symmetric"):
        assert words in text, words
    assert "Verified" in text


# -- a property: random sizes, the sum of two known Hessians ---
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 5), st.integers(1, 4), st.integers(0, 2**16))
def test_sum_of_quadratics_matches_numpy(n: int, c: int, seed: int) -> None:
    text = "L = norm(W x - t)^2 + x^T A x"
    d = derivtex.derive(text, "x", {**RESIDUAL, "A": "D x D"}, order=2, steps=False)
    v = rng_values(seed, W=(c, n), x=(n,), t=(c,), A=(n, n))
    want = 2 * v["W"].T @ v["W"] + v["A"] + v["A"].T
    assert np.allclose(d.evaluate(v), want)
