"""Verification: the exact check at random points catches wrong results, at any size."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from sympy import KroneckerDelta, MatrixSymbol

import derivtex
from benchmarks.bench_verify import chain, tanh_net  # the requests the benchmark times
from derivtex.calculus import numeric as N
from derivtex.calculus import points as P
from derivtex.calculus import verify as V
from derivtex.calculus.contraction import contract
from derivtex.calculus.exact import point_check
from derivtex.calculus.terms import Term

W_, x_, z_ = sympy.IndexedBase("W"), sympy.IndexedBase("x"), sympy.IndexedBase("z")
i, j, k = (sympy.Symbol(c, integer=True) for c in "ijk")


def exact_dims(d: derivtex.Derivation) -> N.Dims:
    return {s: 2 + n % 2 for n, s in enumerate(V.symbolic_dims(d.graph))}


def with_result(d: derivtex.Derivation, terms=None, matrix=None) -> V.Problem:
    """d's verification problem with its index form and/or matrix form replaced."""
    index = d.index if terms is None else dataclasses.replace(d.index, terms=tuple(terms))
    p = d.derivative.problem()
    return dataclasses.replace(p, index=index, matrix=d.matrix if matrix is None else matrix)


def point_only(p: V.Problem, dims: N.Dims) -> None:
    """The random-point comparison alone: neither the symbolic expansion nor finite differences."""
    try:
        point_check(p, dims, P.RationalField(), np.random.default_rng(0), 2)
    except P.Irrational:
        with mpmath.workdps(P.DIGITS):
            point_check(p, dims, P.FloatField(), np.random.default_rng(0), 2)


# -- long chains, deep networks and integer sizes verify -------------------------------------------
@pytest.mark.parametrize("length", [1, 2, 5, 12, 13, 32])
@pytest.mark.parametrize("wrt", ["x", "W1"])
def test_chains_of_any_length_verify(length: int, wrt: str) -> None:
    text, shapes = chain(length)
    d = derivtex.derive(text, wrt, shapes, steps=False)
    report = d.verify()
    assert report.exact and report.max_error < 1e-6
    assert dict(report.exact_sizes)["D0"] == 2


@pytest.mark.parametrize("depth", [1, 3, 8])
@pytest.mark.parametrize("wrt", ["x", "W1"])
def test_tanh_networks_verify(depth: int, wrt: str) -> None:
    text, shapes = tanh_net(depth)
    assert derivtex.derive(text, wrt, shapes, steps=False).verify().exact


@pytest.mark.parametrize(("depth", "written"), [(6, True), (7, False), (8, False)])
def test_tanh_networks_plan_and_write_the_chain_up_to_max_links(depth: int, written: bool) -> None:
    # Depth 6 has 11 intermediates (the h's and the z inside each tanh), 7 has 13: past
    # MAX_LINKS = 12 the chain is not written out, and the plan no longer fails (KeyError).
    text, shapes = tanh_net(depth)
    d = derivtex.derive(text, "x", shapes)
    assert any(step.kind == "chain_rule" for step in d.steps) == written
    assert d.steps[-1].kind == "summary" and d.report is not None and d.report.exact


@pytest.mark.parametrize("size", [1, 7, 32])
@pytest.mark.parametrize("wrt", ["x", "W"])
def test_integer_sizes_verify(size: int, wrt: str) -> None:
    d = derivtex.derive("y = W x", wrt, {"W": f"{size} x {size}", "x": f"{size}"}, steps=False)
    assert d.verify().exact_sizes == ()


# -- wrong results are rejected, by the point check alone ------------------------------------------
WRONG_LINEAR = [
    ((Term(2 * W_[i, j]),), None),  # off by a factor
    ((Term(W_[j, i]),), None),  # transposed (W is square)
    ((Term(W_[i, j]), Term(KroneckerDelta(i, j) / 2**40)), None),  # off by a tiny term
    ((Term(W_[i, j] * (1 + sympy.Rational(1, 2**60))),), None),  # off by 1 + 2^-60
    (None, MatrixSymbol("W", 9, 9).T),  # right index form, transposed matrix form
    (None, 3 * MatrixSymbol("W", 9, 9)),  # right index form, matrix form off by a factor
]


@pytest.mark.parametrize(("terms", "matrix"), WRONG_LINEAR)
def test_point_check_rejects_wrong_linear_results(terms, matrix) -> None:
    d = derivtex.derive("y = W x", "x", {"W": "9 x 9", "x": "9"})
    assert d.index.terms == (Term(W_[i, j]),)  # the right one passes
    point_only(d.derivative.problem(), {})
    with pytest.raises(derivtex.VerificationError, match="exact check failed"):
        point_only(with_result(d, terms, matrix), {})


