"""Textbook derivative identities: derivtex against hand-written numpy and finite differences."""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
import sympy
from checks import central_differences
from sympy import (
    Identity,
    KroneckerDelta,
    MatAdd,
    MatMul,
    MatrixSymbol,
    Transpose,
)

import derivtex
from derivtex.calculus.terms import Term

Values = Mapping[str, np.ndarray]
Fn = Callable[[Values], np.ndarray]


# -- helpers: sizes, values, finite differences ----------------------------------------------------
def numpy_shape(shape: str, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """How a declared shape is stored: "D" -> (D,), "1 x D" -> (1, D), "1" -> ()."""
    parts = [p for p in re.split(r"\s*x\s*", shape.strip()) if p]
    dims = tuple(int(p) if p.isdigit() else sizes[p] for p in parts)
    return () if dims == (1,) else dims


def symbolic_dims(shapes: Mapping[str, str]) -> list[str]:
    names = {p for s in shapes.values() for p in re.split(r"\s*x\s*", s.strip())}
    return sorted(p for p in names if p and not p.isdigit())


def random_values(
    shapes: Mapping[str, str], rng: np.random.Generator, positive: bool
) -> dict[str, np.ndarray]:
    """Values at sizes drawn from 2..6; uniform in [0.5, 1.5] where log or sqrt need it."""
    sizes = {name: int(rng.integers(2, 7)) for name in symbolic_dims(shapes)}
    values = {}
    for name, shape in shapes.items():
        size = numpy_shape(shape, sizes)
        values[name] = rng.uniform(0.5, 1.5, size) if positive else rng.normal(0.0, 1.0, size)
    return values


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * scale, err_msg=what)


