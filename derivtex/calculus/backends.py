"""The two ways derivtex evaluates: numpy arrays of floats, and explicit sympy matrices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import sympy

from derivtex.language.functions import NUMPY_FUNCS

FloatArray: TypeAlias = npt.NDArray[np.float64]
# numpy's backend computes on float arrays; the point backend (pointbackend.py) reuses it on
# object arrays of exact field elements, hence any dtype.
Array: TypeAlias = npt.NDArray[Any]
# What a backend computes with: 2-D arrays, or explicit sympy matrices (sympy is untyped).
Matrix: TypeAlias = "Array | sympy.ImmutableMatrix"
Numeric: TypeAlias = "float | Array"  # to_numpy's value: a float, or an array of them


def to_numpy(expr: sympy.Basic, values: Mapping[sympy.Basic, Numeric]) -> Numeric:
    """Evaluate a scalar sympy expression with numpy, given arrays for its atoms.

    A small interpreter rather than sympy.lambdify: lambdify's first call imports much of numpy
    and costs a fifth of a second, more than a whole derivation.
    """
    if expr in values:
        return values[expr]
    if expr.is_Number:
        return float(expr)
    args = [to_numpy(a, values) for a in expr.args]
    if isinstance(expr, sympy.Add):
        return sum(args[1:], args[0])
    if isinstance(expr, sympy.Mul):
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if isinstance(expr, sympy.Pow):
        powered: Array = np.power(np.asarray(args[0], dtype=float), args[1])
        return powered
    name = getattr(expr.func, "__name__", "")
    if name in NUMPY_FUNCS and len(args) == 1:
        return NUMPY_FUNCS[name](np.asarray(args[0], dtype=float))
    raise TypeError(f"cannot evaluate {expr} numerically")


class Backend(Protocol):
    """The operations numeric's evaluators ask of a backend, each on 2-D values (scalars 1 x 1)."""

    def matmul(self, a: Matrix, b: Matrix) -> Matrix: ...
    def hadamard(self, a: Matrix, b: Matrix) -> Matrix: ...
    def transpose(self, a: Matrix) -> Matrix: ...
    def apply(self, func: sympy.Lambda, a: Matrix) -> Matrix: ...
    def scalar(self, value: Any) -> Matrix: ...
    def diag(self, v: Matrix) -> Matrix: ...
    def eye(self, n: int) -> Matrix: ...
    def full(self, r: int, c: int, value: Any) -> Matrix: ...
    def norm(self, a: Matrix) -> Matrix: ...
    def total(self, a: Matrix) -> Matrix: ...
    def trace(self, a: Matrix) -> Matrix: ...
    def entry(self, a: Matrix) -> Any: ...
    def expand(self, a: Matrix, rows: int, cols: int) -> Matrix: ...
    def divide(self, a: Matrix, b: Matrix) -> Matrix: ...
    def power(self, a: Matrix, p: sympy.Expr) -> Matrix: ...
    def softmax(self, a: Matrix) -> Matrix: ...
    def logsumexp(self, a: Matrix) -> Matrix: ...
    def diagonal(self, a: Matrix) -> Matrix: ...
    def inverse(self, a: Matrix) -> Matrix: ...
    def det(self, a: Matrix) -> Matrix: ...
    def logdet(self, a: Matrix) -> Matrix: ...
    def evaluate(
        self, expr: sympy.Expr, values: Mapping[sympy.Basic, Any], dims: Mapping[sympy.Basic, int]
    ) -> Any: ...


