"""Arithmetic at one point: exact rationals or 60-digit floats, and dual numbers.

The exact check compares a derivative with an independent one at random points instead of as
expanded polynomials, so its cost grows with the number of operations, not with the product of
the sizes. Values are exact rationals (fractions.Fraction) when every operation keeps them rational,
else mpmath floats of 60 digits compared to 35; forward-mode dual numbers give the independent
derivative.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Any, TypeAlias

import mpmath
import numpy as np
import sympy

DIGITS = 60  # working precision of the float field
AGREE = 35  # digits two values must share in the float field


class Irrational(Exception):
    """A value left the rationals (a function, a root): redo the check in the float field."""


class NoPoint(Exception):
    """Something the point evaluator cannot compute; the caller falls back to expanding."""


# -- the two fields --------------------------------------------------------------------------------
class RationalField:
    """Exact arithmetic on integers and fractions.Fraction; equality is exact."""

    exact = True

    def number(self, x: Any) -> Any:
        if isinstance(x, sympy.Basic):
            if not x.is_Rational:
                raise Irrational(x)
            return int(x.p) if x.q == 1 else Fraction(int(x.p), int(x.q))
        if isinstance(x, int | Fraction):
            return x
        raise Irrational(x)

    def point(self, k: int) -> Any:
        return k  # integers: the grid's width is what makes a random point safe

    def power(self, base: Any, exponent: Any) -> Any:
        e = self.number(exponent)
        if e.denominator != 1:
            raise Irrational(exponent)
        return Fraction(base) ** int(e) if e < 0 else base ** int(e)

    def function(self, func: type, x: Any) -> Any:
        raise Irrational(func)

    def same(self, a: Any, b: Any) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            raise NoPoint("a float reached the exact field")
        return bool(a == b)


_MPMATH: dict[str, Callable[[Any], Any]] = {
    "exp": mpmath.exp,
    "log": mpmath.log,
    "tanh": mpmath.tanh,
    "sin": mpmath.sin,
    "cos": mpmath.cos,
    "sigmoid": lambda u: 1 / (1 + mpmath.exp(-u)),
    "sigmoid_prime": lambda u: mpmath.exp(-u) / (1 + mpmath.exp(-u)) ** 2,
    "relu": lambda u: u if u > 0 else mpmath.mpf(0),
    "relu_prime": lambda u: mpmath.mpf(1 if u > 0 else 0),
    "softplus": lambda u: mpmath.log(1 + mpmath.exp(u)),
}


class FloatField:
    """mpmath floats of DIGITS digits (the caller holds mpmath.workdps(DIGITS))."""

    exact = False

    def number(self, x: Any) -> Any:
        if isinstance(x, sympy.Basic):
            if x.is_Rational:
                return mpmath.mpf(int(x.p)) / int(x.q)
            value = sympy.N(x, DIGITS + 5) if x.is_number else x
            if not value.is_Number:  # a function without a numeric value (yet)
                raise NoPoint(x)
            return mpmath.mpmathify(str(value))
        return mpmath.mpmathify(x)

    def point(self, k: int) -> Any:
        return mpmath.mpf(k) / (1 << 20)  # in [-1, 1] (or [0.5, 1.5]): tanh and exp stay tame

    def power(self, base: Any, exponent: Any) -> Any:
        if isinstance(base, int):  # a size or a delta: 3 ** -1 in Python is a 53-bit float
            base = mpmath.mpf(base)
        if isinstance(exponent, sympy.Basic) and exponent.is_Integer:
            return base ** int(exponent)
        return base ** self.number(exponent)

    def function(self, func: type, x: Any) -> Any:
        name = getattr(func, "__name__", "")
        if name in _MPMATH:
            return _MPMATH[name](x)
        if isinstance(x, mpmath.mpc):
            raise NoPoint(func)
        value = func(sympy.Float(mpmath.nstr(x, DIGITS + 5), DIGITS + 5)).evalf(DIGITS + 5)
        return self.number(value)

    def same(self, a: Any, b: Any) -> bool:
        scale = max(1, abs(a), abs(b))
        return bool(abs(a - b) <= mpmath.mpf(10) ** -AGREE * scale)


Field = RationalField | FloatField
# A value in a field, or a dual number over one (mpmath is untyped: its floats are Any to mypy)
Element: TypeAlias = "int | Fraction | mpmath.mpf | mpmath.mpc | Dual"


# -- dual numbers: forward-mode derivatives --------------------------------------------------------
class Dual:
    """a + b eps with eps^2 = 0: b carries the derivative along one direction."""

    __slots__ = ("a", "b", "field")

    def __init__(self, a: Any, b: Any, field: Field) -> None:
        self.a, self.b, self.field = a, b, field

    def _lift(self, other: Any) -> Dual:
        return other if isinstance(other, Dual) else Dual(other, 0, self.field)

    def __add__(self, other: Any) -> Dual:
        if isinstance(other, Dual):
            return Dual(self.a + other.a, self.b + other.b, self.field)
        if isinstance(other, np.ndarray):
            return NotImplemented
        return Dual(self.a + other, self.b, self.field)

    __radd__ = __add__

    def __neg__(self) -> Dual:
        return Dual(-self.a, -self.b, self.field)

    def __sub__(self, other: Any) -> Dual:
        if isinstance(other, np.ndarray):
            return NotImplemented
        return self + (-self._lift(other))

    def __rsub__(self, other: Any) -> Dual:
        return self._lift(other) - self

    def __mul__(self, other: Any) -> Dual:
        if isinstance(other, Dual):
            return Dual(self.a * other.a, self.a * other.b + self.b * other.a, self.field)
        if isinstance(other, np.ndarray):
            return NotImplemented
        return Dual(self.a * other, self.b * other, self.field)  # a constant: no tangent

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Dual:
        if isinstance(other, np.ndarray):
            return NotImplemented
        return self * self._lift(other) ** -1

    def __rtruediv__(self, other: Any) -> Dual:
        return self._lift(other) / self

    def __pow__(self, exponent: Any) -> Dual:
        f, e = self.field, sympy.sympify(exponent)
        return Dual(f.power(self.a, e), f.number(e) * f.power(self.a, e - 1) * self.b, f)


def value_part(x: Any) -> Any:
    return x.a if isinstance(x, Dual) else x


def tangent_part(x: Any) -> Any:
    return x.b if isinstance(x, Dual) else 0


VALUE = np.frompyfunc(value_part, 1, 1)
TANGENT = np.frompyfunc(tangent_part, 1, 1)

_U = sympy.Dummy("u")


@lru_cache(maxsize=256)
def _prime(func: type) -> sympy.Expr:
    """sympy's derivative of a one-argument function, as an expression in _U."""
    return sympy.diff(func(_U), _U)