# -- numpy building blocks ---------------------------------------------------------------------
def sig(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


def dsig(u: np.ndarray) -> np.ndarray:
    return sig(u) * (1.0 - sig(u))


def diag_of(f: Callable[[np.ndarray], np.ndarray], name: str) -> Fn:
    """The Jacobian of an elementwise function of a vector: diag(f(v))."""
    return lambda v: np.diag(f(v[name]))


def net_forward(v: Values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = v["W1"] @ v["x"] + v["b1"]
    h = sig(z)
    return z, h, v["W2"] @ h + v["b2"]


def net_loss_grad_z(v: Values) -> np.ndarray:
    """Backpropagation by hand: dL/dz for L = ||W2 sigmoid(z) + b2 - t||^2."""
    z, _, y = net_forward(v)
    return (v["W2"].T @ (2 * (y - v["t"]))) * dsig(z)


# -- the table -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """text, shapes, wrt; forward computes the output, expected its derivative, in numpy."""

    id: str
    text: str
    shapes: Mapping[str, str]
    wrt: str
    forward: Fn
    expected: Fn
    positive: bool = False


VEC = {"x": "D"}
WX = {"W": "C x D", "x": "D"}
WXT = {"W": "C x D", "x": "D", "t": "C"}
WXB = {"W": "C x D", "x": "D", "b": "C"}
XZ = {"x": "D", "z": "D"}
QUAD = {"A": "D x D", "x": "D"}
AT = {"A": "D x C", "x": "D"}
SX = {"s": "1", "x": "D"}
NET = {"W1": "H x D", "x": "D", "b1": "H", "W2": "C x H", "b2": "C", "t": "C"}
NET_Y = "h = sigmoid(W1 x + b1); y = W2 h + b2"
NET_L = NET_Y + "; L = norm(y - t)^2"
ROW = {"x": "1 x D", "W": "D x C"}
BATCH = {"X": "N x D", "W": "D x C"}

IDENTITIES = [
    Case("a^T x", "L = a^T x", {"a": "D", "x": "D"}, "x", lambda v: v["a"] @ v["x"],
             lambda v: v["a"]),
    Case("x^T A x", "L = x^T A x", QUAD, "x", lambda v: v["x"] @ v["A"] @ v["x"],
             lambda v: (v["A"] + v["A"].T) @ v["x"]),
    Case("x^T A x wrt A", "L = x^T A x", QUAD, "A", lambda v: v["x"] @ v["A"] @ v["x"],
             lambda v: np.outer(v["x"], v["x"])),
    Case("0.5 x^T A x", "L = 0.5 x^T A x", QUAD, "x",
             lambda v: 0.5 * v["x"] @ v["A"] @ v["x"],
             lambda v: 0.5 * (v["A"] + v["A"].T) @ v["x"]),
    Case("x^T x", "L = x^T x", VEC, "x", lambda v: v["x"] @ v["x"], lambda v: 2 * v["x"]),
    Case("a^T X b", "L = a^T X b", {"a": "C", "X": "C x D", "b": "D"}, "X",
             lambda v: v["a"] @ v["X"] @ v["b"], lambda v: np.outer(v["a"], v["b"])),
    Case("tr(A X B)", "L = tr(A X B)", {"A": "C x D", "X": "D x E", "B": "E x C"}, "X",
             lambda v: np.trace(v["A"] @ v["X"] @ v["B"]), lambda v: v["A"].T @ v["B"].T),
    Case("tr(X^T X)", "L = tr(X^T X)", {"X": "C x D"}, "X",
             lambda v: np.trace(v["X"].T @ v["X"]), lambda v: 2 * v["X"]),
    Case("tr(X^T A X)", "L = tr(X^T A X)", {"X": "D x C", "A": "D x D"}, "X",
             lambda v: np.trace(v["X"].T @ v["A"] @ v["X"]),
             lambda v: (v["A"] + v["A"].T) @ v["X"]),
    Case("norm(X)^2", "L = norm(X)^2", {"X": "C x D"}, "X", lambda v: np.sum(v["X"] ** 2),
             lambda v: 2 * v["X"]),
    # d (A X B)_{ij} / d X_{kl} = A_{ik} B_{lj}
    Case("A X B", "Y = A X B", {"A": "C x D", "X": "D x E", "B": "E x F"}, "X",
             lambda v: v["A"] @ v["X"] @ v["B"],
             lambda v: np.einsum("ik,lj->ijkl", v["A"], v["B"])),
    # d y_i / d B_{jk} = A_{ij} (C x)_k
    Case("A B C x wrt B", "y = A B C x",
             {"A": "P x Q", "B": "Q x R", "C": "R x S", "x": "S"}, "B",
             lambda v: v["A"] @ v["B"] @ v["C"] @ v["x"],
             lambda v: np.einsum("ij,k->ijk", v["A"], v["C"] @ v["x"])),
    Case("norm(Wx - t)^2 wrt W", "L = norm(W x - t)^2", WXT, "W",
             lambda v: np.sum((v["W"] @ v["x"] - v["t"]) ** 2),
             lambda v: 2 * np.outer(v["W"] @ v["x"] - v["t"], v["x"])),
    Case("norm(Wx - t)^2 wrt x", "L = norm(W x - t)^2", WXT, "x",
             lambda v: np.sum((v["W"] @ v["x"] - v["t"]) ** 2),
             lambda v: 2 * v["W"].T @ (v["W"] @ v["x"] - v["t"])),
    Case("norm(Wx - t) wrt W", "L = norm(W x - t)", WXT, "W",
             lambda v: np.linalg.norm(v["W"] @ v["x"] - v["t"]),
             lambda v: np.outer(v["W"] @ v["x"] - v["t"], v["x"])
             / np.linalg.norm(v["W"] @ v["x"] - v["t"])),
    Case("norm(x)", "L = norm(x)", VEC, "x", lambda v: np.linalg.norm(v["x"]),
             lambda v: v["x"] / np.linalg.norm(v["x"])),
    Case("sigmoid(Wx + b) wrt x", "y = sigmoid(W x + b)", WXB, "x",
             lambda v: sig(v["W"] @ v["x"] + v["b"]),
             lambda v: dsig(v["W"] @ v["x"] + v["b"])[:, None] * v["W"]),
    Case("sigmoid(Wx + b) wrt b", "y = sigmoid(W x + b)", WXB, "b",
             lambda v: sig(v["W"] @ v["x"] + v["b"]),
             lambda v: np.diag(dsig(v["W"] @ v["x"] + v["b"]))),
    # d tanh(z)_i / d W_{jk} = (1 - tanh(z_i)^2) delta_{ij} x_k
    Case("tanh(Wx) wrt W", "y = tanh(W x)", WX, "W", lambda v: np.tanh(v["W"] @ v["x"]),
             lambda v: np.einsum("ij,k->ijk", np.diag(1 - np.tanh(v["W"] @ v["x"]) ** 2),
                                 v["x"])),
    Case("sum(exp(Wx)) wrt W", "L = sum(exp(W x))", WX, "W",
             lambda v: np.sum(np.exp(v["W"] @ v["x"])),
             lambda v: np.outer(np.exp(v["W"] @ v["x"]), v["x"])),
    Case("exp(x)", "y = exp(x)", VEC, "x", lambda v: np.exp(v["x"]), diag_of(np.exp, "x")),
    Case("log(x)", "y = log(x)", VEC, "x", lambda v: np.log(v["x"]),
             diag_of(lambda u: 1 / u, "x"), positive=True),
    Case("log(a^T x)", "L = log(a^T x)", {"a": "D", "x": "D"}, "x",
             lambda v: np.log(v["a"] @ v["x"]), lambda v: v["a"] / (v["a"] @ v["x"]),
             positive=True),
    Case("sqrt(x)", "y = sqrt(x)", VEC, "x", lambda v: np.sqrt(v["x"]),
             diag_of(lambda u: 0.5 / np.sqrt(u), "x"), positive=True),
    Case("relu(Wx)", "y = relu(W x)", WX, "x", lambda v: np.maximum(v["W"] @ v["x"], 0),
             lambda v: (v["W"] @ v["x"] > 0)[:, None] * v["W"]),
    Case("softplus(x)", "y = softplus(x)", VEC, "x", lambda v: np.logaddexp(0, v["x"]),
             diag_of(sig, "x")),
    Case("sin(x)", "y = sin(x)", VEC, "x", lambda v: np.sin(v["x"]), diag_of(np.cos, "x")),
    Case("cos(x)", "y = cos(x)", VEC, "x", lambda v: np.cos(v["x"]),
             diag_of(lambda u: -np.sin(u), "x")),
    Case("x .* z", "y = x .* z", XZ, "x", lambda v: v["x"] * v["z"], diag_of(np.array, "z")),
    Case("hadamard(x, z)", "y = hadamard(x, z)", XZ, "z", lambda v: v["x"] * v["z"],
             diag_of(np.array, "x")),
    Case("sum(x)", "L = sum(x)", VEC, "x", lambda v: np.sum(v["x"]),
             lambda v: np.ones_like(v["x"])),
    Case("2 W x", "y = 2 W x", WX, "x", lambda v: 2 * v["W"] @ v["x"], lambda v: 2 * v["W"]),
    Case("-W x", "y = -W x", WX, "x", lambda v: -v["W"] @ v["x"], lambda v: -v["W"]),
    Case("A' x", "y = A' x", AT, "x", lambda v: v["A"].T @ v["x"], lambda v: v["A"].T),
    Case("A.T x", "y = A.T x", AT, "x", lambda v: v["A"].T @ v["x"], lambda v: v["A"].T),
    Case("A^T x", "y = A^T x", AT, "x", lambda v: v["A"].T @ v["x"], lambda v: v["A"].T),
    Case("W @ x", "y = W @ x", WX, "x", lambda v: v["W"] @ v["x"], lambda v: v["W"]),
    Case("W * x", "y = W * x", WX, "x", lambda v: v["W"] @ v["x"], lambda v: v["W"]),
    Case("W x (3 x D)", "y = W x", {"W": "3 x D", "x": "D"}, "x", lambda v: v["W"] @ v["x"],
             lambda v: v["W"]),
    Case("s x wrt s", "y = s x", SX, "s", lambda v: v["s"] * v["x"], lambda v: v["x"]),
    Case("s x wrt x", "y = s x", SX, "x", lambda v: v["s"] * v["x"],
             lambda v: v["s"] * np.eye(v["x"].size)),
    Case("s^2", "L = s^2", {"s": "1"}, "s", lambda v: v["s"] ** 2, lambda v: 2 * v["s"]),
    Case("tanh(s x) wrt s", "y = tanh(s x)", SX, "s", lambda v: np.tanh(v["s"] * v["x"]),
             lambda v: (1 - np.tanh(v["s"] * v["x"]) ** 2) * v["x"]),
    # d y_i / d W1_{jk} = W2_{ij} sigma'(z_j) x_k
    Case("net y wrt W1", NET_Y, NET, "W1", lambda v: net_forward(v)[2],
             lambda v: np.einsum("ij,j,k->ijk", v["W2"], dsig(net_forward(v)[0]), v["x"])),
    Case("net y wrt x", NET_Y, NET, "x", lambda v: net_forward(v)[2],
             lambda v: v["W2"] @ np.diag(dsig(net_forward(v)[0])) @ v["W1"]),
    Case("net loss wrt W1", NET_L, NET, "W1",
             lambda v: np.sum((net_forward(v)[2] - v["t"]) ** 2),
             lambda v: np.outer(net_loss_grad_z(v), v["x"])),
    Case("net loss wrt W2", NET_L, NET, "W2",
             lambda v: np.sum((net_forward(v)[2] - v["t"]) ** 2),
             lambda v: np.outer(2 * (net_forward(v)[2] - v["t"]), net_forward(v)[1])),
    Case("net loss wrt b1", NET_L, NET, "b1",
             lambda v: np.sum((net_forward(v)[2] - v["t"]) ** 2), net_loss_grad_z),
    # row vectors: y is 1 x C, stored (1, C); x is 1 x D, stored (1, D)
    Case("row x W wrt x", "y = x W", ROW, "x", lambda v: v["x"] @ v["W"],
             lambda v: v["W"].T[None, :, None, :]),
    Case("row x W wrt W", "y = x W", ROW, "W", lambda v: v["x"] @ v["W"],
             lambda v: np.einsum("d,ce->cde", v["x"][0], np.eye(v["W"].shape[1]))[None]),
    # batches: d Y_{nc} / d X_{md} = delta_{nm} W_{dc};  d Y_{nc} / d W_{de} = X_{nd} delta_{ce}
    Case("batch X W wrt X", "Y = X W", BATCH, "X", lambda v: v["X"] @ v["W"],
             lambda v: np.einsum("nm,dc->ncmd", np.eye(v["X"].shape[0]), v["W"])),
    Case("batch X W wrt W", "Y = X W", BATCH, "W", lambda v: v["X"] @ v["W"],
             lambda v: np.einsum("nd,ce->ncde", v["X"], np.eye(v["W"].shape[1]))),
]  # fmt: skip


@cache
def derivation(case_id: str) -> derivtex.Derivation:
    case = BY_ID[case_id]
    return derivtex.derive(case.text, wrt=case.wrt, shapes=dict(case.shapes))


BY_ID = {case.id: case for case in IDENTITIES}
CASES = [pytest.param(case, id=case.id) for case in IDENTITIES]


def test_the_table_is_large_enough() -> None:
    assert len(IDENTITIES) >= 30
    assert len(BY_ID) == len(IDENTITIES)


@pytest.mark.parametrize("case", CASES)
def test_evaluate_matches_textbook_and_finite_differences(case: Case) -> None:
    d = derivation(case.id)
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    for draw in range(3):
        values = random_values(case.shapes, rng, case.positive)
        got = d.evaluate(values)
        want = np.asarray(case.expected(values), dtype=float)
        fd = central_differences(case.forward, values, case.wrt)
        assert_close(fd, want, f"{case.id} draw {draw}: the textbook formula vs differences")
        assert_close(got, want, f"{case.id} draw {draw}: derivtex vs the textbook formula")
        assert_close(got, fd, f"{case.id} draw {draw}: derivtex vs finite differences")


@pytest.mark.parametrize("case", CASES)
def test_verify_passes(case: Case) -> None:
    report = derivation(case.id).verify()
    assert report.exact
    assert report.max_error <= report.tolerance


# -- matrix forms as sympy objects ---------------------------------------------------------------
def dim(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, positive=True, integer=True)


C, D, E, M, N = map(dim, "CDEMN")
A_dd = MatrixSymbol("A", D, D)
W_cd = MatrixSymbol("W", C, D)
x_d, t_c = MatrixSymbol("x", D, 1), MatrixSymbol("t", C, 1)

MATRIX_FORMS = [
    ("y = W x", WX, "x", W_cd),
    ("y = V W x", {"V": "N x M", "W": "M x D", "x": "D"}, "x",
     MatMul(MatrixSymbol("V", N, M), MatrixSymbol("W", M, D))),
    ("L = x^T A x", QUAD, "x", MatMul(MatAdd(A_dd, Transpose(A_dd)), x_d)),
    ("L = a^T X b", {"a": "C", "X": "C x D", "b": "D"}, "X",
     MatMul(MatrixSymbol("a", C, 1), Transpose(MatrixSymbol("b", D, 1)))),
    ("L = norm(W x - t)^2", WXT, "W", MatMul(2, MatAdd(W_cd * x_d, -t_c), x_d.T)),
    ("L = norm(W x - t)^2", WXT, "x", MatMul(2, W_cd.T, MatAdd(W_cd * x_d, -t_c))),
    ("L = tr(A X B)", {"A": "C x D", "X": "D x E", "B": "E x C"}, "X",
     MatrixSymbol("A", C, D).T * MatrixSymbol("B", E, C).T),
    ("L = tr(X^T X)", {"X": "C x D"}, "X", 2 * MatrixSymbol("X", C, D)),
    ("y = s x", SX, "x", sympy.Symbol("s") * Identity(D)),
    ("y = x .* z", XZ, "x", sympy.DiagMatrix(MatrixSymbol("z", D, 1))),
    ("y = 2 W x", WX, "x", 2 * W_cd),
    ("y = A^T x", AT, "x", MatrixSymbol("A", D, C).T),
]  # fmt: skip


def explicit(expr: sympy.Basic, sizes: Mapping[sympy.Symbol, int]) -> sympy.Matrix:
    return sympy.Matrix(expr.subs(sizes).as_explicit())


@pytest.mark.parametrize(
    ("text", "shapes", "wrt", "want"),
    [pytest.param(*case, id=f"{case[0]} wrt {case[2]}") for case in MATRIX_FORMS],
)
def test_matrix_form(text: str, shapes: dict, wrt: str, want: sympy.MatrixExpr) -> None:
    got = derivtex.derive(text, wrt=wrt, shapes=shapes).result
    assert isinstance(got, sympy.MatrixExpr)
    assert got.shape == want.shape
    if got == want or got.doit() == want.doit():
        return
    sizes = {C: 2, D: 3, E: 2, M: 3, N: 2}
    difference = explicit(got, sizes) - explicit(want, sizes)
    assert difference.applyfunc(sympy.simplify) == sympy.zeros(*difference.shape)


def test_denominator_layout_of_a_row_vector_is_w() -> None:
    d = derivtex.derive("y = x W", wrt="x", shapes=ROW, layout="denominator")
    assert d.result == MatrixSymbol("W", D, C)


# -- verification catches a wrong result ----------------------------------------------------------
W_, i, j = sympy.IndexedBase("W"), sympy.Symbol("i", integer=True), sympy.Symbol("j", integer=True)


def tampered(d: derivtex.Derivation, *terms: Term, matrix: sympy.Basic | None = None):
    index = dataclasses.replace(d.index, terms=terms)
    return dataclasses.replace(
        d.derivative, index=index, matrix=d.matrix if matrix is None else matrix
    )


@pytest.mark.parametrize(
    ("make_terms", "matrix"),
    [
        (lambda: (Term(2 * W_[i, j]),), None),  # wrong factor
        (lambda: (Term(W_[j, i]),), None),  # transposed: a square W, so shapes still fit
        (lambda: (Term(W_[i, j]), Term(KroneckerDelta(i, j))), None),  # an extra term
        (lambda: (Term(W_[i, j]),), 2 * MatrixSymbol("W", D, D)),  # right index form, wrong matrix
    ],
    ids=["factor", "transposed", "extra-term", "matrix-form"],
)
def test_verify_raises_on_a_wrong_result(make_terms, matrix) -> None:
    d = derivtex.derive("y = W x", wrt="x", shapes={"W": "D x D", "x": "D"})
    assert d.index.terms == (Term(W_[i, j]),)
    bad = tampered(d, *make_terms(), matrix=matrix)
    with pytest.raises(derivtex.VerificationError) as err:
        bad.verify()
    assert isinstance(err.value, derivtex.DerivtexError)
    assert "hint:" in str(err.value)


def test_verify_raises_on_a_scaled_elementwise_derivative() -> None:
    d = derivtex.derive("y = tanh(W x)", wrt="x", shapes=WX)
    bad = tampered(d, *(Term(2 * t.factor, t.sums) for t in d.index.terms))
    with pytest.raises(derivtex.VerificationError):
        bad.verify()


# -- regressions: bugs these tests found, now fixed ------------------------------------------
def test_regression_factor_right_product_of_two_norms() -> None:
    # two terms c/n x and n/c x: heads c/n, n/c
    d = derivtex.derive("L = norm(x) norm(x)", wrt="x", shapes=VEC)
    values = {"x": np.array([1.0, -2.0, 0.5])}
    assert_close(d.evaluate(values), 2 * values["x"], "d ||x||^2 / dx")


def test_regression_factor_right_two_sums() -> None:
    # two terms sum(x) 1 and -1: heads Scalar(x^T 1) and -1
    d = derivtex.derive("L = sum(x y^T) - sum(y)", wrt="y", shapes=XZ | {"y": "D"})
    values = {"x": np.array([1.0, -2.0, 0.5]), "y": np.array([0.3, 0.1, -0.7]), "z": np.ones(3)}
    assert_close(d.evaluate(values), np.full(3, values["x"].sum() - 1), "d L / dy")


@pytest.mark.parametrize("text", ["L = sin(a^T x)", "L = tanh(x^T x)", "L = exp(x^T A x)"])
def test_regression_scalar_function_of_a_product(text: str) -> None:
    d = derivtex.derive(text, wrt="x", shapes={"a": "D", "x": "D", "A": "D x D"})
    assert d.matrix is not None  # the matrix form exists, e.g. cos(z) a
    assert isinstance(d.result, sympy.MatrixExpr)  # and putting z = a^T x back works
    d.verify()


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_regression_verify_log_inside_sum() -> None:
    derivtex.derive("L = sum(log(x))", wrt="x", shapes=VEC).verify()


def test_regression_verify_fractional_power() -> None:
    derivtex.derive("L = s^0.5", wrt="s", shapes={"s": "1"}).verify()


# -- textbook forms: the printed result, written by hand from the Cookbook / matrixcalculus.org ---
@dataclass(frozen=True)
class Form:
    """text, shapes, wrt; forward in numpy; latex the printed result as a textbook writes it."""

    id: str
    text: str
    shapes: Mapping[str, str]
    wrt: str
    forward: Fn
    latex: str
    positive: bool = False


DIAG = r"\operatorname{diag}"
TEXTBOOK_FORMS = [
    # sigma'/sigma folded: d log sigma(u) = (1 - sigma(u)) du
    Form("log sigmoid(W x)", "y = log(sigmoid(W x))", WX, "x",
         lambda v: np.log(sig(v["W"] @ v["x"])),
         DIAG + r"\left(1 - \sigma\left(W \vec{x}\right)\right) W"),
    Form("sum log sigmoid(x)", "L = sum(log(sigmoid(x)))", VEC, "x",
         lambda v: np.sum(np.log(sig(v["x"]))), r"1 - \sigma\left(\vec{x}\right)"),
    # powers folded: sqrt(e^x)' = e^x / (2 sqrt(e^x)) = e^{x/2} / 2
    Form("sqrt(exp(x))", "y = sqrt(exp(x))", VEC, "x", lambda v: np.sqrt(np.exp(v["x"])),
         r"\frac{1}{2} " + DIAG + r"\left(e^{\frac{\vec{x}}{2}}\right)"),
    Form("sum sqrt(exp(x))", "L = sum(sqrt(exp(x)))", VEC, "x",
         lambda v: np.sum(np.sqrt(np.exp(v["x"]))), r"\frac{1}{2} e^{\frac{\vec{x}}{2}}"),
    # delta_ij (A x)_i as diag(A x); the product rule's order: d x first, then d (A x)
    Form("x .* (A x)", "y = x .* (A x)", QUAD, "x", lambda v: v["x"] * (v["A"] @ v["x"]),
         DIAG + r"\left(A \vec{x}\right) + " + DIAG + r"\left(\vec{x}\right) A"),
    # Cookbook (49) with det(X^{-1}) = 1/det(X)
    Form("det(inv(X))", "L = det(inv(X))", {"X": "D x D"}, "X",
         lambda v: 1 / np.linalg.det(v["X"]), r"- \frac{1}{\det\left(X\right)} X^{-\top}"),
    # like terms: A x + A^T x twice over, one shared coefficient
    Form("x^T A x + x^T A^T x", "L = x^T A x + x^T A^T x", QUAD, "x",
         lambda v: 2 * v["x"] @ v["A"] @ v["x"], r"2 \left(A + A^{\top}\right) \vec{x}"),
    # diag(cos^2 x) - diag(sin^2 x) as one diagonal: cos^2 - sin^2 = cos 2x
    Form("sin .* cos", "y = sin(x) .* cos(x)", VEC, "x", lambda v: np.sin(v["x"]) * np.cos(v["x"]),
         DIAG + r"\left(\cos{\left(2 \vec{x} \right)}\right)"),
    # diag(f) + diag(h) as diag(f + h), in the user's order
    Form("tanh(x) .* x", "h = tanh(x); y = h .* x", VEC, "x", lambda v: np.tanh(v["x"]) * v["x"],
         DIAG + r"\left(\left(1 - \tanh^{2}{\left(\vec{x} \right)}\right) \odot \vec{x}"
         r" + \vec{h}\right)"),
    # common factors: A x + B x = (A + B) x; diag(g) A + diag(g) A^T = diag(g) (A + A^T)
    Form("norm(A x + B x - t)^2", "L = norm(A x + B x - t)^2",
         {"A": "D x D", "B": "D x D", "x": "D", "t": "D"}, "x",
         lambda v: np.sum((v["A"] @ v["x"] + v["B"] @ v["x"] - v["t"]) ** 2),
         r"2 \left(A^{\top} + B^{\top}\right) \left(\left(A + B\right) \vec{x} - \vec{t}\right)"),
    Form("tanh(A x + A^T x)", "y = tanh(A x + A^T x)", QUAD, "x",
         lambda v: np.tanh((v["A"] + v["A"].T) @ v["x"]),
         DIAG + r"\left(1 - \tanh^{2}{\left(\left(A + A^{\top}\right) \vec{x} \right)}\right)"
         r" \left(A + A^{\top}\right)"),
    Form("sigmoid ./ sigmoid", "y = sigmoid(x) ./ sigmoid(x)", VEC, "x",
         lambda v: sig(v["x"]) / sig(v["x"]), "0"),
    # a row vector's gradient as a row: (1 - tanh^2(x W)) W^T, no transposed product
    Form("row sum tanh(x W)", "L = sum(tanh(x W))", ROW, "x",
         lambda v: np.sum(np.tanh(v["x"] @ v["W"])),
         r"\left(1 - \tanh^{2}{\left(\vec{x} W \right)}\right) W^{\top}"),
    Form("negative term", "L = sum(z) - t^T z", {"t": "C", "z": "C"}, "z",
         lambda v: np.sum(v["z"]) - v["t"] @ v["z"], r"\vec{1} - \vec{t}"),
    Form("softmax", "y = softmax(z)", {"z": "C"}, "z",
         lambda v: np.exp(v["z"]) / np.sum(np.exp(v["z"])),
         DIAG + r"\left(\vec{y}\right) - \vec{y} \vec{y}^{\top}"),
    # softmax written out: the user's name p = e^z / s put back, as the quotient rule gives it
    Form("explicit softmax", "p = exp(z) / sum(exp(z))", {"z": "C"}, "z",
         lambda v: np.exp(v["z"]) / np.sum(np.exp(v["z"])),
         DIAG + r"\left(\vec{p}\right) - \vec{p} \vec{p}^{\top}"),
    Form("explicit softmax of W x", "p = exp(W x) / sum(exp(W x))", {"W": "C x D", "x": "D"},
         "x", lambda v: np.exp(v["W"] @ v["x"]) / np.sum(np.exp(v["W"] @ v["x"])),
         r"\left(" + DIAG + r"\left(\vec{p}\right) - \vec{p} \vec{p}^{\top}\right) W"),
    # the gradient of logsumexp is softmax, though the user named the logsumexp L
    Form("logsumexp(z)", "L = logsumexp(z)", {"z": "C"}, "z",
         lambda v: np.log(np.sum(np.exp(v["z"]))), r"\operatorname{softmax}\left(\vec{z}\right)"),
    Form("logsumexp(W x)", "L = logsumexp(W x)", {"W": "C x D", "x": "D"}, "x",
         lambda v: np.log(np.sum(np.exp(v["W"] @ v["x"]))),
         r"W^{\top} \operatorname{softmax}\left(W \vec{x}\right)"),
    # normalizing a vector: a scalar every term carries is taken out once
    Form("x / norm(x)", "y = x / norm(x)", VEC, "x",
         lambda v: v["x"] / np.linalg.norm(v["x"]),
         r"\frac{1}{\left\|\vec{x}\right\|} \left(\mathbf{I} - \vec{y} \vec{y}^{\top}\right)"),
    # The Matrix Cookbook's printed forms (equation numbers of the 2012 edition); a scalar's
    # gradient is shaped like its variable, as the Cookbook writes it
    Form("(69) a^T x", "L = a^T x", {"a": "D", "x": "D"}, "x", lambda v: v["a"] @ v["x"],
         r"\vec{a}"),
    Form("(81) x^T B x", "L = x^T B x", {"B": "D x D", "x": "D"}, "x",
         lambda v: v["x"] @ v["B"] @ v["x"], r"\left(B + B^{\top}\right) \vec{x}"),
    Form("(70) a^T X b", "L = a^T X b", {"a": "C", "X": "C x D", "b": "D"}, "X",
         lambda v: v["a"] @ v["X"] @ v["b"], r"\vec{a} \vec{b}^{\top}"),
    Form("(84) x^T x", "L = x^T x", VEC, "x", lambda v: v["x"] @ v["x"], r"2 \vec{x}"),
    Form("(103) tr(X^T X)", "L = tr(X^T X)", {"X": "C x D"}, "X",
         lambda v: np.trace(v["X"].T @ v["X"]), r"2 X"),
    Form("(102) tr(A X B)", "L = tr(A X B)", {"A": "C x D", "X": "D x E", "B": "E x C"}, "X",
         lambda v: np.trace(v["A"] @ v["X"] @ v["B"]), r"A^{\top} B^{\top}"),
    Form("(117) tr(X^T B X)", "L = tr(X^T B X)", {"X": "D x C", "B": "D x D"}, "X",
         lambda v: np.trace(v["X"].T @ v["B"] @ v["X"]), r"\left(B + B^{\top}\right) X"),
    Form("(121) norm(X)^2", "L = norm(X)^2", {"X": "C x D"}, "X",
         lambda v: np.sum(v["X"] ** 2), r"2 X"),
    Form("(57) logdet(X)", "L = logdet(X)", {"X": "D x D"}, "X",
         lambda v: np.log(np.linalg.det(v["X"])), r"X^{-\top}"),
    Form("(49) det(X)", "L = det(X)", {"X": "D x D"}, "X",
         lambda v: np.linalg.det(v["X"]), r"\det\left(X\right) X^{-\top}"),
    # least squares, as Deisenroth et al. (5.4) and matrixcalculus.org print it
    Form("norm(W x - t)^2 by x", "L = norm(W x - t)^2", {"W": "C x D", "x": "D", "t": "C"}, "x",
         lambda v: np.sum((v["W"] @ v["x"] - v["t"]) ** 2),
         r"2 W^{\top} \left(W \vec{x} - \vec{t}\right)"),
    Form("norm(W x - t)^2 by W", "L = norm(W x - t)^2", {"W": "C x D", "x": "D", "t": "C"}, "W",
         lambda v: np.sum((v["W"] @ v["x"] - v["t"]) ** 2),
         r"2 \left(W \vec{x} - \vec{t}\right) \vec{x}^{\top}"),
    # the gradient of logsumexp is softmax: cross-entropy on logits gives softmax(z) - t
    Form("cross-entropy on logits", "L = -t^T z + logsumexp(z)", {"t": "C", "z": "C"}, "z",
         lambda v: -v["t"] @ v["z"] + np.log(np.sum(np.exp(v["z"]))),
         r"\operatorname{softmax}\left(\vec{z}\right) - \vec{t}"),
    # like terms: three 2 (x - a_k) as one 2 (3 x - a - b - c), in the user's order
    Form("sum of three norms", "L = norm(x - a)^2 + norm(x - b)^2 + norm(x - c)^2",
         {"x": "D", "a": "D", "b": "D", "c": "D"}, "x",
         lambda v: sum(np.sum((v["x"] - v[k]) ** 2) for k in "abc"),
         r"2 \left(3 \vec{x} - \vec{a} - \vec{b} - \vec{c}\right)"),
    # Hadamard factors commute: -2 cos ⊙ sin - 2 sin ⊙ cos as -4 diag(cos ⊙ sin), one number
    Form("cos^2 - sin^2", "y = cos(x).^2 - sin(x).^2", VEC, "x",
         lambda v: np.cos(v["x"]) ** 2 - np.sin(v["x"]) ** 2,
         r"- 4 " + DIAG + r"\left(\cos{\left(\vec{x} \right)} \odot"
         r" \sin{\left(\vec{x} \right)}\right)"),
    # a shared Hadamard factor: s' - t^2 ⊙ s' as (1 - t^2) ⊙ s'; (tanh u)^2 prints as tanh^2 u
    Form("(1 - tanh^2) .* sigmoid", "y = (1 - tanh(A x).^2) .* sigmoid(B x)",
         {"x": "D", "A": "D x D", "B": "D x D"}, "x",
         lambda v: (1 - np.tanh(v["A"] @ v["x"]) ** 2) * sig(v["B"] @ v["x"]),
         DIAG + r"\left(\left(1 - \tanh^{2}{\left(A \vec{x} \right)}\right) \odot"
         r" \sigma'\left(B \vec{x}\right)\right) B - 2 " + DIAG
         + r"\left(\left(1 - \tanh^{2}{\left(A \vec{x} \right)}\right) \odot"
         r" \tanh{\left(A \vec{x} \right)} \odot \sigma\left(B \vec{x}\right)\right) A"),
]  # fmt: skip
FORMS = [pytest.param(form, id=form.id) for form in TEXTBOOK_FORMS]


def test_the_printed_forms_are_at_least_thirty() -> None:
    assert len(TEXTBOOK_FORMS) >= 30
    assert len({form.id for form in TEXTBOOK_FORMS}) == len(TEXTBOOK_FORMS)


@pytest.mark.parametrize("form", FORMS)
def test_textbook_form_prints(form: Form) -> None:
    from derivtex.rendering.printer import notation, to_latex

    d = derivtex.derive(form.text, wrt=form.wrt, shapes=dict(form.shapes))
    assert to_latex(d.result, notation(d.graph)) == form.latex


@pytest.mark.parametrize("form", FORMS)
def test_textbook_form_matches_finite_differences(form: Form) -> None:
    """The printed matrix expression itself, evaluated, against differences of the forward pass."""
    from derivtex.calculus import numeric as N

    d = derivtex.derive(form.text, wrt=form.wrt, shapes=dict(form.shapes))
    rng = np.random.default_rng(zlib.crc32(form.id.encode()))
    for draw in range(3):
        values = random_values(form.shapes, rng, form.positive)
        if "X" in values and form.shapes["X"] == "D x D":  # well away from singular
            values["X"] = values["X"] + 3 * np.eye(len(values["X"]))
        arrays, dims = N.bind(d.graph, values)
        env = N.eval_graph(d.graph, arrays)
        fd = central_differences(form.forward, values, form.wrt)
        got = np.asarray(N.eval_matrix(d.result, env, dims), dtype=float)
        got = np.broadcast_to(got, fd.shape) if got.size == 1 else got.reshape(fd.shape)
        assert_close(got, fd, f"{form.id} draw {draw}: the printed form vs finite differences")


# -- the rules one by one, on matrix expressions ---------------------------------------------------
def _rule_cases() -> list:
    from sympy.matrices.expressions.diagonal import DiagMatrix

    a, b = MatrixSymbol("a", 3, 1), MatrixSymbol("b", 3, 1)
    X, B = MatrixSymbol("X", 3, 3), MatrixSymbol("B", 3, 3)
    return [
        (DiagMatrix(a) * DiagMatrix(b), DiagMatrix(sympy.HadamardProduct(a, b))),
        (Transpose(DiagMatrix(a)), DiagMatrix(a)),
        (Transpose(Identity(3)) * B, Identity(3) * B),
        (sympy.Determinant(sympy.Inverse(X)), 1 / sympy.Determinant(X)),
        (MatMul(B, sympy.Inverse(X), X), B),
        (MatMul(B, Transpose(sympy.Inverse(X)), Transpose(X)), B),
        (MatAdd(MatMul(2, X), MatMul(2, B)), MatMul(2, MatAdd(X, B))),
        (MatAdd(DiagMatrix(a), MatMul(-1, DiagMatrix(b))), DiagMatrix(MatAdd(a, MatMul(-1, b)))),
        (MatAdd(MatAdd(a, -b), MatAdd(a, -b), a), MatAdd(MatMul(3, a), MatMul(-2, b))),
        (MatAdd(sympy.HadamardProduct(a, b), sympy.HadamardProduct(b, a)),
         MatMul(2, sympy.HadamardProduct(a, b))),
        (MatMul(-2, MatMul(3, X)), MatMul(-6, X)),
        (DiagMatrix(MatMul(3, a)), MatMul(3, DiagMatrix(a))),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(12))
def test_simplify_rule(case: int) -> None:
    from derivtex.calculus.simplify import simplify

    before, want = _rule_cases()[case]
    got = simplify(before)
    assert got == want
    rng = np.random.default_rng(case)
    values = {s: sympy.Matrix(rng.normal(size=s.shape)) + (3 * sympy.eye(3) if s.shape == (3, 3)
              else sympy.zeros(*s.shape)) for s in before.atoms(MatrixSymbol)}  # fmt: skip
    as_value = lambda e: sympy.N(e.xreplace(values).doit())  # noqa: E731
    difference = sympy.Matrix(as_value(before)) - sympy.Matrix(as_value(got)) if isinstance(
        before, sympy.MatrixExpr) else as_value(before) - as_value(got)  # fmt: skip
    assert np.allclose(np.array(difference, dtype=float), 0)