class NumpyBackend:
    """Arrays of floats."""

    def matmul(self, a: Array, b: Array) -> Array:
        return a @ b

    def hadamard(self, a: Array, b: Array) -> Array:
        return a * b

    def transpose(self, a: Array) -> Array:
        return a.T

    def apply(self, func: sympy.Lambda, a: Array) -> Array:
        (var,) = func.variables
        return np.asarray(to_numpy(func.expr, {var: a}), dtype=float) * np.ones_like(a)

    def scalar(self, value: Any) -> np.ndarray:
        value = complex(value)  # a negative base to a fractional power is not real: nan
        return np.full((1, 1), value.real if value.imag == 0 else float("nan"))

    def diag(self, v: Array) -> Array:
        return np.diag(v.reshape(-1))

    def eye(self, n: int) -> Array:
        return np.eye(n)

    def full(self, r: int, c: int, value: Any) -> Array:
        return np.full((r, c), float(value))

    def norm(self, a: Array) -> Array:
        return self.scalar(np.sqrt(np.sum(a * a)))

    def total(self, a: Array) -> Array:
        return self.scalar(np.sum(a))

    def trace(self, a: Array) -> Array:
        return self.scalar(np.trace(a))

    def entry(self, a: Array) -> Any:
        return a[0, 0]

    def expand(self, a: Array, rows: int, cols: int) -> Array:
        """A scalar, row or column repeated to rows x cols (numpy broadcasting)."""
        return np.broadcast_to(a, (rows, cols))

    def divide(self, a: Array, b: Array) -> Array:
        return a / b

    def power(self, a: Array, p: sympy.Expr) -> Array:
        if p.is_integer:
            return np.power(a, float(p))
        with np.errstate(all="ignore"):  # a negative base to a fractional power is not real
            real: Array = np.where(a >= 0, np.power(np.abs(a), float(p)), np.nan)
            return real

    def softmax(self, a: Array) -> Array:
        e = np.exp(a - np.max(a))
        out: Array = e / np.sum(e)
        return out

    def logsumexp(self, a: Array) -> Array:
        top = np.max(a)
        return self.scalar(top + np.log(np.sum(np.exp(a - top))))

    def diagonal(self, a: Array) -> Array:
        return np.diag(a).reshape(-1, 1).copy()

    def inverse(self, a: Array) -> Array:
        return np.linalg.inv(a)

    def det(self, a: Array) -> Array:
        return self.scalar(np.linalg.det(a))

    def logdet(self, a: Array) -> Array:
        """log|det a|: log det a where it is positive, with the same derivative everywhere."""
        return self.scalar(np.linalg.slogdet(a)[1])

    def evaluate(
        self, expr: sympy.Expr, values: Mapping[sympy.Basic, Any], dims: Mapping[sympy.Basic, int]
    ) -> Any:
        """A scalar expression, given values for its atoms and the sizes of the dimensions."""
        return float(to_numpy(expr, {**values, **dims}))


class SympyBackend:
    """Explicit sympy matrices, for exact checks."""

    def matmul(self, a: sympy.ImmutableMatrix, b: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return a * b

    def hadamard(self, a: sympy.ImmutableMatrix, b: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return a.multiply_elementwise(b)

    def transpose(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return a.T

    def apply(self, func: sympy.Lambda, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return a.applyfunc(func)

    def scalar(self, value: Any) -> sympy.ImmutableMatrix:
        return sympy.ImmutableMatrix([[value]])

    def diag(self, v: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        entries = list(v)  # a column or a row
        n = len(entries)
        return sympy.ImmutableMatrix(n, n, lambda r, c: entries[r] if r == c else 0)

    def eye(self, n: int) -> sympy.ImmutableMatrix:
        return sympy.ImmutableMatrix(sympy.eye(n))

    def full(self, r: int, c: int, value: Any) -> sympy.ImmutableMatrix:
        return sympy.ImmutableMatrix(sympy.Matrix.ones(r, c) * value)

    def norm(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return self.scalar(sympy.sqrt(sum(x**2 for x in a)))

    def total(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return self.scalar(sum(a))

    def trace(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return self.scalar(a.trace())

    def expand(self, a: sympy.ImmutableMatrix, rows: int, cols: int) -> sympy.ImmutableMatrix:
        r, c = a.shape
        return sympy.ImmutableMatrix(rows, cols, lambda i, j: a[i % r, j % c])

    def divide(self, a: sympy.ImmutableMatrix, b: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        r, c = b.shape
        return sympy.ImmutableMatrix(*a.shape, lambda i, j: a[i, j] / b[i % r, j % c])

    def power(self, a: sympy.ImmutableMatrix, p: sympy.Expr) -> sympy.ImmutableMatrix:
        return a.applyfunc(lambda v: v**p)

    def softmax(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        e = a.applyfunc(sympy.exp)
        return e / sum(e)

    def logsumexp(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return self.scalar(sympy.log(sum(a.applyfunc(sympy.exp))))

    def diagonal(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return sympy.ImmutableMatrix([[a[i, i]] for i in range(a.shape[0])])

    def inverse(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return sympy.ImmutableMatrix(a.inv(method="LU"))

    def det(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        return self.scalar(a.det())

    def logdet(self, a: sympy.ImmutableMatrix) -> sympy.ImmutableMatrix:
        # Symbolic entries: log det (the derivative is the same as of log|det|).
        return self.scalar(sympy.log(a.det()))

    def evaluate(
        self, expr: sympy.Expr, values: Mapping[sympy.Basic, Any], dims: Mapping[sympy.Basic, int]
    ) -> Any:
        return expr.xreplace(values).xreplace(dims)

    def entry(self, a: sympy.ImmutableMatrix) -> Any:
        return a[0, 0]


NUMPY, SYMPY = NumpyBackend(), SympyBackend()
