"""The printer writes the reference's typography: a table of (expression, notation, LaTeX)."""

from __future__ import annotations

import pytest
import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus.mexpr import Norm, Scalar
from derivtex.language.functions import relu, sigmoid, sigmoid_prime
from derivtex.rendering.printer import Notation, name_latex, to_latex

i, j, k, k2 = (sympy.Symbol(n, integer=True) for n in ("i", "j", "k", "k_2"))
C, D, M = (sympy.Symbol(n, positive=True, integer=True) for n in "CDM")
y, x, m, z, W, V, F = (sympy.IndexedBase(n) for n in "yxmzWVF")
h1, W1, x_hat, x_in = (sympy.IndexedBase(n) for n in ("h1", "W1", "x_hat", "x_in"))
L, alpha = sympy.Symbol("L"), sympy.Symbol("alpha")
vec_x, vec_z = sympy.MatrixSymbol("x", D, 1), sympy.MatrixSymbol("z", C, 1)
mat_W, mat_V = sympy.MatrixSymbol("W", C, D), sympy.MatrixSymbol("V", C, C)
u = sympy.Dummy("u")

KINDS = (
    ("y", "vector"),
    ("x", "vector"),
    ("m", "vector"),
    ("z", "vector"),
    ("h1", "vector"),
    ("x_hat", "vector"),
    ("x_in", "vector"),
    ("W", "matrix"),
    ("V", "matrix"),
    ("W1", "matrix"),
    ("L", "scalar"),
    ("alpha", "scalar"),
)
ARROW = Notation(KINDS)
BOLD = Notation(KINDS, vectors="bold")


def partial(expr: sympy.Basic, *wrt: sympy.Basic) -> sympy.Derivative:
    return sympy.Derivative(expr, *wrt, evaluate=False)


def elementwise(body: sympy.Expr, arg: sympy.MatrixExpr) -> ElementwiseApplyFunction:
    return ElementwiseApplyFunction(sympy.Lambda(u, body), arg)