def test_a_small_failing_check_names_the_entry() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "D x D", "x": "D"})
    with pytest.raises(derivtex.VerificationError, match=r"failed at dy\(1,\)/dx\(2,\)"):
        V.exact_check(with_result(d, [Term(W_[j, i])]), exact_dims(d))


def test_exact_check_rejects_what_finite_differences_cannot_see() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "9 x 9", "x": "9"})
    bad = with_result(d, (Term(W_[i, j] * (1 + sympy.Rational(1, 10**9))),))
    values = V.random_values(d.graph, {}, np.random.default_rng(1))
    assert V.numeric_check(bad, d.derivative.evaluate, values, 1e-5) < 1e-5
    with pytest.raises(derivtex.VerificationError, match="exact check failed"):
        V.exact_check(bad, {})


def test_point_check_rejects_a_wrong_factor_deep_in_a_long_chain() -> None:
    text, shapes = chain(16)
    square = {name: "D x D" if name.startswith("W") else "D" for name in shapes}
    d = derivtex.derive(text, "x", square, steps=False)
    dims = exact_dims(d)
    assert V.symbolic_work(d.derivative.problem(), dims) > V.SYMBOLIC_WORK  # points only
    (term,) = d.index.terms
    w7 = next(a for a in term.factor.atoms(sympy.Indexed) if str(a.base) == "W7")
    swapped = term.factor.xreplace({w7: sympy.IndexedBase("W7")[w7.indices[::-1]]})
    for wrong in (term.factor * 2, swapped):
        with pytest.raises(derivtex.VerificationError):
            V.exact_check(with_result(d, [Term(wrong, term.sums)]), dims)


TANH_PRIME = 1 - sympy.tanh(z_[i]) ** 2


@pytest.mark.parametrize(
    "factor",
    [
        2 * TANH_PRIME * W_[i, j],  # off by a factor
        (1 - sympy.tanh(z_[i])) * W_[i, j],  # a wrong elementwise derivative
        TANH_PRIME * W_[j, i],  # transposed
        TANH_PRIME * W_[i, j] * (1 + sympy.Rational(1, 10**20)),  # beyond float64's reach
    ],
)
def test_point_check_rejects_wrong_tanh_derivatives(factor) -> None:
    d = derivtex.derive("y = tanh(W x)", "x", {"W": "D x D", "x": "D"})
    assert d.index.terms == (Term(TANH_PRIME * W_[i, j]),)
    point_only(d.derivative.problem(), exact_dims(d))
    with pytest.raises(derivtex.VerificationError, match="60-digit"):
        point_only(with_result(d, [Term(factor)]), exact_dims(d))


def test_point_check_rejects_a_tanh_matrix_form_without_its_diagonal() -> None:
    d = derivtex.derive("y = tanh(W x)", "x", {"W": "D x D", "x": "D"})
    w = d.matrix.args[-1]  # diag(1 - tanh(z)^2) W without the diag
    assert isinstance(w, MatrixSymbol)
    with pytest.raises(derivtex.VerificationError, match="matrix form"):
        point_only(with_result(d, matrix=w), exact_dims(d))


def test_point_check_rejects_a_wrong_tensor_derivative_at_integer_sizes() -> None:
    d = derivtex.derive("y = W x", "W", {"W": "32 x 32", "x": "32"})
    assert d.index.terms == (Term(KroneckerDelta(i, j) * x_[k]),)
    for wrong in (KroneckerDelta(i, k) * x_[j], 2 * KroneckerDelta(i, j) * x_[k]):
        with pytest.raises(derivtex.VerificationError):
            V.exact_check(with_result(d, [Term(wrong)]), {})


def test_what_points_cannot_evaluate_is_expanded_symbolically() -> None:
    d = derivtex.derive("y = tanh(W x)", "x", {"W": "D x D", "x": "D"})
    g = sympy.Function("g")  # no numeric value anywhere: the point check gives up on it
    with pytest.raises(P.NoPoint):
        point_only(with_result(d, [Term(g(z_[i]) * W_[i, j])]), exact_dims(d))
    with pytest.raises(derivtex.VerificationError, match="exact check failed at"):
        V.exact_check(with_result(d, [Term(g(z_[i]) * W_[i, j])]), exact_dims(d))


