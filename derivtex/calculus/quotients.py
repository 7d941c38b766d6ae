"""Quotients the user named, put back: with y = v / s (s a scalar), a term (1/s^k) A carrying
k factors v, v^T or diag(v) reads with y, y^T and diag(y) instead (the softmax Jacobian
diag(e^z)/s - e^z (e^z)^T/s^2 becomes diag(y) - y y^T)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import DiagMatrix

from derivtex.calculus import mexpr
from derivtex.calculus.matrixform import auto_values
from derivtex.calculus.simplify import simplify
from derivtex.language import ir


@dataclass(frozen=True, slots=True)
class Quotient:
    """name = numerator / denominator, the denominator a scalar."""

    name: sympy.MatrixExpr
    numerator: sympy.Basic
    denominator: sympy.Expr


def quotients(graph: ir.Graph) -> tuple[Quotient, ...]:
    """The user's vector definitions y = v / s with s a scalar, the tool's own names inside
    v and s written out (as `substitute_auto` leaves a result)."""
    env = auto_values(graph)
    out = []
    for d in graph.definitions:
        op = d.op
        if d.auto or not isinstance(op, ir.Divide) or op.shape.is_scalar:
            continue
        if not op.right.shape.is_scalar or op.left.shape != op.shape:
            continue
        numerator, denominator = mexpr.of_op(op.left, env), mexpr.of_op(op.right, env)
        if isinstance(numerator, sympy.MatrixExpr) and not isinstance(
            denominator, sympy.MatrixExpr
        ):
            name = mexpr.symbol(d.name, op.shape)
            assert isinstance(name, sympy.MatrixExpr)
            out.append(Quotient(name, _canonical(numerator), _canonical(denominator)))
    return tuple(out)


def name_softmax(expr: sympy.Basic, graph: ir.Graph) -> sympy.Basic:
    """e^{z - L} with L = logsumexp(z) the user's name, as softmax(z): the textbook gradient
    of logsumexp. Kept as it was where L would still show written out."""
    env = auto_values(graph)
    for d in graph.definitions:
        if d.auto or not isinstance(d.op, ir.SmoothMax) or not expr.has(sympy.Symbol(d.name)):
            continue
        value = mexpr.LogSumExp(mexpr.of_op(d.op.arg, env))
        candidate = simplify(expr.xreplace({sympy.Symbol(d.name): value}))
        if not candidate.has(mexpr.LogSumExp):
            expr = candidate
    return expr


def name_quotients(expr: sympy.Basic, graph: ir.Graph) -> sympy.Basic:
    """`expr` with each quotient the user named put back where a term carries it whole."""
    found = quotients(graph)
    if not found:
        return expr
    start = out = _canonical(expr)
    for q in found:
        out = _rename(out, q)
    return expr if out == start else simplify(out)


_U = sympy.Symbol("_u")


def _canonical(expr: sympy.Basic) -> sympy.Basic:
    """`expr` with each elementwise function's bound variable the same symbol, so two
    separately built e^z compare equal."""
    return expr.replace(
        lambda e: isinstance(e, sympy.Lambda) and len(e.variables) == 1,
        lambda e: sympy.Lambda(_U, e.expr.xreplace({e.variables[0]: _U})),
    )


def _patterns(q: Quotient) -> list[tuple[list[sympy.Basic], sympy.MatrixExpr]]:
    """The runs of factors that spell v, v^T and diag(v), and what each becomes."""
    v = q.numerator
    run = list(v.args) if isinstance(v, sympy.MatMul) else [v]
    back = [_canonical(sympy.Transpose(f).doit(deep=False)) for f in reversed(run)]
    out = [(run, q.name), ([sympy.Transpose(v)], sympy.Transpose(q.name))]
    out += [(back, sympy.Transpose(q.name))] if len(run) > 1 else []
    return out + [([DiagMatrix(v)], DiagMatrix(q.name))]


def _rename(expr: sympy.Basic, q: Quotient) -> sympy.Basic:
    if isinstance(expr, sympy.MatAdd):
        return sympy.MatAdd(*(_rename(t, q) for t in expr.args))
    if not isinstance(expr, sympy.MatrixExpr):
        return expr
    factors = list(expr.args) if isinstance(expr, sympy.MatMul) else [expr]
    coeff = sympy.Mul(*(f for f in factors if not isinstance(f, sympy.MatrixExpr)))
    sums = [n for n, f in enumerate(factors) if isinstance(f, sympy.MatAdd)]
    if sums and coeff.has(q.denominator):  # (1/s) (diag(v) - v v^T / s): the 1/s goes inside
        inner = factors[sums[0]]
        pushed = sympy.MatAdd(*(mexpr.times(coeff, t) for t in inner.args))
        rest = [f for f in factors if isinstance(f, sympy.MatrixExpr)]
        factors = [pushed if f is inner else f for f in rest]
        coeff = sympy.Integer(1)
    factors = [_rename(f, q) if isinstance(f, sympy.MatAdd) else f for f in factors]
    matrices = [f for f in factors if isinstance(f, sympy.MatrixExpr)]
    power = -coeff.as_powers_dict().get(q.denominator, 0)
    budget = int(power) if isinstance(power, sympy.Integer) else 0
    keys, patterns = [_canonical(f) for f in matrices], _patterns(q)
    out: list[sympy.Basic] = []
    n = used = 0
    while n < len(matrices):
        hit = next((p for p in patterns if keys[n : n + len(p[0])] == p[0]), None)
        if hit is None or used == budget:
            out.append(matrices[n])
            n += 1
            continue
        out.append(hit[1])
        n += len(hit[0])
        used += 1
    if not used:
        return mexpr.times(coeff, mexpr.matmul(*matrices)) if len(factors) > 1 else factors[0]
    return mexpr.times(coeff * q.denominator**used, mexpr.matmul(*out))