CASES = [
    # entries, as in the reference
    (y[3], ARROW, r"\vec{y}_{3}"),
    (y[3], BOLD, r"y_{3}"),
    (W[3, 7], ARROW, r"W_{3,7}"),
    (F[i, j, k], ARROW, r"F_{i,j,k}"),
    (W1[3, 7], ARROW, r"W^{(1)}_{3,7}"),
    (h1[3], ARROW, r"\vec{h}^{(1)}_{3}"),
    (x_hat[i], ARROW, r"\hat{\vec{x}}_{i}"),
    (x_in[3], ARROW, r"{{}\vec{x}_{\mathrm{in}}}_{3}"),
    (x_in[3], BOLD, r"{x_{\mathrm{in}}}_{3}"),
    (y[k2], ARROW, r"\vec{y}_{k_{2}}"),
    (W[i + 1, j], ARROW, r"W_{i + 1,j}"),
    # scalars and sizes
    (L, ARROW, "L"),
    (alpha * x[i], ARROW, r"\alpha \vec{x}_{i}"),
    (C, ARROW, "C"),
    (sympy.KroneckerDelta(i, j) * x[k], ARROW, r"\delta_{i,j} \vec{x}_{k}"),
    # products, sums and powers
    (x[7] * W[3, 7], ARROW, r"W_{3,7} \vec{x}_{7}"),
    (-2 * W[3, 7] * x[7], ARROW, r"- 2 W_{3,7} \vec{x}_{7}"),
    (sympy.Sum(W[3, j] * x[j], (j, 1, D)), ARROW, r"\sum_{j=1}^{D} W_{3,j} \vec{x}_{j}"),
    (
        sympy.Sum(sympy.Sum(V[i, k] * W[k, j], (k, 1, M)), (j, 1, D)),
        ARROW,
        r"\sum_{j=1}^{D} \sum_{k=1}^{M} V_{i,k} W_{k,j}",
    ),
    (
        sympy.Sum(W[3, j] * x[j], (j, 1, D)) + x[1],
        ARROW,
        r"\vec{x}_{1} + \sum_{j=1}^{D} W_{3,j} \vec{x}_{j}",
    ),
    (
        sympy.Add(sympy.Sum(x[j], (j, 1, D)), x[1], evaluate=False),
        ARROW,
        r"\left(\sum_{j=1}^{D} \vec{x}_{j}\right) + \vec{x}_{1}",
    ),
    (
        sympy.Add(0, 0, partial(W[3, 7] * x[7], x[7]), 0, evaluate=False),
        ARROW,
        r"0 + 0 + \frac{\partial}{\partial \vec{x}_{7}}\left[ W_{3,7} \vec{x}_{7} \right] + 0",
    ),
    (W1[3, 7] ** 2, ARROW, r"{W^{(1)}_{3,7}}^{2}"),
    (h1[3] ** 2, ARROW, r"{{}\vec{h}^{(1)}_{3}}^{2}"),
    # partial derivatives
    (partial(y[3], x[7]), ARROW, r"\frac{\partial \vec{y}_{3}}{\partial \vec{x}_{7}}"),
    (partial(y[3], x[7]), BOLD, r"\frac{\partial y_{3}}{\partial x_{7}}"),
    (partial(L, W[3, 7]), ARROW, r"\frac{\partial L}{\partial W_{3,7}}"),
    (
        partial(W[3, 7] * x[7], x[7]),
        ARROW,
        r"\frac{\partial}{\partial \vec{x}_{7}}\left[ W_{3,7} \vec{x}_{7} \right]",
    ),
    (
        partial(L, W[1, 2], x[3]),
        ARROW,
        r"\frac{\partial^{2} L}{\partial \vec{x}_{3} \partial W_{1,2}}",
    ),
    (
        sympy.Mul(partial(y[i], m[k]), partial(m[k], x[j]), evaluate=False),
        ARROW,
        r"\frac{\partial \vec{y}_{i}}{\partial \vec{m}_{k}} "
        r"\frac{\partial \vec{m}_{k}}{\partial \vec{x}_{j}}",
    ),
    (
        partial(mat_W * vec_x, vec_x),
        BOLD,
        r"\frac{\partial}{\partial \mathbf{x}}\left[ W \mathbf{x} \right]",
    ),
    # elementwise functions of entries
    (
        sigmoid_prime(z[i]) * sympy.KroneckerDelta(i, j),
        ARROW,
        r"\sigma'\left(\vec{z}_{i}\right) \delta_{i,j}",
    ),
    (sigmoid_prime(z[i]) ** 2, ARROW, r"\left(\sigma'\left(\vec{z}_{i}\right)\right)^{2}"),
    (relu(z[i]), ARROW, r"\operatorname{relu}\left(\vec{z}_{i}\right)"),
    (sympy.exp(z[i]), ARROW, r"e^{\vec{z}_{i}}"),
    # whole matrices and vectors
    (mat_W * vec_x, ARROW, r"W \vec{x}"),
    (mat_W * vec_x, BOLD, r"W \mathbf{x}"),
    (vec_x.T * mat_W.T, ARROW, r"\vec{x}^{\top} W^{\top}"),
    (sympy.Transpose(mat_W * vec_x), ARROW, r"\left(W \vec{x}\right)^{\top}"),
    (sympy.MatrixSymbol("W1", C, D).T, ARROW, r"{W^{(1)}}^{\top}"),
    (mat_W * vec_x + vec_z, ARROW, r"W \vec{x} + \vec{z}"),
    (mat_W * vec_x - vec_z, ARROW, r"W \vec{x} - \vec{z}"),
    (vec_z - mat_W * vec_x, ARROW, r"\vec{z} - W \vec{x}"),
    (alpha * mat_W * vec_x, BOLD, r"\alpha W \mathbf{x}"),
    (sympy.HadamardProduct(vec_z, mat_W * vec_x), ARROW, r"\vec{z} \odot \left(W \vec{x}\right)"),
    (sympy.Identity(C), ARROW, r"\mathbf{I}"),
    (sympy.OneMatrix(C, 1), ARROW, r"\vec{1}"),
    (sympy.OneMatrix(C, 1), BOLD, r"\mathbf{1}"),
    (sympy.Transpose(sympy.OneMatrix(C, 1)), ARROW, r"\vec{1}^{\top}"),
    (sympy.ZeroMatrix(C, D), ARROW, "0"),
    (DiagMatrix(vec_z), ARROW, r"\operatorname{diag}\left(\vec{z}\right)"),
    (sympy.Trace(mat_V), ARROW, r"\operatorname{tr}\left(V\right)"),
    (elementwise(sigmoid(u), vec_z), ARROW, r"\sigma\left(\vec{z}\right)"),
    (elementwise(sigmoid_prime(u), vec_z), BOLD, r"\sigma'\left(\mathbf{z}\right)"),
    (elementwise(sympy.tanh(u), vec_z), ARROW, r"\tanh{\left(\vec{z} \right)}"),
    (elementwise(1 - sympy.tanh(u) ** 2, vec_z), ARROW, r"1 - \tanh^{2}{\left(\vec{z} \right)}"),
    (elementwise(sigmoid(u), mat_W * vec_x), ARROW, r"\sigma\left(W \vec{x}\right)"),
    (elementwise(u**2, mat_W * vec_x + vec_z), ARROW, r"\left(W \vec{x} + \vec{z}\right)^{2}"),
    # undeclared tensors take their kind from their shape
    (sympy.MatrixSymbol("a", D, 1), ARROW, r"\vec{a}"),
    (sympy.IndexedBase("b")[2], ARROW, r"\vec{b}_{2}"),
]


