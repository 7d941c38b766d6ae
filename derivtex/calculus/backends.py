"""The two ways derivtex evaluates: numpy arrays of floats, and explicit sympy matrices."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from derivtex.language.functions import NUMPY_FUNCS


def to_numpy(expr: sympy.Basic, values: dict) -> Any:
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
        return np.power(np.asarray(args[0], dtype=float), args[1])
    name = getattr(expr.func, "__name__", "")
    if name in NUMPY_FUNCS and len(args) == 1:
        return NUMPY_FUNCS[name](np.asarray(args[0], dtype=float))
    raise TypeError(f"cannot evaluate {expr} numerically")


class NumpyBackend:
    """Arrays of floats."""

    def matmul(self, a, b):
        return a @ b

    def hadamard(self, a, b):
        return a * b

    def transpose(self, a):
        return a.T

    def apply(self, func: sympy.Lambda, a):
        (var,) = func.variables
        return np.asarray(to_numpy(func.expr, {var: a}), dtype=float) * np.ones_like(a)

    def scalar(self, value) -> np.ndarray:
        value = complex(value)  # a negative base to a fractional power is not real: nan
        return np.full((1, 1), value.real if value.imag == 0 else float("nan"))

    def diag(self, v):
        return np.diag(v.reshape(-1))

    def eye(self, n):
        return np.eye(n)

    def full(self, r, c, value):
        return np.full((r, c), float(value))

    def norm(self, a):
        return self.scalar(np.sqrt(np.sum(a * a)))

    def total(self, a):
        return self.scalar(np.sum(a))

    def trace(self, a):
        return self.scalar(np.trace(a))

    def entry(self, a):
        return a[0, 0]

    def expand(self, a, rows: int, cols: int):
        """A scalar, row or column repeated to rows x cols (numpy broadcasting)."""
        return np.broadcast_to(a, (rows, cols))

    def divide(self, a, b):
        return a / b

    def power(self, a, p):
        if p.is_integer:
            return np.power(a, float(p))
        with np.errstate(all="ignore"):  # a negative base to a fractional power is not real
            return np.where(a >= 0, np.power(np.abs(a), float(p)), np.nan)

    def softmax(self, a):
        e = np.exp(a - np.max(a))
        return e / np.sum(e)

    def logsumexp(self, a):
        top = np.max(a)
        return self.scalar(top + np.log(np.sum(np.exp(a - top))))

    def diagonal(self, a):
        return np.diag(a).reshape(-1, 1).copy()

    def inverse(self, a):
        return np.linalg.inv(a)

    def det(self, a):
        return self.scalar(np.linalg.det(a))

    def logdet(self, a):
        """log|det a|: log det a where it is positive, with the same derivative everywhere."""
        return self.scalar(np.linalg.slogdet(a)[1])

    def evaluate(self, expr: sympy.Expr, values: dict, dims: dict):
        """A scalar expression, given values for its atoms and the sizes of the dimensions."""
        return float(to_numpy(expr, {**values, **dims}))


class SympyBackend(NumpyBackend):
    """Explicit sympy matrices, for exact checks."""

    def matmul(self, a, b):
        return a * b

    def hadamard(self, a, b):
        return a.multiply_elementwise(b)

    def transpose(self, a):
        return a.T

    def apply(self, func: sympy.Lambda, a):
        return a.applyfunc(func)

    def scalar(self, value):
        return sympy.ImmutableMatrix([[value]])

    def diag(self, v):
        entries = list(v)  # a column or a row
        n = len(entries)
        return sympy.ImmutableMatrix(n, n, lambda r, c: entries[r] if r == c else 0)

    def eye(self, n):
        return sympy.ImmutableMatrix(sympy.eye(n))

    def full(self, r, c, value):
        return sympy.ImmutableMatrix(sympy.Matrix.ones(r, c) * value)

    def norm(self, a):
        return self.scalar(sympy.sqrt(sum(x**2 for x in a)))

    def total(self, a):
        return self.scalar(sum(a))

    def trace(self, a):
        return self.scalar(a.trace())

    def expand(self, a, rows: int, cols: int):
        r, c = a.shape
        return sympy.ImmutableMatrix(rows, cols, lambda i, j: a[i % r, j % c])

    def divide(self, a, b):
        r, c = b.shape
        return sympy.ImmutableMatrix(*a.shape, lambda i, j: a[i, j] / b[i % r, j % c])

    def power(self, a, p):
        return a.applyfunc(lambda v: v**p)

    def softmax(self, a):
        e = a.applyfunc(sympy.exp)
        return e / sum(e)

    def logsumexp(self, a):
        return self.scalar(sympy.log(sum(a.applyfunc(sympy.exp))))

    def diagonal(self, a):
        return sympy.ImmutableMatrix([[a[i, i]] for i in range(a.shape[0])])

    def inverse(self, a):
        return sympy.ImmutableMatrix(a.inv(method="LU"))

    def det(self, a):
        return self.scalar(a.det())

    def logdet(self, a):
        # Symbolic entries: log det (the derivative is the same as of log|det|).
        return self.scalar(sympy.log(a.det()))

    def evaluate(self, expr: sympy.Expr, values: dict, dims: dict):
        return expr.xreplace(values).xreplace(dims)


NUMPY, SYMPY = NumpyBackend(), SympyBackend()


def _scale(backend, c, m):
    return c * m
