"""Index forms at one point: each factor as a table over its indices, summed index by index."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
import sympy

from derivtex.calculus.backends import Array
from derivtex.calculus.points import Field, NoPoint, evaluate
from derivtex.calculus.terms import Terms

Factor: TypeAlias = tuple[
    tuple[sympy.Symbol, ...], Array
]  # (indices, an object array, an axis each)
Env: TypeAlias = Mapping[str, Array]  # each tensor's values (object arrays of field elements)
Sizes: TypeAlias = Mapping[sympy.Symbol, int]
Grid: TypeAlias = dict[sympy.Symbol, Array]  # each index's 1-based values across a table


def term_factors(
    factor: sympy.Expr, sizes: Sizes, env: Env, dims: Sizes, field: Field
) -> list[Factor]:
    """Each multiplicand of a term as a table over the indices it uses."""
    out: list[Factor] = []
    for part in sympy.Mul.make_args(factor):
        idx = tuple(sorted((s for s in part.free_symbols if s in sizes), key=str))
        out.append((idx, _table(part, idx, sizes, env, dims, field)))
    return out


def _table(
    part: sympy.Expr,
    idx: tuple[sympy.Symbol, ...],
    sizes: Sizes,
    env: Env,
    dims: Sizes,
    field: Field,
) -> Array:
    shape = tuple(sizes[s] for s in idx)
    grids = np.indices(shape) if idx else np.zeros((0,), dtype=int)
    position = {s: grids[n] + 1 for n, s in enumerate(idx)}  # indices count from 1
    values: dict[Any, Any] = {s: dims[s] for s in part.free_symbols if s in dims}
    for atom in part.atoms(sympy.Indexed, sympy.KroneckerDelta, sympy.Symbol):
        if atom in sizes or atom in values:
            continue
        values[atom] = _atom_table(atom, position, shape, env)
    table: Array = np.asarray(evaluate(part, values, field), dtype=object)
    return table * np.ones(shape, dtype=int)


def _atom_table(atom: sympy.Expr, position: Grid, shape: tuple[int, ...], env: Env) -> Any:
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


def _position(x: sympy.Expr, position: Grid, shape: tuple[int, ...]) -> Array:
    if x in position:
        return position[x]
    return np.full(shape, int(x))


def contract(factors: list[Factor], sizes: Sizes) -> Any:
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


def _aligned(table: Any, idx: tuple[int, ...], union: tuple[int, ...]) -> Array:
    """A table's axes in the order of union, with length-1 axes for the indices it lacks."""
    table = np.asarray(table, dtype=object)  # np.sum of an object array can give a scalar
    order = sorted(range(len(idx)), key=lambda n: union.index(idx[n]))
    moved: Array = np.transpose(table, order) if idx else table
    present = {idx[n] for n in order}
    return moved.reshape(tuple(table.shape[idx.index(s)] if s in present else 1 for s in union))


def contract_terms(
    terms: Terms,
    weights: list[Factor],
    free_sizes: Sizes,
    env: Env,
    dims: Sizes,
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
