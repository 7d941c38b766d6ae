"""numeric's backend at one point: object arrays of field elements or dual numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import sympy

from derivtex.calculus.backends import Array, NumpyBackend
from derivtex.calculus.elimination import eliminate
from derivtex.calculus.points import (
    TANGENT,
    VALUE,
    Dual,
    Field,
    NoPoint,
    call,
    each,
    evaluate,
    power_of,
    value_part,
)


class PointBackend(NumpyBackend):
    """numeric's backend on object arrays of field elements or dual numbers."""

    def __init__(self, field: Field) -> None:
        self.field = field

    def matmul(self, a: Array, b: Array) -> Array:
        """Values and tangents multiplied as plain arrays: n^2 field operations, n dual numbers."""
        if not (_has_dual(a) or _has_dual(b)):
            return a @ b
        (av, at), (bv, bt) = _split(a), _split(b)
        return _join(av @ bv, at @ bv + av @ bt, self.field)

    def apply(self, func: sympy.Lambda, a: Array) -> Array:
        (var,) = func.variables
        return np.asarray(each(lambda x: evaluate(func.expr, {var: x}, self.field), a))

    def scalar(self, value: Any) -> Array:
        out = np.empty((1, 1), dtype=object)
        out[0, 0] = value if _is_element(value) else self.field.number(sympy.sympify(value))
        return out

    def diag(self, v: Array) -> Array:
        flat = v.reshape(-1)
        out = self.full(len(flat), len(flat), 0)
        for n, x in enumerate(flat):
            out[n, n] = x
        return out

    def eye(self, n: int) -> Array:
        out = self.full(n, n, 0)
        for k in range(n):
            out[k, k] = self.field.number(sympy.Integer(1))
        return out

    def full(self, r: int, c: int, value: Any) -> Array:
        out = np.empty((r, c), dtype=object)
        out.fill(self.field.number(sympy.sympify(value)))
        return out

    def norm(self, a: Array) -> Array:
        total = sum(a.reshape(-1) * a.reshape(-1))
        return self.scalar(power_of(self.field, total, sympy.Rational(1, 2)))

    def total(self, a: Array) -> Array:
        return self.scalar(sum(a.reshape(-1)))

    def trace(self, a: Array) -> Array:
        return self.scalar(sum(np.diagonal(a)))

    def evaluate(
        self, expr: sympy.Expr, values: Mapping[sympy.Basic, Any], dims: Mapping[sympy.Basic, int]
    ) -> Any:
        return evaluate(expr, {**values, **dims}, self.field)

    # Operators numpy's backend would compute in floats (division of two integers among them).
    def divide(self, a: Array, b: Array) -> Array:
        return a * _each(lambda x: power_of(self.field, x, sympy.Integer(-1)), b)

    def power(self, a: Array, p: sympy.Expr) -> Array:
        return _each(lambda x: power_of(self.field, x, sympy.sympify(p)), a)

    def softmax(self, a: Array) -> Array:
        e = each(lambda x: call(self.field, sympy.exp, x), a)
        return self.divide(e, self.total(e))

    def logsumexp(self, a: Array) -> Array:
        total = self.entry(self.total(each(lambda x: call(self.field, sympy.exp, x), a)))
        return self.scalar(call(self.field, sympy.log, total))

    def _eliminate(self, a: Array) -> tuple[Array, Any]:
        inverse, det = eliminate(
            a, lambda x: power_of(self.field, x, sympy.Integer(-1)), lambda x: value_part(x) == 0
        )
        if inverse is None:
            raise NoPoint("a singular matrix at the random point")
        return inverse, det

    def inverse(self, a: Array) -> Array:
        return self._eliminate(a)[0]

    def det(self, a: Array) -> Array:
        return self.scalar(self._eliminate(a)[1])

    def logdet(self, a: Array) -> Array:
        det = self._eliminate(a)[1]
        return self.scalar(call(self.field, sympy.log, -det if value_part(det) < 0 else det))


def _each(fn: Callable[[Any], Any], a: Array) -> Array:
    """fn on every entry of an object array."""
    out: Array = each(fn, a)
    return out


def _has_dual(a: Array) -> bool:
    return any(isinstance(x, Dual) for x in a.flat)


def _split(a: Array) -> tuple[Array, Array]:
    return np.asarray(VALUE(a), dtype=object), np.asarray(TANGENT(a), dtype=object)


def _join(value: Array, tangent: Array, field: Field) -> Array:
    out = np.empty(value.shape, dtype=object)
    for pos in np.ndindex(value.shape):
        out[pos] = Dual(value[pos], tangent[pos], field)
    return out


def _is_element(x: Any) -> bool:
    return isinstance(x, Dual | Fraction | mpmath.mpf | mpmath.mpc | int)


def values_of(env: Mapping[str, Array]) -> dict[str, Array]:
    """The value parts of an environment of dual numbers."""
    return {k: np.asarray(VALUE(v), dtype=object) for k, v in env.items()}


def random_table(
    shape: tuple[int, ...], rng: np.random.Generator, field: Field, positive: bool
) -> Array:
    """Random exact values from k in [-2^20, 2^20] (or [2^19, 3 2^19] for positive ones)."""
    low, high = (1 << 19, 3 << 19) if positive else (-(1 << 20), 1 << 20)
    ks = rng.integers(low, high + 1, size=shape).tolist()
    out = np.empty(shape, dtype=object)
    out[...] = np.frompyfunc(lambda k: field.point(k), 1, 1)(np.array(ks, dtype=object))
    return out
