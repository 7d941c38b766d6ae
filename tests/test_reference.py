"""The five worked examples of REFERENCE.md, checked exactly against hand-written sympy objects."""

from __future__ import annotations

import pytest
import sympy
from checks import dim, idx
from sympy import KroneckerDelta, MatMul, MatrixSymbol, Sum, Transpose

import derivtex

C, D, M, N = map(dim, "CDMN")
i, j, k, l = map(idx, "ijkl")  # noqa: E741 - the reference's index names
V, W, X, x = map(sympy.IndexedBase, ("V", "W", "X", "x"))


def same(got: sympy.Basic, want: sympy.Basic) -> bool:
    """Structurally equal, or equal after simplification."""
    return got == want or sympy.simplify(got - want) == 0


def at(d: derivtex.Derivation, out: tuple[int, ...], wrt: tuple[int, ...]) -> sympy.Expr:
    """One entry of the index form: the free indices replaced by numbers."""
    names = d.index.out_idx + d.index.wrt_idx
    return d.index_result.xreplace(dict(zip(names, out + wrt, strict=True)))


def check_verifies(d: derivtex.Derivation) -> None:
    report = d.verify()
    assert report.exact
    assert report.max_error <= report.tolerance


# -- 1. y = W x, d y / d x ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def example1() -> derivtex.Derivation:
    return derivtex.derive("y = W x", wrt="x", shapes={"W": "C x D", "x": "D"})


def test_1_index_form_is_w_ij(example1: derivtex.Derivation) -> None:
    assert example1.index.out_idx == (i,)
    assert example1.index.wrt_idx == (j,)
    assert example1.index_result == W[i, j]


def test_1_component_y3_x7(example1: derivtex.Derivation) -> None:
    assert at(example1, (3,), (7,)) == W[3, 7]


def test_1_matrix_form_is_w(example1: derivtex.Derivation) -> None:
    assert example1.result == MatrixSymbol("W", C, D)
    assert example1.matrix == MatrixSymbol("W", C, D)
    assert example1.result.shape == (C, D)


def test_1_verifies(example1: derivtex.Derivation) -> None:
    check_verifies(example1)


# -- 2. y = x W with a row vector x, d y / d x ----------------------------------------------------
ROW = {"x": "1 x D", "W": "D x C"}


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_2_index_form_is_w_ji_in_both_layouts(layout: str) -> None:
    d = derivtex.derive("y = x W", wrt="x", shapes=ROW, layout=layout)
    assert (d.index.out_idx, d.index.wrt_idx) == ((i,), (j,))
    assert d.index_result == W[j, i]  # d y_i / d x_j: the indexing into W is reversed
    assert at(d, (3,), (7,)) == W[7, 3]


@pytest.mark.parametrize(
    ("layout", "want"),
    [
        ("numerator", Transpose(MatrixSymbol("W", D, C))),  # rows follow y: C x D
        ("denominator", MatrixSymbol("W", D, C)),  # rows follow x, as the reference writes it
    ],
)
def test_2_matrix_form_follows_the_layout(layout: str, want: sympy.MatrixExpr) -> None:
    d = derivtex.derive("y = x W", wrt="x", shapes=ROW, layout=layout)
    assert d.layout == layout
    assert d.result == want
    assert d.result.shape == want.shape
    check_verifies(d)


# -- 3. derivatives by a matrix: three axes, no matrix form ---------------------------------------
@pytest.mark.parametrize(
    ("text", "shapes", "want"),
    [
        # y_i = sum_j x_j W_{j,i}: d y_i / d W_{j,k} = delta_{i,k} x_j, so F_{i,j,i} = x_j
        ("y = x W", ROW, KroneckerDelta(i, k) * x[j]),
        # y_i = sum_k W_{i,k} x_k: d y_i / d W_{j,k} = delta_{i,j} x_k
        ("y = W x", {"W": "C x D", "x": "D"}, KroneckerDelta(i, j) * x[k]),
    ],
    ids=["row-vector", "column-vector"],
)
def test_3_delta_form(text: str, shapes: dict, want: sympy.Expr) -> None:
    d = derivtex.derive(text, wrt="W", shapes=shapes)
    assert (d.index.out_idx, d.index.wrt_idx) == ((i,), (j, k))
    assert same(d.index_result, want)
    assert d.matrix is None
    assert not d.has_matrix_form
    assert same(d.result, want)  # with three axes the result is the index form
    check_verifies(d)


def test_3_zero_and_nonzero_entries_of_the_reference() -> None:
    d = derivtex.derive("y = x W", wrt="W", shapes=ROW)
    assert at(d, (3,), (7, 8)) == 0  # y_3 does not involve W_{7,8}
    assert at(d, (3,), (2, 3)) == x[2]  # d y_3 / d W_{2,3} = x_2
    assert at(d, (5,), (4, 5)) == x[4]  # the pattern d y_j / d W_{i,j} = x_i


# -- 4. multiple data points: Y = X W, d Y / d X ---------------------------------------------------
@pytest.fixture(scope="module")
def example4() -> derivtex.Derivation:
    return derivtex.derive("Y = X W", wrt="X", shapes={"X": "N x D", "W": "D x C"})


def test_4_delta_form(example4: derivtex.Derivation) -> None:
    assert example4.index.out_idx == (i, j)
    assert example4.index.wrt_idx == (k, l)
    # d Y_{i,j} / d X_{k,l} = delta_{i,k} W_{l,j}
    assert same(example4.index_result, KroneckerDelta(i, k) * W[l, j])
    assert example4.matrix is None


def test_4_rows_only_meet_their_own_row(example4: derivtex.Derivation) -> None:
    assert at(example4, (2, 3), (1, 4)) == 0  # a != c: zero
    assert at(example4, (2, 3), (2, 4)) == W[4, 3]  # d Y_{i,j} / d X_{i,k} = W_{k,j}


def test_4_verifies(example4: derivtex.Derivation) -> None:
    check_verifies(example4)


# -- 5. the chain rule: y = V W x ------------------------------------------------------------------
CHAIN = {"V": "N x M", "W": "M x D", "x": "D"}


@pytest.mark.parametrize("text", ["y = V W x", "m = W x; y = V m"], ids=["inline", "named"])
def test_5_chain_rule(text: str) -> None:
    d = derivtex.derive(text, wrt="x", shapes=CHAIN)
    assert (d.index.out_idx, d.index.wrt_idx) == ((i,), (j,))
    assert same(d.index_result, Sum(V[i, k] * W[k, j], (k, 1, M)))
    assert d.result == MatMul(MatrixSymbol("V", N, M), MatrixSymbol("W", M, D))
    assert d.result.shape == (N, D)
    check_verifies(d)


def test_5_the_two_forms_agree() -> None:
    inline = derivtex.derive("y = V W x", wrt="x", shapes=CHAIN)
    named = derivtex.derive("m = W x; y = V m", wrt="x", shapes=CHAIN)
    assert inline.index_result == named.index_result
    assert inline.result == named.result
