"""Matrix-form expressions: sympy matrix expressions, plus the scalars of matrices sympy lacks."""

from __future__ import annotations

from typing import cast

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.shapes import ONE, Shape


class ScalarOf(sympy.Expr):
    """A scalar made from one matrix expression (its only argument, `.matrix`)."""

    is_commutative = True

    def __new__(cls, matrix: sympy.MatrixExpr) -> sympy.Expr:
        return sympy.Expr.__new__(cls, matrix)

    @property
    def matrix(self) -> sympy.MatrixExpr:
        return self.args[0]


class Scalar(ScalarOf):
    """The single entry of a 1 x 1 matrix expression, such as a^T x."""


class Norm(ScalarOf):
    """The Euclidean (Frobenius) norm of a matrix expression."""

    is_positive = True


class SumOf(ScalarOf):
    """The sum of all entries of a matrix expression."""


class LogSumExp(ScalarOf):
    """log of the sum of exp of every entry of a matrix expression."""


class LogDet(ScalarOf):
    """log det of a square matrix expression (log|det| where the determinant is negative)."""


class InverseEntry(sympy.Expr):
    """(X^{-1})_{i,j}, for display: the entry of an inverse, indices counted from 1."""

    is_commutative = True

    def __new__(cls, matrix: sympy.MatrixExpr, i: sympy.Expr, j: sympy.Expr) -> sympy.Expr:
        return sympy.Expr.__new__(cls, matrix, sympy.sympify(i), sympy.sympify(j))

    @property
    def matrix(self) -> sympy.MatrixExpr:
        return self.args[0]


class ElementwiseDivide(sympy.MatrixExpr):
    """a ./ b, entry by entry, for matrix expressions of one shape (Matrix Cookbook's oslash)."""

    def __new__(cls, a: sympy.MatrixExpr, b: sympy.MatrixExpr) -> sympy.MatrixExpr:
        return sympy.MatrixExpr.__new__(cls, a, b)

    @property
    def shape(self) -> tuple[sympy.Expr, sympy.Expr]:
        return cast("tuple[sympy.Expr, sympy.Expr]", self.args[0].shape)


class SoftmaxOf(sympy.MatrixExpr):
    """softmax(z) = exp(z) / sum(exp(z)) of a vector expression."""

    def __new__(cls, arg: sympy.MatrixExpr) -> sympy.MatrixExpr:
        return sympy.MatrixExpr.__new__(cls, arg)

    @property
    def arg(self) -> sympy.MatrixExpr:
        return self.args[0]

    @property
    def shape(self) -> tuple[sympy.Expr, sympy.Expr]:
        return cast("tuple[sympy.Expr, sympy.Expr]", self.args[0].shape)


class Slice(sympy.Symbol):
    """The index ':' of a whole row or column, as in Y_{i,:}."""

    def __new__(cls, name: str = "Slice") -> Slice:  # srepr writes Slice('Slice')
        return cast(Slice, super().__new__(cls, "Slice"))

    def _sympystr(self, printer: object) -> str:
        return ":"


def symbol(name: str, shape: Shape) -> sympy.Basic:
    """A named tensor in matrix form: a Symbol for a scalar, else a MatrixSymbol."""
    if shape.is_scalar:
        return sympy.Symbol(name)
    return sympy.MatrixSymbol(name, shape.rows, shape.cols)


def as_scalar(expr: sympy.Basic) -> sympy.Expr:
    """A 1 x 1 matrix expression as a scalar; scalars pass through."""
    if isinstance(expr, sympy.MatrixExpr):
        return Scalar(expr)
    return expr


def matmul(*factors: sympy.Basic) -> sympy.MatrixExpr:
    """A flat product: nested products are spliced in, so no needless parentheses print."""
    args: list[sympy.Basic] = []
    for f in factors:
        args.extend(f.args if isinstance(f, sympy.MatMul) else (f,))
    return sympy.MatMul(*args)


def times(c: sympy.Expr, m: sympy.Basic) -> sympy.Basic:
    if c == 1:
        return m
    return matmul(c, m) if isinstance(m, sympy.MatrixExpr) else c * m


def elementwise(func: sympy.Lambda, arg: sympy.Basic) -> sympy.Basic:
    if isinstance(arg, sympy.MatrixExpr):
        return ElementwiseApplyFunction(func, arg)
    return func(arg)