@pytest.mark.parametrize(("expr", "notation", "expected"), CASES, ids=[c[2] for c in CASES])
def test_to_latex(expr: sympy.Basic, notation: Notation, expected: str) -> None:
    assert to_latex(expr, notation) == expected


NAMES = [
    ("x", "scalar", "arrow", "x"),
    ("x", "vector", "arrow", r"\vec{x}"),
    ("x", "vector", "bold", r"\mathbf{x}"),
    ("W", "matrix", "bold", "W"),
    ("alpha", "scalar", "arrow", r"\alpha"),
    ("alpha", "vector", "bold", r"\boldsymbol{\alpha}"),
    ("Sigma", "matrix", "arrow", r"\Sigma"),
    ("Alpha", "matrix", "arrow", r"\mathrm{Alpha}"),
    ("W1", "matrix", "arrow", r"W^{(1)}"),
    ("W12", "matrix", "arrow", r"W^{(12)}"),
    ("h2", "vector", "arrow", r"\vec{h}^{(2)}"),
    ("x_hat", "scalar", "arrow", r"\hat{x}"),
    ("y_bar", "vector", "arrow", r"\bar{\vec{y}}"),
    ("w_tilde", "vector", "bold", r"\tilde{\mathbf{w}}"),
    ("h1_hat", "vector", "arrow", r"\hat{\vec{h}}^{(1)}"),
    ("x_in", "scalar", "arrow", r"x_{\mathrm{in}}"),
    ("lr_max", "scalar", "arrow", r"\mathrm{lr}_{\mathrm{max}}"),
    ("a_b_c", "scalar", "arrow", r"a_{\mathrm{b\_c}}"),
    ("loss", "scalar", "arrow", r"\mathrm{loss}"),
    ("out", "vector", "bold", r"\mathbf{out}"),
    ("Wout2", "matrix", "arrow", r"\mathrm{Wout}^{(2)}"),
]


@pytest.mark.parametrize(("name", "kind", "vectors", "expected"), NAMES)
def test_name_latex(name: str, kind: str, vectors: str, expected: str) -> None:
    assert name_latex(name, kind, vectors) == expected


@pytest.mark.parametrize("name", [r"\input", "x{y}", "x y", "1x", "_x", "x_", "", "é"])
def test_name_latex_rejects_anything_but_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="not a tensor name"):
        name_latex(name, "scalar")


def test_printer_rejects_a_symbol_with_a_tex_name() -> None:
    with pytest.raises(ValueError, match="not a tensor name"):
        to_latex(sympy.Symbol(r"\write18{x}"), ARROW)


@pytest.mark.parametrize(
    ("kinds", "vectors"),
    [((("x", "tensor"),), "arrow"), ((), "italic"), (((r"\x", "scalar"),), "arrow")],
)
def test_notation_rejects_unknown_kinds_styles_and_names(
    kinds: tuple[tuple[str, str], ...], vectors: str
) -> None:
    with pytest.raises(ValueError):
        Notation(kinds, vectors)


def test_products_of_entries_never_use_cdot() -> None:
    product = V[i, k] * W[k, j] * x[j] * sigmoid(z[i]) * sympy.KroneckerDelta(i, j)
    assert r"\cdot" not in to_latex(product, ARROW)


