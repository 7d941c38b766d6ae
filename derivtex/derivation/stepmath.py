"""Small pieces of math every step builder uses: entries, partials, index names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias, cast

import sympy

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import Idx, index_letters
from derivtex.calculus.engine import entry as component
from derivtex.calculus.mexpr import symbol

Index: TypeAlias = tuple[sympy.Expr | int, ...]
"""The indices of one entry: letters (i, j), values (7, 8), or both."""
Pos: TypeAlias = tuple[int, ...]  # a component's position, counted from 1
# One SumExcept limit: the indices, the values they leave out, their sizes.
Limit: TypeAlias = tuple[Idx, Idx, Idx]


def exprs(idx: Index) -> Idx:
    """The indices as sympy objects (what sympy makes of an int index anyway)."""
    return tuple(sympy.Integer(i) if isinstance(i, int) else i for i in idx)


def entry(d: Derivative, name: str, idx: Index) -> sympy.Expr:
    """One component of a named tensor of the derivation."""
    return component(name, d.graph.shape_of(name), exprs(idx))


def partial(a: sympy.Expr, b: sympy.Expr) -> sympy.Derivative:
    return sympy.Derivative(a, b, evaluate=False)


def at(d: Derivative, out: Index, wrt: Index) -> sympy.Expr:
    """The index form at concrete indices."""
    return T.to_sympy(
        T.substitute(d.index.terms, binding(d.index.out_idx + d.index.wrt_idx, out + wrt))
    )


def binding(free: Idx, values: Index) -> dict[sympy.Symbol, sympy.Expr]:
    """Free indices (symbols, though typed as expressions by the engine) to their values."""
    return {cast(sympy.Symbol, k): v for k, v in zip(free, exprs(values), strict=True)}


def default_example(dims: tuple[sympy.Expr, ...], start: tuple[int, ...]) -> tuple[int, ...]:
    """The worked indices `start`, each kept within an axis of a known size."""
    return tuple(min(s, int(n)) if n.is_Integer else s for s, n in zip(start, dims, strict=False))


def letters(d: Derivative) -> tuple[sympy.Symbol, ...]:
    used = set(d.index.out_idx + d.index.wrt_idx)
    avoid = frozenset(d.graph.names | {str(s) for s in d.index.out_dims + d.index.wrt_dims})
    return tuple(s for s in index_letters(avoid) if s not in used)


def whole(d: Derivative, name: str) -> sympy.Basic:
    return symbol(name, d.graph.shape_of(name))


def shown(dim: sympy.Expr, marked: int | None) -> tuple[Index, tuple[int, ...]]:
    """Which values of a summed index to show, and after which positions an ellipsis goes."""
    if dim.is_Integer and int(dim) <= 5:
        return tuple(range(1, int(dim) + 1)), ()
    values = sorted({1, 2} | ({marked} if marked else set()))
    kept = [v for v in values if not dim.is_Integer or v < int(dim)]
    gaps = tuple(n for n in range(len(kept) - 1) if kept[n + 1] - kept[n] > 1)
    return (*kept, dim), (*gaps, len(kept) - 1)


class SumExcept(sympy.Expr):
    """A sum that leaves out one value of some indices: sum_{q != 7} f, sum_{(j,k) != (7,8)} f.

    Each limit is (indices, excluded values, sizes), the indices running from 1 to their sizes.
    """

    is_commutative = True

    @classmethod
    def make(cls, function: sympy.Expr, limits: Iterable[Limit]) -> SumExcept:
        tuples = (
            sympy.Tuple(sympy.Tuple(*k), sympy.Tuple(*v), sympy.Tuple(*d)) for k, v, d in limits
        )
        return cls(function, *tuples)

    @property
    def function(self) -> sympy.Expr:
        return cast(sympy.Expr, self.args[0])

    @property
    def limits(self) -> tuple[sympy.Tuple, ...]:
        return cast(tuple[sympy.Tuple, ...], self.args[1:])

    @property
    def free_symbols(self) -> set[sympy.Basic]:
        bound = {k for lim in self.limits for k in lim[0]}
        sizes = {s for lim in self.limits for d in lim[2] for s in d.free_symbols}
        return cast(set[sympy.Basic], (self.function.free_symbols - bound) | sizes)

    def _eval_derivative(self, s: sympy.Symbol) -> sympy.Expr:
        return SumExcept(self.function.diff(s), *self.limits)

    def doit(self, **hints: Any) -> sympy.Expr:
        """The full sum less the left-out terms (for checks at concrete sizes)."""
        out = self.function
        for indices, values, sizes in reversed(self.limits):
            full = sympy.Sum(out, *((k, 1, d) for k, d in zip(indices, sizes, strict=True)))
            out = full.doit(**hints) - out.xreplace(dict(zip(indices, values, strict=True)))
        return out


class Held(sympy.Expr):
    """A partial derivative taken with some intermediates held fixed: (d L / d w_i) at fixed r."""

    is_commutative = True

    @property
    def derivative(self) -> sympy.Expr:
        return cast(sympy.Expr, self.args[0])

    @property
    def held(self) -> tuple[sympy.Basic, ...]:
        return cast(tuple[sympy.Basic, ...], self.args[1:])
