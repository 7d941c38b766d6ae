"""Lowering of matrix algebra: inv, det, logdet and integer matrix powers."""

from __future__ import annotations

from derivtex.language import ir
from derivtex.language import nodes as n
from derivtex.language.builtins import Lowerer
from derivtex.language.limits import LIMITS
from derivtex.language.shapes import Shape, computed_shape


def _square(lw: Lowerer, node: n.Node, what: str, arg: ir.Op, shown: n.Node) -> None:
    """Raise unless arg is a square matrix, saying what to write instead."""
    shape = arg.shape
    if shape.kind == "matrix" and shape.rows == shape.cols:
        return
    hints = {
        "scalar": "for a scalar s write 1 / s (inverse), s (determinant) or log(s)",
        "vector": f"{what} needs a square matrix; for a vector x try x^T x or diag(x)",
    }
    shown_as = "a scalar" if shape.is_scalar else shape.text()
    raise lw.shape_error(
        f"{what} needs a square matrix; {lw.text(shown)!r} is {shown_as}",
        node,
        hints.get(shape.kind, f"{what} of a D x D matrix, e.g. of X^T X when X is N x D"),
    )


def inverse(lw: Lowerer, node: n.Node, arg: ir.Op, shown: n.Node, top: bool) -> ir.Op:
    """X^{-1}, named: its derivative -X^{-1} dX X^{-1} reads its own name."""
    _square(lw, node, "inv()", arg, shown)
    op = ir.Inverse(lw.named(arg, "arg", node.span), arg.shape)
    return op if top else lw.named(op, "inv", node.span)


def inv(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    return inverse(lw, node, arg, node.args[0], top)


def _determinant(lw: Lowerer, node: n.Call, arg: ir.Op, log: bool) -> ir.Det:
    _square(lw, node, f"{node.func}()", arg, node.args[0])
    x = lw.named(arg, "arg", node.span)
    inverse_name = lw.named(ir.Inverse(x, arg.shape), "inv", node.span).name
    return ir.Det(x, inverse_name, log)


def det(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """det(X), named inside others: its derivative det(X) X^{-T} reads its own value."""
    op = _determinant(lw, node, arg, False)
    return op if top else lw.named(op, "det", node.span)


def logdet(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """log|det(X)| (log det X where det X > 0), with derivative X^{-T}; named inside others."""
    op = _determinant(lw, node, arg, True)
    return op if top else lw.named(op, "det", node.span)


def log_of_det(node: n.Call) -> n.Call | None:
    """log(det(X)) as logdet(X): the same value where det X > 0, and the same derivative."""
    inner = node.args[0] if node.func == "log" and len(node.args) == 1 else None
    if isinstance(inner, n.Call) and inner.func == "det":
        return n.Call("logdet", inner.args, node.span)
    return None


def matrix_power(lw: Lowerer, node: n.Power, base: ir.Op, top: bool) -> ir.Op:
    """X^k as the product X X ... X (k factors); X^-k as inv(X)^k; X^-1 as inv(X)."""
    k = node.exponent
    what = f"the power {k} of {lw.text(node.base)!r}"
    if not k.is_integer:
        raise lw.shape_error(
            f"the matrix power of {lw.text(node.base)!r} has a non-integer exponent {k}",
            node,
            "matrix powers take integers (X^2, X^-1); raise every entry with .^ (X.^0.5)",
        )
    _square(lw, node, "a matrix power", base, node.base)
    if abs(k) > LIMITS.max_factors:
        raise lw.shape_error(
            f"{what} would multiply {abs(k)} factors (max_factors={LIMITS.max_factors})",
            node,
            "name a smaller power and multiply it, e.g. Y = X^4; Z = Y Y",
        )
    if k == 0:
        raise lw.shape_error(
            f"{what} is the identity", node, f"write I_{base.shape.rows} or eye(...) instead"
        )
    if k < 0:
        base = inverse(lw, node, base, node.base, top and k == -1)
        if k == -1:
            return base
    factor = lw.named(base, "base", node.span)
    return _chain(factor, abs(int(k)))


def _chain(factor: ir.Leaf | ir.Ref, k: int) -> ir.Op:
    """factor multiplied by itself k times, left to right (the product rule gives k terms)."""
    out: ir.Op = factor
    for _ in range(k - 1):
        out = ir.MatMul(out, factor, _same(factor.shape))
    return out


def _same(shape: Shape) -> Shape:
    return computed_shape(shape.rows, shape.cols)


LOWERINGS = {"inv": inv, "det": det, "logdet": logdet}
