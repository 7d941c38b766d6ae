"""Textbook forms: small value-keeping rewrites of matrix expressions, applied bottom up."""

from __future__ import annotations

from collections.abc import Callable

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus import mexpr
from derivtex.calculus.collect import (
    collect_left,
    collect_right,
    common_coefficient,
    common_scalar,
    flat_product,
    hadamard_collect,
    like_terms,
    numeric_coeff,
)
from derivtex.calculus.elementwise import (
    elementwise_power,
    fold_hadamard,
    fold_sum,
    one_variable,
    softmax,
)

Rule = Callable[[sympy.Basic], sympy.Basic | None]


def simplify(expr: sympy.Basic) -> sympy.Basic:
    """expr in textbook form: every rule applied at every node until none applies."""
    if not isinstance(expr, sympy.Basic) or not expr.args:
        return expr
    args = tuple(simplify(a) for a in expr.args)
    if args != expr.args:
        expr = expr.func(*args)
    for rule in RULES:
        out = rule(expr)
        if out is not None and out != expr:
            return simplify(out)
    return expr


# -- diagonal and symmetric factors --------------------------------------------------------------
def symmetric_transpose(m: sympy.Basic) -> sympy.Basic | None:
    """(diag(v))^T as diag(v), I^T as I: a transpose of what is symmetric by construction."""
    if isinstance(m, sympy.Transpose) and isinstance(m.arg, DiagMatrix | sympy.Identity):
        return m.arg
    return None


def _t(m: sympy.Basic) -> sympy.Basic:
    return m.arg if isinstance(m, sympy.Transpose) else sympy.Transpose(m)


def _transposes(m: sympy.Basic) -> int:
    return sum(1 for _ in sympy.preorder_traversal(m) if isinstance(_, sympy.Transpose))


def transpose_inside(m: sympy.Basic) -> sympy.Basic | None:
    """(f(u^T))^T as f(u), and (W f(u^T))^T as f(u) W^T: when fewer transposes print."""
    if not isinstance(m, sympy.Transpose):
        return None
    inner = m.arg
    if isinstance(inner, ElementwiseApplyFunction | sympy.HadamardProduct | sympy.MatAdd):
        moved = (
            inner.func(*(_t(a) for a in inner.args))
            if not isinstance(inner, ElementwiseApplyFunction)
            else ElementwiseApplyFunction(inner.function, _t(inner.expr))
        )
    elif isinstance(inner, sympy.MatMul):
        moved = mexpr.matmul(
            *(a if not isinstance(a, sympy.MatrixExpr) else _t(a) for a in reversed(inner.args))
        )
    else:
        return None
    moved = simplify(moved)
    return moved if _transposes(moved) < _transposes(m) else None


def diag_of_zero(m: sympy.Basic) -> sympy.Basic | None:
    """diag(0) as the zero matrix."""
    if isinstance(m, DiagMatrix) and isinstance(m.args[0], sympy.ZeroMatrix):
        n = m.args[0].shape[0]
        return sympy.ZeroMatrix(n, n)
    return None


def diag_product(m: sympy.Basic) -> sympy.Basic | None:
    """diag(a) diag(b) as diag(a ⊙ b)."""
    if not isinstance(m, sympy.MatMul):
        return None
    args = list(m.args)
    for i in range(len(args) - 1):
        a, b = args[i], args[i + 1]
        if isinstance(a, DiagMatrix) and isinstance(b, DiagMatrix):
            both = DiagMatrix(sympy.HadamardProduct(a.args[0], b.args[0]))
            kept = [*args[:i], both, *args[i + 2 :]]
            return kept[0] if len(kept) == 1 else sympy.MatMul(*kept)
    return None


def _diag_term(m: sympy.Basic) -> tuple[sympy.Expr, sympy.MatrixExpr] | None:
    """(c, v) when m is c diag(v)."""
    if isinstance(m, DiagMatrix):
        return sympy.Integer(1), m.args[0]
    if isinstance(m, sympy.MatMul):
        matrices = [a for a in m.args if isinstance(a, sympy.MatrixExpr)]
        if len(matrices) == 1 and isinstance(matrices[0], DiagMatrix):
            coeff = sympy.Mul(*(a for a in m.args if not isinstance(a, sympy.MatrixExpr)))
            return coeff, matrices[0].args[0]
    return None


def diag_sum(m: sympy.Basic) -> sympy.Basic | None:
    """diag(a) - diag(b) as diag(a - b), in the place of the first."""
    if not isinstance(m, sympy.MatAdd):
        return None
    terms = [_diag_term(a) for a in m.args]
    if sum(t is not None for t in terms) < 2:
        return None
    vector = sympy.MatAdd(*(_scaled(c, v) for c, v in filter(None, terms)))
    first = next(i for i, t in enumerate(terms) if t is not None)
    rest = [a for a, t in zip(m.args, terms, strict=True) if t is None]
    parts = [*rest[:first], DiagMatrix(vector), *rest[first:]]
    return parts[0] if len(parts) == 1 else sympy.MatAdd(*parts)


def _scaled(c: sympy.Expr, m: sympy.MatrixExpr) -> sympy.MatrixExpr:
    return m if c == 1 else sympy.MatMul(c, m)


def diag_scalar(m: sympy.Basic) -> sympy.Basic | None:
    """diag(c v) as c diag(v), for a number c."""
    if isinstance(m, DiagMatrix):
        c, rest = numeric_coeff(m.args[0])
        if c != 1:
            return mexpr.times(c, DiagMatrix(rest))
    return None


# -- inverses and determinants -------------------------------------------------------------------
def double_inverse(m: sympy.Basic) -> sympy.Basic | None:
    """(X^{-1})^{-1} as X."""
    if isinstance(m, sympy.Inverse) and isinstance(m.arg, sympy.Inverse):
        return m.arg.arg
    return None


def det_of_inverse(m: sympy.Basic) -> sympy.Basic | None:
    """det(X^{-1}) as 1/det(X)."""
    if isinstance(m, sympy.Determinant) and isinstance(m.arg, sympy.Inverse):
        return 1 / sympy.Determinant(m.arg.arg)
    return None


def _undone_by(a: sympy.Basic) -> sympy.Basic | None:
    """The factor that a cancels: X for X^{-1}, X^T for X^{-T}."""
    if isinstance(a, sympy.Inverse):
        return a.arg
    if isinstance(a, sympy.Transpose) and isinstance(a.arg, sympy.Inverse):
        return sympy.Transpose(a.arg.arg)
    return None


def inverse_pairs(m: sympy.Basic) -> sympy.Basic | None:
    """X^{-T} X^T as I, dropped from a product."""
    if not isinstance(m, sympy.MatMul):
        return None
    args = list(m.args)
    for i in range(len(args) - 1):
        a, b = args[i], args[i + 1]
        if _undone_by(a) == b or _undone_by(b) == a:
            kept = args[:i] + args[i + 2 :]
            if not any(isinstance(k, sympy.MatrixExpr) for k in kept):
                kept.append(sympy.Identity(a.shape[0]))
            return kept[0] if len(kept) == 1 else sympy.MatMul(*kept)
    return None


RULES: tuple[Rule, ...] = (
    one_variable,
    flat_product,
    fold_hadamard,
    fold_sum,
    elementwise_power,
    softmax,
    symmetric_transpose,
    transpose_inside,
    diag_of_zero,
    diag_product,
    diag_sum,
    diag_scalar,
    double_inverse,
    det_of_inverse,
    inverse_pairs,
    like_terms,
    hadamard_collect,
    common_coefficient,
    common_scalar,
    collect_right,
    collect_left,
)
