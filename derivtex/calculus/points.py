"""Arithmetic at one point: exact rationals or 60-digit floats, dual numbers, contraction.

The exact check compares a derivative with an independent one at random points instead of as
expanded polynomials, so its cost grows with the number of operations, not with the product of
the sizes. Values are exact rationals (fractions.Fraction) when every operation keeps them rational,
else mpmath floats of 60 digits compared to 35; forward-mode dual numbers give the independent
derivative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy

from derivtex.calculus.backends import NumpyBackend
from derivtex.calculus.elimination import eliminate
from derivtex.calculus.terms import Terms

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


# -- dual numbers: forward-mode derivatives --------------------------------------------------------
class Dual:
    """a + b eps with eps^2 = 0: b carries the derivative along one direction."""

    __slots__ = ("a", "b", "field")

    def __init__(self, a: Any, b: Any, field: Field) -> None:
        self.a, self.b, self.field = a, b, field

    def _lift(self, other: Any) -> Dual:
        return other if isinstance(other, Dual) else Dual(other, 0, self.field)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, Dual):
            return Dual(self.a + other.a, self.b + other.b, self.field)
        if isinstance(other, np.ndarray):
            return NotImplemented
        return Dual(self.a + other, self.b, self.field)

    __radd__ = __add__

    def __neg__(self) -> Dual:
        return Dual(-self.a, -self.b, self.field)

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, np.ndarray):
            return NotImplemented
        return self + (-self._lift(other))

    def __rsub__(self, other: Any) -> Dual:
        return self._lift(other) - self

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, Dual):
            return Dual(self.a * other.a, self.a * other.b + self.b * other.a, self.field)
        if isinstance(other, np.ndarray):
            return NotImplemented
        return Dual(self.a * other, self.b * other, self.field)  # a constant: no tangent

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
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


_VALUE = np.frompyfunc(value_part, 1, 1)
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
def _map(fn: Callable[[Any], Any], x: Any) -> Any:
    return np.frompyfunc(fn, 1, 1)(x) if isinstance(x, np.ndarray) else fn(x)


def evaluate(expr: sympy.Basic, values: Mapping[Any, Any], field: Field) -> Any:
    """A scalar sympy expression with the values given for its atoms (scalars or object arrays)."""
    if expr in values:
        return values[expr]
    if expr.is_Number or (expr.is_number and not expr.args):
        return field.number(expr)
    if isinstance(expr, sympy.Pow) and expr.exp.is_number:
        return _map(lambda b: _power(field, b, expr.exp), evaluate(expr.base, values, field))
    args = [evaluate(a, values, field) for a in expr.args]
    if isinstance(expr, sympy.Add):
        return sum(args[1:], args[0])
    if isinstance(expr, sympy.Mul):
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if isinstance(expr, sympy.Function) and len(args) == 1:
        return _map(lambda x: call(field, expr.func, x), args[0])
    raise NoPoint(f"cannot evaluate {type(expr).__name__} at a point")


def _power(field: Field, base: Any, exponent: sympy.Expr) -> Any:
    return base**exponent if isinstance(base, Dual) else field.power(base, exponent)


class PointBackend(NumpyBackend):
    """numeric's backend on object arrays of field elements or dual numbers."""

    def __init__(self, field: Field) -> None:
        self.field = field

    def matmul(self, a, b):
        """Values and tangents multiplied as plain arrays: n^2 field operations, n dual numbers."""
        if not (_has_dual(a) or _has_dual(b)):
            return a @ b
        (av, at), (bv, bt) = _split(a), _split(b)
        return _join(av @ bv, at @ bv + av @ bt, self.field)

    def apply(self, func: sympy.Lambda, a):
        (var,) = func.variables
        return np.asarray(_map(lambda x: evaluate(func.expr, {var: x}, self.field), a))

    def scalar(self, value):
        out = np.empty((1, 1), dtype=object)
        out[0, 0] = value if _is_element(value) else self.field.number(sympy.sympify(value))
        return out

    def diag(self, v):
        flat = v.reshape(-1)
        out = self.full(len(flat), len(flat), 0)
        for n, x in enumerate(flat):
            out[n, n] = x
        return out

    def eye(self, n):
        out = self.full(n, n, 0)
        for k in range(n):
            out[k, k] = self.field.number(sympy.Integer(1))
        return out

    def full(self, r, c, value):
        out = np.empty((r, c), dtype=object)
        out.fill(self.field.number(sympy.sympify(value)))
        return out

    def norm(self, a):
        total = sum(a.reshape(-1) * a.reshape(-1))
        return self.scalar(_power(self.field, total, sympy.Rational(1, 2)))

    def total(self, a):
        return self.scalar(sum(a.reshape(-1)))

    def trace(self, a):
        return self.scalar(sum(np.diagonal(a)))

    def evaluate(self, expr, values, dims):
        return evaluate(expr, {**values, **dims}, self.field)

    # Operators numpy's backend would compute in floats (division of two integers among them).
    def divide(self, a, b):
        return a * _map(lambda x: _power(self.field, x, sympy.Integer(-1)), b)

    def power(self, a, p):
        return _map(lambda x: _power(self.field, x, sympy.sympify(p)), a)

    def softmax(self, a):
        e = _map(lambda x: call(self.field, sympy.exp, x), a)
        return self.divide(e, self.total(e))

    def logsumexp(self, a):
        total = self.entry(self.total(_map(lambda x: call(self.field, sympy.exp, x), a)))
        return self.scalar(call(self.field, sympy.log, total))

    def _eliminate(self, a) -> tuple[np.ndarray, Any]:
        inverse, det = eliminate(
            a, lambda x: _power(self.field, x, sympy.Integer(-1)), lambda x: value_part(x) == 0
        )
        if inverse is None:
            raise NoPoint("a singular matrix at the random point")
        return inverse, det

    def inverse(self, a):
        return self._eliminate(a)[0]

    def det(self, a):
        return self.scalar(self._eliminate(a)[1])

    def logdet(self, a):
        det = self._eliminate(a)[1]
        return self.scalar(call(self.field, sympy.log, -det if value_part(det) < 0 else det))