def test_a_printer_subclass_restyles_functions_and_norms() -> None:
    """LaTeX lives only in the printer: a subclass changes how derivtex's own classes print."""
    from derivtex.calculus.mexpr import Norm
    from derivtex.language.functions import sigmoid
    from derivtex.rendering.printer import DerivtexLatexPrinter, Notation

    class Styled(DerivtexLatexPrinter):
        function_latex = {
            **DerivtexLatexPrinter.function_latex,
            "sigmoid": r"\operatorname{logistic}",
        }

        def _print_Norm(self, expr: Norm) -> str:
            return r"\lVert " + self._print(expr.matrix) + r" \rVert_2"

    note = Notation((("x", "vector"),))
    x = sympy.MatrixSymbol("x", sympy.Symbol("D"), 1)
    z = sympy.Symbol("z")
    assert Styled(note).doprint(sigmoid(z)) == r"\operatorname{logistic}\left(z\right)"
    assert Styled(note).doprint(Norm(x)) == r"\lVert \vec{x} \rVert_2"
    assert DerivtexLatexPrinter(note).doprint(sigmoid(z)) == r"\sigma\left(z\right)"


ISSUE_11 = [
    # (given, wrt, shapes, the printed result): unambiguous by precedence, issue 11
    (
        "y = tanh(A x) .* sigmoid(B x)",
        "x",
        {"A": "D x D", "B": "D x D", "x": "D"},
        r"\operatorname{diag}\left(\left(1 - \tanh^{2}{\left(A \vec{x} \right)}\right) \odot"
        r" \sigma\left(B \vec{x}\right)\right) A + \operatorname{diag}\left(\sigma'\left(B"
        r" \vec{x}\right) \odot \tanh{\left(A \vec{x} \right)}\right) B",
    ),
    ("y = I x + x", "x", {"I": "D x D", "x": "D"}, r"I + \mathbf{I}"),
    (
        "L = norm(X W + o b^T - T)^2",
        "W",
        {"X": "N x D", "W": "D x C", "o": "N", "b": "C", "T": "N x C"},
        r"2 X^{\top} \left(X W + \vec{o} \vec{b}^{\top} - T\right)",
    ),
]


@pytest.mark.parametrize(("given", "wrt", "shapes", "expected"), ISSUE_11)
def test_results_print_unambiguously(given: str, wrt: str, shapes: dict, expected: str) -> None:
    import derivtex

    assert derivtex.derive(given, wrt=wrt, shapes=shapes, steps=False).latex() == expected


W_ = sympy.MatrixSymbol("X", C, D)
t_, z_ = sympy.MatrixSymbol("t", C, 1), sympy.MatrixSymbol("z", C, 1)
SIGNS = [
    (Norm(W_), r"\left\|X\right\|_{F}"),
    (Norm(W_) ** 2, r"\left\|X\right\|_{F}^{2}"),
    (Norm(t_) ** 2, r"\left\|\vec{t}\right\|^{2}"),
    (L + Scalar(-1 * t_.T * z_), r"L - \vec{t}^{\top} \vec{z}"),
    (Scalar(t_.T * z_) + L, r"L + \vec{t}^{\top} \vec{z}"),
    (2 * Scalar(t_.T * z_), r"2 \left(\vec{t}^{\top} \vec{z}\right)"),
    (sympy.MatAdd(sympy.MatAdd(t_, z_), -1 * t_), r"\vec{t} + \vec{z} - \vec{t}"),
    (
        sympy.MatAdd(t_, sympy.MatMul(-1, sympy.MatAdd(t_, z_))),
        r"\vec{t} - \left(\vec{t} + \vec{z}\right)",
    ),
    (
        elementwise(sigmoid(u) * (1 - sigmoid(u)), z_),
        r"\left(1 - \sigma\left(\vec{z}\right)\right) \odot \sigma\left(\vec{z}\right)",
    ),
    (sympy.log(Scalar(t_.T * z_)), r"\log{\left(\vec{t}^{\top} \vec{z} \right)}"),
    (Scalar(t_.T * z_) ** 2, r"\left(\vec{t}^{\top} \vec{z}\right)^{2}"),
    (elementwise(u**2, W_), r"X^{\odot 2}"),
]


@pytest.mark.parametrize(("expr", "expected"), SIGNS, ids=[c[1] for c in SIGNS])
def test_signs_norms_and_products(expr: sympy.Basic, expected: str) -> None:
    note = Notation((("t", "vector"), ("z", "vector"), ("X", "matrix"), ("L", "scalar")))
    assert to_latex(expr, note) == expected