def call(field: Field, func: type, x: Any) -> Any:
    """func(x) in the field; on a dual number, with sympy's derivative of func for the tangent."""
    if isinstance(x, Dual):
        slope = evaluate(_prime(func), {_U: x.a}, field)
        return Dual(call(field, func, x.a), slope * x.b, field)
    return field.function(func, x)


# -- evaluating sympy expressions ------------------------------------------------------------------
def each(fn: Callable[[Any], Any], x: Any) -> Any:
    return np.frompyfunc(fn, 1, 1)(x) if isinstance(x, np.ndarray) else fn(x)


def evaluate(expr: sympy.Basic, values: Mapping[Any, Any], field: Field) -> Any:
    """A scalar sympy expression with the values given for its atoms (scalars or object arrays)."""
    if expr in values:
        return values[expr]
    if expr.is_Number or (expr.is_number and not expr.args):
        return field.number(expr)
    if isinstance(expr, sympy.Pow) and expr.exp.is_number:
        return each(lambda b: power_of(field, b, expr.exp), evaluate(expr.base, values, field))
    args = [evaluate(a, values, field) for a in expr.args]
    if isinstance(expr, sympy.Add):
        return sum(args[1:], args[0])
    if isinstance(expr, sympy.Mul):
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if isinstance(expr, sympy.Function) and len(args) == 1:
        return each(lambda x: call(field, expr.func, x), args[0])
    raise NoPoint(f"cannot evaluate {type(expr).__name__} at a point")


def power_of(field: Field, base: Any, exponent: sympy.Expr) -> Any:
    return base**exponent if isinstance(base, Dual) else field.power(base, exponent)