def _has_dual(a: np.ndarray) -> bool:
    return any(isinstance(x, Dual) for x in a.flat)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(_VALUE(a), dtype=object), np.asarray(TANGENT(a), dtype=object)


def _join(value: np.ndarray, tangent: np.ndarray, field: Field) -> np.ndarray:
    out = np.empty(value.shape, dtype=object)
    for pos in np.ndindex(value.shape):
        out[pos] = Dual(value[pos], tangent[pos], field)
    return out


def _is_element(x: Any) -> bool:
    return isinstance(x, Dual | Fraction | mpmath.mpf | mpmath.mpc | int)


def values_of(env: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The value parts of an environment of dual numbers."""
    return {k: np.asarray(_VALUE(v), dtype=object) for k, v in env.items()}


# -- index forms -----------------------------------------------------------------------------------
Factor = tuple[tuple[sympy.Symbol, ...], Any]  # (indices, an object array with one axis each)


def term_factors(
    factor: sympy.Expr, sizes: Mapping[sympy.Symbol, int], env: Mapping, dims: Mapping, field: Field
) -> list[Factor]:
    """Each multiplicand of a term as a table over the indices it uses."""
    out = []
    for part in sympy.Mul.make_args(factor):
        idx = tuple(sorted((s for s in part.free_symbols if s in sizes), key=str))
        out.append((idx, _table(part, idx, sizes, env, dims, field)))
    return out


def _table(part, idx, sizes, env, dims, field: Field) -> Any:
    shape = tuple(sizes[s] for s in idx)
    grids = np.indices(shape) if idx else np.zeros((0,), dtype=int)
    position = {s: grids[n] + 1 for n, s in enumerate(idx)}  # indices count from 1
    values: dict[Any, Any] = {s: dims[s] for s in part.free_symbols if s in dims}
    for atom in part.atoms(sympy.Indexed, sympy.KroneckerDelta, sympy.Symbol):
        if atom in sizes or atom in values:
            continue
        values[atom] = _atom_table(atom, position, shape, env)
    return np.asarray(evaluate(part, values, field), dtype=object) * np.ones(shape, dtype=int)


def _atom_table(atom, position: dict, shape: tuple, env: Mapping) -> Any:
    if isinstance(atom, sympy.KroneckerDelta):
        a, b = (_position(x, position, shape) for x in atom.args)
        return (a == b).astype(int).astype(object)
    if isinstance(atom, sympy.Symbol):
        if atom.name not in env:
            raise NoPoint(atom)
        return env[atom.name].reshape(-1)[0]
    value = env[str(atom.base.label)]
    pos = [_position(x, position, shape) - 1 for x in atom.indices]
    return value.reshape(-1)[pos[0]] if len(pos) == 1 else value[pos[0], pos[1]]


def _position(x, position: dict, shape: tuple) -> np.ndarray:
    if x in position:
        return position[x]
    return np.full(shape, int(x))


def contract(factors: list[Factor], sizes: Mapping[sympy.Symbol, int]) -> Any:
    """Sum the product of the factors over every index, one index at a time (cheapest first)."""
    # Indices as numbers: comparing sympy symbols costs more than the contraction itself.
    number = {s: n for n, s in enumerate(dict.fromkeys(s for idx, _ in factors for s in idx))}
    size = [sizes[s] for s in number]
    work = [(tuple(number[s] for s in idx), table) for idx, table in factors]
    remaining = set(range(len(number)))
    while remaining:
        k = min(remaining, key=lambda s: (_cost(s, work, size), s))
        group = [f for f in work if k in f[0]]
        work = [f for f in work if k not in f[0]]
        union = tuple(dict.fromkeys(s for idx, _ in group for s in idx))
        product: Any = 1
        for idx, table in group:
            product = product * _aligned(table, idx, union)
        kept = tuple(s for s in union if s != k)
        work.append((kept, np.sum(product, axis=union.index(k))))
        remaining.discard(k)
    out: Any = 1
    for _, table in work:
        out = out * np.asarray(table, dtype=object).reshape(()).item()
    return out


def _cost(k: int, factors: list[tuple[tuple[int, ...], Any]], size: list[int]) -> int:
    union = {s for idx, _ in factors if k in idx for s in idx}
    return math.prod(size[s] for s in union)


def _aligned(table: Any, idx: tuple, union: tuple) -> Any:
    """A table's axes in the order of union, with length-1 axes for the indices it lacks."""
    table = np.asarray(table, dtype=object)
    order = sorted(range(len(idx)), key=lambda n: union.index(idx[n]))
    moved = np.transpose(table, order) if idx else table
    present = {idx[n] for n in order}
    return moved.reshape(tuple(table.shape[idx.index(s)] if s in present else 1 for s in union))


def contract_terms(
    terms: Terms,
    weights: list[Factor],
    free_sizes: Mapping[sympy.Symbol, int],
    env: Mapping,
    dims: Mapping[sympy.Symbol, int],
    field: Field,
) -> Any:
    """The sum over every entry of the index form times the weights (tables over free indices)."""
    total: Any = 0
    for term in terms:
        sizes = dict(free_sizes)
        sizes.update({k: int(d.xreplace(dims)) for k, d in term.sums})
        total = total + contract(
            [*term_factors(term.factor, sizes, env, dims, field), *weights], sizes
        )
    return total


def random_table(shape: tuple[int, ...], rng: np.random.Generator, field: Field, positive: bool):
    """Random exact values from k in [-2^20, 2^20] (or [2^19, 3 2^19] for positive ones)."""
    low, high = (1 << 19, 3 << 19) if positive else (-(1 << 20), 1 << 20)
    ks = rng.integers(low, high + 1, size=shape).tolist()
    out = np.empty(shape, dtype=object)
    out[...] = np.frompyfunc(lambda k: field.point(k), 1, 1)(np.array(ks, dtype=object))
    return out
