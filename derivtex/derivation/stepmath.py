"""Small pieces of math every step builder uses: entries, partials, index names."""

from __future__ import annotations

import sympy

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import entry as component
from derivtex.calculus.engine import index_letters
from derivtex.calculus.mexpr import symbol


def entry(d: Derivative, name: str, idx: tuple) -> sympy.Expr:
    """One component of a named tensor of the derivation."""
    return component(name, d.graph.shape_of(name), idx)


def partial(a: sympy.Expr, b: sympy.Expr) -> sympy.Derivative:
    return sympy.Derivative(a, b, evaluate=False)


def at(d: Derivative, out: tuple, wrt: tuple) -> sympy.Expr:
    """The index form at concrete indices."""
    mapping = dict(zip(d.index.out_idx + d.index.wrt_idx, out + wrt, strict=True))
    return T.to_sympy(T.substitute(d.index.terms, mapping))


def letters(d: Derivative) -> tuple[sympy.Symbol, ...]:
    used = set(d.index.out_idx + d.index.wrt_idx)
    avoid = frozenset(d.graph.names | {str(s) for s in d.index.out_dims + d.index.wrt_dims})
    return tuple(s for s in index_letters(avoid) if s not in used)


def whole(d: Derivative, name: str) -> sympy.Basic:
    return symbol(name, d.graph.shape_of(name))


def shown(dim: sympy.Expr, marked: int | None) -> tuple[tuple, tuple[int, ...]]:
    """Which values of a summed index to show, and after which positions an ellipsis goes."""
    if dim.is_Integer and int(dim) <= 5:
        return tuple(range(1, int(dim) + 1)), ()
    values = sorted({1, 2} | ({marked} if marked else set()))
    kept = [v for v in values if not dim.is_Integer or v < int(dim)]
    gaps = tuple(n for n in range(len(kept) - 1) if kept[n + 1] - kept[n] > 1)
    return (*kept, dim), (*gaps, len(kept) - 1)
