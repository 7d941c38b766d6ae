"""Lowering of entrywise operations (+ - .* ./ and / by a scalar), with numpy's broadcasting."""

from __future__ import annotations

import sympy

from derivtex.language import ir
from derivtex.language import nodes as n
from derivtex.language.builtins import Lowerer
from derivtex.language.shapes import ONE, Shape, computed_shape

MINUS_ONE = ir.Const(sympy.Integer(-1))
_MISMATCH = {
    "+": "cannot add",
    "-": "cannot subtract",
    "hadamard": "elementwise product of different shapes",
    "./": "elementwise division of different shapes",
}


def combine(lw: Lowerer, node: n.BinOp, left: ir.Op, right: ir.Op) -> ir.Op:
    """left op right for op in + - .* ./ /, a scalar times a tensor excepted (a Scale)."""
    if node.op == "/":
        return divide(lw, node, left, right)
    if node.op in ("+", "-") and isinstance(left, ir.Const) and isinstance(right, ir.Const):
        return ir.Const(left.value + (right.value if node.op == "+" else -right.value))
    shape, repeats = broadcast(lw, node, left.shape, right.shape)
    if node.op == "./":
        if isinstance(right, ir.Const):
            return ir.Scale(reciprocal(lw, right, node), left, shape)
        return ir.Divide(left, atomic(lw, right, node), shape, repeats)
    if node.op == "hadamard":
        return ir.Hadamard(left, right, shape, repeats)
    if node.op == "-":
        right = ir.Scale(MINUS_ONE, right, right.shape)
    return ir.Add(left, right, shape, repeats)


def broadcast(lw: Lowerer, node: n.BinOp, sa: Shape, sb: Shape) -> tuple[Shape, bool]:
    """The shape of an entrywise operation, and whether a scalar, row or column repeats."""
    if (sa.rows, sa.cols) == (sb.rows, sb.cols):
        return (computed_shape(sa.rows, sa.cols) if sa.flat or sb.flat else sa), False
    rows, cols = _axis(sa.rows, sb.rows), _axis(sa.cols, sb.cols)
    if rows is None or cols is None:
        raise lw.operands_error(
            _MISMATCH[node.op],
            node.left,
            sa,
            node.right,
            sb,
            "both operands must have the same shape, or one side a scalar, a row "
            "(1 x C) added to every row or a column (N x 1) added to every column; a "
            "column vector b is added to every row as b^T",
        )
    return computed_shape(rows, cols), True


def _axis(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr | None:
    """The size of one axis under broadcasting: equal sizes, or a size 1 that repeats."""
    if a == b or b == ONE:
        return a
    return b if a == ONE else None


def divide(lw: Lowerer, node: n.BinOp, left: ir.Op, right: ir.Op) -> ir.Op:
    """left / right, right a scalar."""
    if not right.shape.is_scalar:
        raise lw.shape_error(
            f"{lw.text(node.right)!r} is {right.shape.text()}: '/' divides by a scalar",
            node.right,
            "divide entry by entry with ./ (x ./ y); matrix inverses are not supported "
            "yet (planned)",
        )
    if isinstance(right, ir.Const):
        return ir.Scale(reciprocal(lw, right, node), left, left.shape)
    return ir.Divide(left, atomic(lw, right, node), left.shape)


def reciprocal(lw: Lowerer, c: ir.Const, node: n.BinOp) -> ir.Const:
    if c.value == 0:
        raise lw.shape_error("division by zero", node.right, "divide by a nonzero number")
    return ir.Const(1 / c.value)


def atomic(lw: Lowerer, op: ir.Op, node: n.BinOp) -> ir.Leaf | ir.Ref | ir.Dim:
    """A divisor as a name (or a size), so that 1 / d_i stays one factor."""
    if isinstance(op, ir.Dim):
        return op
    return lw.named(op, "den", node.span)


def ones_row(node: n.Node) -> bool:
    """Whether the node is 1^T (or 1', 1.T): the ones row."""
    return isinstance(node, n.Transpose) and isinstance(node.arg, n.Num) and node.arg.value == 1


def ones_times(lw: Lowerer, node: n.BinOp) -> ir.Op:
    """1^T X: the ones row as long as X has rows (column sums; 1^T x is sum(x))."""
    right = lw.lower(node.right)
    if right.shape.is_scalar:
        raise lw.shape_error(
            "1^T, the ones row, needs a vector or a matrix after it",
            node,
            "write 1^T x for the sum of x's entries",
        )
    ones = ir.Ones(Shape(ONE, right.shape.rows))
    return ir.MatMul(ones, right, computed_shape(ONE, right.shape.cols))
