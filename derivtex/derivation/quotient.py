"""Softmax's local derivative worked by the quotient rule: the cases i = j and i != j, assembled."""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import Idx
from derivtex.derivation import steps as S
from derivtex.derivation.stepmath import entry, partial, whole
from derivtex.language import ir


def softmax_arg(d: Derivative, name: str) -> str | None:
    """The name whose softmax `name` is, if it is one."""
    op = d.graph.definition(name).op
    return op.arg.name if isinstance(op, ir.Softmax) else None


def quotient_rule(
    d: Derivative,
    name: str,
    idx: tuple[Idx, Idx],
    spare: tuple[sympy.Symbol, ...],
    matrix: bool = True,
) -> S.QuotientRule:
    """d p_i / d z_j for p = softmax(z): the quotient rule, its two cases, then diag(p) - p p^T.

    `idx` holds p's index and z's; `spare` offers a letter for the sum in the denominator;
    `matrix` False leaves the matrix form to a later step (the Jacobian's assembly).
    """
    z = softmax_arg(d, name)
    assert z is not None
    ((i,), (j,)) = idx
    k = next(n for n in spare if n not in (i, j))
    z_j, z_k = entry(d, z, (j,)), entry(d, z, (k,))
    p_i, p_j = entry(d, name, (i,)), entry(d, name, (j,))
    top, s = sympy.exp(entry(d, z, (i,))), _denominator_name(d)
    total = sympy.Sum(sympy.exp(z_k), (k, 1, d.graph.shape_of(z).free_dims[0]))
    return S.QuotientRule(
        f"Each component of ${name}$ is a quotient whose numerator holds the component of ${z}$ "
        "only when the indices agree: the quotient rule, then its two cases.",
        partial(p_i, z_j),
        _ordered(_mul(sympy.KroneckerDelta(i, j), p_i), _mul(-1, p_i, p_j)),
        p_i,
        _over(top, s),
        (s, total),
        _over(_ordered(_mul(partial(top, z_j), s), _mul(-1, top, partial(s, z_j))), s**2),
        (partial(s, z_j), sympy.exp(z_j)),
        (sympy.Eq(i, j), sympy.Ne(i, j)),
        (_same_case(top, s, p_i), _other_case(top, s, sympy.exp(z_j), p_i, p_j)),
        partial(whole(d, name), whole(d, z)) if matrix else None,
        _matrix(whole(d, name)) if matrix else None,
    )


def _denominator_name(d: Derivative) -> sympy.Symbol:
    taken = d.graph.names | {str(s) for _, shape in d.graph.inputs for s in shape.free_dims}
    return sympy.Symbol(next(n for n in ("s", "q", "u", "v", "s_1") if n not in taken))


def _over(top: sympy.Expr, bottom: sympy.Expr) -> sympy.Expr:
    """top / bottom, printed as a fraction (an evaluated product keeps an unevaluated top)."""
    return sympy.Mul(top, sympy.Pow(bottom, -1))


def _mul(*factors: sympy.Expr | int) -> sympy.Expr:
    return sympy.Mul(*(sympy.sympify(f) for f in factors), evaluate=False)


def _ordered(*terms: sympy.Expr) -> sympy.Expr:
    """A sum that prints in the order given: unevaluated and, where sympy's own order is the
    same, a product with a leading factor 1 (which the printer skips) to keep it apart."""
    if sympy.Add(*terms).args == terms:
        n = max((n for n, t in enumerate(terms) if _written(t)), default=0)
        marked = sympy.Mul(1, *sympy.Mul.make_args(terms[n]), evaluate=False)
        terms = (*terms[:n], marked, *terms[n + 1 :])
    return sympy.Add(*terms, evaluate=False)


def _written(term: sympy.Expr) -> bool:
    """Whether term is a product built unevaluated, so a leading 1 does not change its print."""
    return isinstance(term, sympy.Mul) and sympy.Mul(*term.args).args != term.args


def _same_case(top: sympy.Expr, s: sympy.Expr, p_i: sympy.Expr) -> tuple[sympy.Expr, ...]:
    """i = j: the numerator's partial is the numerator itself."""
    ratio = _over(top, s)
    return (
        _over(_ordered(_mul(top, s), _mul(-1, top, top)), s**2),
        _ordered(ratio, _mul(-1, ratio, ratio)),
        _ordered(p_i, _mul(-1, p_i, p_i)),
        _mul(p_i, _ordered(sympy.Integer(1), _mul(-1, p_i))),
    )


def _other_case(
    top: sympy.Expr, s: sympy.Expr, e_j: sympy.Expr, p_i: sympy.Expr, p_j: sympy.Expr
) -> tuple[sympy.Expr, ...]:
    """i != j: the numerator does not hold z_j, so only the denominator's partial remains."""
    return (
        _over(_ordered(_mul(0, s), _mul(-1, top, e_j)), s**2),
        _mul(-1, _over(top, s), _over(e_j, s)),
        _mul(-1, p_i, p_j),
    )


def _matrix(p: sympy.MatrixSymbol) -> sympy.MatrixExpr:
    """diag(p) - p p^T; for a row vector p the outer product is p^T p."""
    outer = p * p.T if p.shape[1] == 1 else p.T * p
    return DiagMatrix(p) - outer
