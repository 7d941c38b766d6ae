"""Lowering of the functions that are not elementwise: norm1, mean, diag, softmax and friends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import sympy

from derivtex.errors import ShapeError
from derivtex.language import ir
from derivtex.language import nodes as n
from derivtex.language.shapes import SCALAR, Shape, computed_shape


class Lowerer(Protocol):
    """What the lowerings outside the type checker need of its lowerer."""

    def lower(self, node: n.Node, top: bool = False) -> ir.Op: ...
    def operands_error(
        self, what: str, a: n.Node, sa: Shape, b: n.Node, sb: Shape, hint: str
    ) -> ShapeError: ...

    def named(self, op: ir.Op, role: str, span: n.Span) -> ir.Leaf | ir.Ref: ...
    def shape_error(self, message: str, node: n.Node, hint: str) -> ShapeError: ...
    def text(self, node: n.Node) -> str: ...
    def eye(self, size: str, node: n.Node) -> ir.Eye: ...


Lowering = Callable[[Lowerer, n.Call, ir.Op, bool], ir.Op]
MINUS_ONE = ir.Const(sympy.Integer(-1))


def norm1(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """||x||_1 = sum(abs(x))."""
    absolute = ir.Apply("abs", lw.named(arg, "arg", node.span), arg.shape)
    return ir.Total(absolute)


def mean(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """sum(x) / (its number of entries)."""
    count = arg.shape.rows * arg.shape.cols
    total = ir.Total(arg)
    if count.is_Integer:
        return ir.Scale(ir.Const(sympy.Rational(1, int(count))), total, SCALAR)
    return ir.Divide(total, ir.Dim(count), SCALAR)


def diag(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """A vector on a diagonal (vector -> matrix), or a square matrix's diagonal (-> vector)."""
    shape = arg.shape
    if shape.kind == "vector":
        size = shape.rows * shape.cols
        return ir.Diag(arg, Shape(size, size))
    if shape.kind == "matrix" and shape.rows == shape.cols:
        return ir.Diag(arg, computed_shape(shape.rows, sympy.Integer(1)))
    raise lw.shape_error(
        f"diag() takes a vector or a square matrix; {lw.text(node.args[0])!r} is {shape.text()}",
        node,
        "diag(x) puts a vector on a diagonal, diag(A) reads a square matrix's diagonal",
    )


def _vector_only(lw: Lowerer, node: n.Call, arg: ir.Op) -> None:
    if arg.shape.kind == "scalar":
        raise lw.shape_error(
            f"{node.func}() takes a vector; {lw.text(node.args[0])!r} is a scalar",
            node,
            f"apply {node.func} to a vector, e.g. {node.func}(W x)",
        )
    if arg.shape.kind != "vector":
        raise lw.shape_error(
            f"{node.func}() of {lw.text(node.args[0])!r}, which is {arg.shape.text()}, needs an "
            "axis: not supported yet",
            node,
            f"apply {node.func} to a vector, e.g. {node.func}(W x); for a batch, one column "
            "at a time",
        )


def softmax(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """exp(z) / sum(exp(z)) of a vector, named so its derivative reads diag(p) - p p^T."""
    _vector_only(lw, node, arg)
    op = ir.Softmax(lw.named(arg, "arg", node.span), arg.shape)
    return op if top else lw.named(op, "softmax", node.span)


def logsumexp(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """log(sum(exp(z))) over every entry, named like a norm (its value is in its derivative)."""
    op = ir.SmoothMax(lw.named(arg, "arg", node.span))
    return op if top else lw.named(op, "lse", node.span)


def log_softmax(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """z - logsumexp(z), the logsumexp subtracted from every entry."""
    _vector_only(lw, node, arg)
    z = lw.named(arg, "arg", node.span)
    lse = lw.named(ir.SmoothMax(z), "lse", node.span)
    return ir.Add(z, ir.Scale(MINUS_ONE, lse, SCALAR), arg.shape, broadcast=True)


def eye(lw: Lowerer, node: n.Call, arg: ir.Op, top: bool) -> ir.Op:
    """eye(D): the D x D identity."""
    match arg:
        case ir.Dim(value=v) if v.is_Symbol:
            return lw.eye(str(v), node)
        case ir.Const(value=v) if v.is_Integer:
            return lw.eye(str(v), node)
    raise lw.shape_error(
        "eye() takes a size", node, "write eye(D) or I_D with D a size in the shapes"
    )


LOWERINGS: dict[str, Lowering] = {
    "norm1": norm1,
    "mean": mean,
    "diag": diag,
    "softmax": softmax,
    "logsumexp": logsumexp,
    "log_softmax": log_softmax,
    "eye": eye,
}