def of_op(op: ir.Op, env: dict[str, sympy.Basic]) -> sympy.Basic:
    """The matrix form of an operation; `env` maps names to their matrix forms."""
    match op:
        case ir.Leaf(name=name, shape=shape) | ir.Ref(name=name, shape=shape):
            return env.get(name, symbol(name, shape))
        case ir.Const(value=v) | ir.Dim(value=v):
            return v
        case ir.Eye(size=v):
            return sympy.Identity(v)
        case ir.Ones(shape=shape):
            return sympy.OneMatrix(shape.rows, shape.cols)
        case ir.Scale(factor=f, arg=a):
            return times(as_scalar(of_op(f, env)), of_op(a, env))
        case ir.MatMul(left=a, right=b):
            return matmul(of_op(a, env), of_op(b, env))
        case ir.Add(left=a, right=b):
            return _add(*_operands(op, env))
        case ir.Hadamard():
            return _hadamard(*_operands(op, env))
        case ir.Divide():
            return _divide(*_operands(op, env))
        case ir.Transpose(arg=a):
            inner = of_op(a, env)
            return sympy.Transpose(inner) if isinstance(inner, sympy.MatrixExpr) else inner
        case ir.Apply(func=f, arg=a):
            u = sympy.Dummy("d")
            return elementwise(sympy.Lambda(u, ELEMENTWISE[f].sympy_func(u)), of_op(a, env))
        case ir.Power(base=b, exponent=p):
            base = of_op(b, env)
            if isinstance(base, sympy.MatrixExpr) and not b.shape.is_scalar:
                return sympy.HadamardPower(base, p)
            return as_scalar(base) ** p
        case ir.Softmax(arg=a):
            return SoftmaxOf(of_op(a, env))
        case ir.SmoothMax(arg=a):
            return LogSumExp(of_op(a, env))
        case ir.Diag(arg=a):
            return _diag(of_op(a, env), len(op.shape.free_dims) == 2)
        case ir.Length(arg=a):
            return Norm(of_op(a, env))
        case ir.Inverse(arg=a):
            return sympy.Inverse(of_op(a, env))
        case ir.Det(arg=a, log=log):
            return LogDet(of_op(a, env)) if log else sympy.Determinant(of_op(a, env))
        case ir.Total(arg=a):
            inner = of_op(a, env)
            return SumOf(inner) if isinstance(inner, sympy.MatrixExpr) else inner
        case ir.Trace(arg=a):
            inner = of_op(a, env)
            return sympy.Trace(inner) if isinstance(inner, sympy.MatrixExpr) else inner
    raise TypeError(op)


def broadcast(m: sympy.Basic, shape: Shape) -> sympy.Basic:
    """A scalar, row or column repeated to `shape`, written with ones: 1 b^T, b 1^T, c 1."""
    if shape.is_scalar:
        return m
    if not isinstance(m, sympy.MatrixExpr):
        ones = sympy.OneMatrix(shape.rows, shape.cols)
        return ones if m == 1 else matmul(m, ones)
    rows, cols = m.shape
    if rows == ONE and shape.rows != ONE:
        m = matmul(sympy.OneMatrix(shape.rows, ONE), m)
    if cols == ONE and shape.cols != ONE:
        m = matmul(m, sympy.OneMatrix(ONE, shape.cols))
    return m


def _operands(
    op: ir.Add | ir.Hadamard | ir.Divide, env: dict[str, sympy.Basic]
) -> tuple[sympy.Basic, sympy.Basic]:
    a, b = of_op(op.left, env), of_op(op.right, env)
    if not getattr(op, "broadcast", False):
        return a, b
    return broadcast(a, op.shape), broadcast(b, op.shape)


def _hadamard(a: sympy.Basic, b: sympy.Basic) -> sympy.Basic:
    if isinstance(a, sympy.MatrixExpr) and isinstance(b, sympy.MatrixExpr):
        return sympy.HadamardProduct(a, b)
    return times(as_scalar(a), b) if not isinstance(a, sympy.MatrixExpr) else times(b, a)


def _divide(a: sympy.Basic, b: sympy.Basic) -> sympy.Basic:
    if isinstance(b, sympy.MatrixExpr) and b.shape != (ONE, ONE):
        return ElementwiseDivide(a, b)
    return times(1 / as_scalar(b), a)


def _diag(m: sympy.Basic, to_matrix: bool) -> sympy.Basic:
    if not to_matrix:
        return DiagonalOf(m)
    return DiagMatrix(sympy.Transpose(m) if m.shape[0] == ONE else m)


def _add(a: sympy.Basic, b: sympy.Basic) -> sympy.Basic:
    if isinstance(a, sympy.MatrixExpr):
        return sympy.MatAdd(a, b)
    return as_scalar(a) + as_scalar(b)


def column(name: str, shape: Shape) -> sympy.MatrixExpr:
    """A vector as a column (a row vector is transposed)."""
    m = sympy.MatrixSymbol(name, shape.rows, shape.cols)
    return sympy.Transpose(m) if shape.rows == ONE else m