def test_numeric_check_along_directions_rejects_a_wrong_result() -> None:
    d = derivtex.derive("y = W x", "W", {"W": "8 x 8", "x": "8"})  # 64 entries: directions
    values = V.random_values(d.graph, {}, np.random.default_rng(0))
    assert V.numeric_check(d.derivative.problem(), d.derivative.evaluate, values, 1e-5) < 1e-8

    def wrong(v):
        return 1.01 * d.derivative.evaluate(v)

    with pytest.raises(derivtex.VerificationError, match="finite differences"):
        V.numeric_check(d.derivative.problem(), wrong, values, 1e-5)


# -- the pieces, against independent computations --------------------------------------------------
def test_dual_numbers_give_the_derivative() -> None:
    with mpmath.workdps(P.DIGITS):
        field = P.FloatField()
        x = mpmath.mpf(3) / 7
        got = P.call(field, sympy.tanh, P.Dual(x, 1, field))
        assert abs(got.a - mpmath.tanh(x)) < mpmath.mpf(10) ** -50
        assert abs(got.b - mpmath.sech(x) ** 2) < mpmath.mpf(10) ** -50
    exact = P.RationalField()
    y = P.Dual(Fraction(2, 3), 1, exact)
    cube = y**3 / (y + 1)  # d/dy y^3 / (y + 1) = (2 y^3 + 3 y^2) / (y + 1)^2
    assert cube.b == Fraction(2 * 8 + 3 * 4 * 3, 27) / Fraction(25, 9)


def test_contract_matches_einsum() -> None:
    rng = np.random.default_rng(3)
    a, b, c = rng.integers(-9, 9, (3, 4)), rng.integers(-9, 9, (4, 5)), rng.integers(-9, 9, (5, 3))
    tables = [((i, j), a.astype(object)), ((j, k), b.astype(object)), ((k, i), c.astype(object))]
    got = contract(tables, {i: 3, j: 4, k: 5})
    assert got == int(np.einsum("ij,jk,ki->", a, b, c))


def test_rational_graphs_stay_exact_and_others_use_the_float_field() -> None:
    d = derivtex.derive("L = x^T A x", "x", {"A": "D x D", "x": "D"})
    point_only(d.derivative.problem(), exact_dims(d))  # no Irrational: exact throughout
    root = derivtex.derive("L = norm(x)", "x", {"x": "D"})
    with pytest.raises(P.Irrational):
        point_check(
            root.derivative.problem(),
            exact_dims(root),
            P.RationalField(),
            np.random.default_rng(0),
            1,
        )
    point_only(root.derivative.problem(), exact_dims(root))


def test_the_printed_form_is_checked_against_the_verified_one() -> None:
    """The handout prints `result` (the tool's names put back, simplified again): a wrong
    rewrite there fails verification, though the matrix form itself was right."""
    from derivtex.calculus import derivative as DV
    from derivtex.calculus.differences import printed_form_error
    from derivtex.errors import VerificationError

    shapes = {"W": "C x D", "x": "D", "b": "C"}
    d = derivtex.derive("y = tanh(W x + b)", shapes=shapes, wrt="x", steps=False)
    assert d.derivative.result != d.matrix  # the tool's z = W x + b is put back
    values = {
        "W": np.arange(6.0).reshape(2, 3) / 7,
        "x": np.array([0.3, -0.2, 0.5]),
        "b": np.array([0.1, -0.4]),
    }
    assert printed_form_error(d.graph, d.matrix, d.derivative.result, values, 1e-9) < 1e-12
    with pytest.raises(VerificationError, match="printed result differs"):
        printed_form_error(d.graph, d.matrix, 2 * d.derivative.result, values, 1e-5)
    wrong = dataclasses.replace(d.derivative, matrix=d.matrix)
    real = DV.substitute_auto
    try:  # a simplifier that rewrites wrongly, caught by Derivative.verify itself
        DV.substitute_auto = lambda expr, graph: 2 * real(expr, graph)  # type: ignore[assignment]
        with pytest.raises(VerificationError, match="printed result differs"):
            wrong.verify()
    finally:
        DV.substitute_auto = real


def test_finite_differences_allow_for_rounding_at_large_values() -> None:
    """y = t - 10^12: central differences round away the change (eps |y| / h > 1), so the
    numeric check allows for that; the exact check still proves the derivative."""
    d = derivtex.derive("y = t - 1000000000000", shapes={"t": "D"}, wrt="t")
    assert d.report is not None and d.report.exact
    assert sympy.Identity(sympy.Symbol("D", integer=True, positive=True)) == d.matrix
