"""The rules derived from first principles: the derivative of an inverse and of a determinant.

An inverse: differentiate one entry of the identity X X^{-1} = I and solve for the partial.
A determinant: the cofactor expansion along a row, where one term alone holds the entry.
Each line is sympy math; the last is the engine's own local derivative (checked in the tests).
"""

from __future__ import annotations

import sympy

from derivtex.calculus import mexpr
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import index_letters, reserved_names
from derivtex.derivation import steps as S
from derivtex.derivation.stepmath import SumExcept
from derivtex.language import ir

D = sympy.KroneckerDelta


def worked_rules(d: Derivative) -> tuple[S.WorkedRule, ...]:
    """One worked rule per inverse and per determinant on the way from the output to wrt."""
    out: list[S.WorkedRule] = []
    for definition in d.graph.definitions:
        op = definition.op
        if isinstance(op, ir.Inverse) and _on_path(d, definition.name, op.arg.name):
            out.append(inverse_rule(d, definition.name, op.arg.name))
        elif isinstance(op, ir.Det) and _on_path(d, definition.name, op.arg.name):
            out.append(determinant_rule(d, op.arg.name, op.inverse, op.log))
    return tuple(out)


def _on_path(d: Derivative, name: str, arg: str) -> bool:
    """Whether the output reads `name` and `arg` is (or reads) wrt."""
    from derivtex.language.typecheck import depends_on

    reads = name == d.output or name in depends_on(d.graph, d.output)
    return reads and (arg == d.wrt or d.wrt in depends_on(d.graph, arg))


def _letters(d: Derivative, n: int) -> tuple[sympy.Symbol, ...]:
    return index_letters(reserved_names(d.graph))[:n]


def _entry(name: str, *idx: sympy.Expr) -> sympy.Expr:
    return sympy.IndexedBase(name)[idx]


def _mul(*factors: sympy.Expr) -> sympy.Expr:
    return sympy.Mul(*factors, evaluate=False)  # in the order the rule reads


def _add(*terms: sympy.Expr) -> sympy.Expr:
    return sympy.Add(*terms, evaluate=False)


def inverse_rule(d: Derivative, q: str, x: str) -> S.WorkedRule:
    """d(X^{-1})_{k,l} / dX_{i,j} = -(X^{-1})_{k,i} (X^{-1})_{j,l}, from X X^{-1} = I."""
    i, j, k, l, m, p = _letters(d, 6)  # noqa: E741 - l is an index, as in the notes
    size = d.graph.shape_of(x).rows

    def dq(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
        return sympy.Derivative(_entry(q, a, b), _entry(x, i, j))

    def X(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:  # noqa: N802 - the matrix, as in the notes
        return _entry(x, a, b)

    def Q(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:  # noqa: N802 - the matrix, as in the notes
        return _entry(q, a, b)

    def total(e: sympy.Expr, *ix: sympy.Symbol) -> sympy.Expr:
        return sympy.Sum(e, *((t, 1, size) for t in ix))

    zero = sympy.Integer(0)
    d_x = sympy.Derivative(X(m, p), X(i, j))
    lines = (
        (total(_mul(X(m, p), Q(p, l)), p), D(m, l)),
        (_add(total(_mul(d_x, Q(p, l)), p), total(_mul(X(m, p), dq(p, l)), p)), zero),
        (_add(_mul(D(m, i), Q(j, l)), total(_mul(X(m, p), dq(p, l)), p)), zero),
        (
            _add(
                total(_mul(Q(k, m), D(m, i), Q(j, l)), m),
                total(_mul(Q(k, m), X(m, p), dq(p, l)), m, p),
            ),
            zero,
        ),
        (_add(_mul(Q(k, i), Q(j, l)), dq(k, l)), zero),
        (dq(k, l), -_mul(Q(k, i), Q(j, l))),
    )
    reasons = (
        f"One entry, ({m}, {l}), of the identity {x} {q} = I, where {q} is the inverse of {x}:",
        f"Differentiate both sides by the entry ({i}, {j}) of {x} with the product rule (the "
        "right side is constant):",
        f"The entry ({m}, {p}) of {x} has partial 1 by the entry ({i}, {j}) and 0 by any other, "
        f"so the sum over the partials of {x} keeps one term:",
        f"Multiply both sides by the entry ({k}, {m}) of {q} and sum over {m}:",
        f"Since {q} {x} = I, the sum over {m} is 1 where {p} = {k} and 0 elsewhere:",
        "Solve for the partial:",
    )
    why = (
        f"The entries of the inverse {q} are no sums to expand, but {x} {q} = I holds for every "
        f"{x}: differentiate one entry of it and solve for the partial."
    )
    return S.WorkedRule(why, "inverse", lines, reasons)


def determinant_rule(d: Derivative, x: str, inv: str, log: bool) -> S.WorkedRule:
    """d det X / dX_{i,j} = C_{i,j} = det(X) (X^{-1})_{j,i}, from the cofactor expansion."""
    i, j, _, l = _letters(d, 4)  # noqa: E741 - l is an index, as in the notes
    size = d.graph.shape_of(x).rows
    c = next(n for n in ("C", "K", "G", "M", "C_f") if n not in reserved_names(d.graph))
    det = sympy.Determinant(mexpr.symbol(x, d.graph.shape_of(x)))

    def X(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:  # noqa: N802 - the matrix, as in the notes
        return _entry(x, a, b)

    def C(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:  # noqa: N802 - the matrix, as in the notes
        return _entry(c, a, b)

    rest = SumExcept.make(_mul(X(i, l), C(i, l)), (((l,), (j,), (size,)),))
    lines = [
        (det, sympy.Sum(_mul(X(i, l), C(i, l)), (l, 1, size))),
        (det, _add(rest, _mul(X(i, j), C(i, j)))),
        (sympy.Derivative(det, X(i, j)), C(i, j)),
        (C(i, j), _mul(det, _entry(inv, j, i))),
    ]
    reasons = [
        f"Expand along row {i}, the row of the entry ({i}, {j}); the entry ({i}, {l}) of {c} is "
        f"the cofactor of the entry ({i}, {l}) of {x}:",
        f"No cofactor of row {i} holds an entry of row {i}, so one term alone holds the entry "
        f"({i}, {j}) of {x}:",
        "Differentiate term by term: every other term is constant (the constant-factor rule):",
        f"The cofactors are the transposed adjugate, and the inverse {inv} of {x} is the adjugate "
        f"over the determinant:",
    ]
    if log:
        lhs = sympy.Derivative(mexpr.LogDet(det.arg), X(i, j))
        lines.append((lhs, _entry(inv, j, i)))
        reasons.append("Through the logarithm (the chain rule), divide by the determinant:")
    why = (
        f"A determinant is a sum of products, but not one to write out entry by entry: expand "
        f"it by cofactors along the row of the entry ({i}, {j}) of {x} instead."
    )
    return S.WorkedRule(why, "determinant", tuple(lines), tuple(reasons))
