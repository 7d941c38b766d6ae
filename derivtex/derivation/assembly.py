"""Steps that assemble the whole derivative: Jacobian grids, tensor structure, stacked rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeAlias

import sympy

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative, derive_graph
from derivtex.calculus.engine import IndexDerivative
from derivtex.calculus.matrixform import NoMatrixForm, Target, recover, substitute_auto
from derivtex.calculus.mexpr import Slice
from derivtex.derivation import steps as S
from derivtex.derivation.components import SEARCH, candidates
from derivtex.derivation.stepmath import Index, at, entry, letters, partial, whole
from derivtex.options import Layout

# The values shown along one axis of a grid; None marks the dots.
Axis: TypeAlias = tuple[int | sympy.Expr | None, ...]
Cell: TypeAlias = Callable[[int | sympy.Expr, int | sympy.Expr], sympy.Expr]


def _axis(dim: sympy.Expr) -> Axis:
    if dim.is_Integer and int(dim) <= 4:
        return tuple(range(1, int(dim) + 1))
    return (1, 2, None, dim)


def _grid(tgt: Target, cell: Cell) -> S.Grid:
    rows, cols = _axis(tgt.rows), _axis(tgt.cols)
    return tuple(tuple(None if r is None or c is None else cell(r, c) for c in cols) for r in rows)


def _indices_for(
    d: Derivative, tgt: Target, r: int | sympy.Expr, c: int | sympy.Expr
) -> tuple[Index, Index]:
    values = {s: v for s, v in ((tgt.row, r), (tgt.col, c)) if s is not None}
    return tuple(values[s] for s in d.index.out_idx), tuple(values[s] for s in d.index.wrt_idx)


def jacobian_assembly(d: Derivative) -> S.JacobianAssembly | None:
    tgt = d.target
    if tgt is None or d.matrix is None or len(d.index.wrt_idx) == 0:
        return None
    if len(d.index.out_idx) == 0 and len(d.index.wrt_idx) == 1:
        return None  # a gradient vector: the generalization already says it all

    def partial_at(r: int | sympy.Expr, c: int | sympy.Expr) -> sympy.Expr:
        out, wrt = _indices_for(d, tgt, r, c)
        return partial(entry(d, d.output, out), entry(d, d.wrt, wrt))

    def value(r: int | sympy.Expr, c: int | sympy.Expr) -> sympy.Expr:
        return _shown_cell(at(d, *_indices_for(d, tgt, r, c)))

    other = None
    if d.out_shape.rows == 1 and d.wrt_shape.rows == 1 and len(d.index.out_idx) == 1:
        other = _other_layout(d)
    rows_follow, cols_follow = _follow(d)
    return S.JacobianAssembly(
        (
            f"Collect every partial into an array shaped like ${d.wrt}$: the gradient, entry by "
            "entry, and the matrix whose entries they are."
            if not d.index.out_idx
            else "Collect every partial into one array and read off the matrix whose entries "
            "they are."
        ),
        partial(whole(d, d.output), whole(d, d.wrt)),
        _grid(tgt, partial_at),
        _simple_grid(_grid(tgt, value)),
        d.result,
        d.layout,
        f"rows follow the components of {rows_follow}, columns those of {cols_follow}",
        other,
    )


def _shown_cell(cell: sympy.Expr) -> sympy.Expr:
    """A grid cell: the last row or column (the size C) is past every small index shown."""
    return cell.replace(
        lambda e: (
            isinstance(e, sympy.KroneckerDelta)
            and e.args[0] != e.args[1]
            and any(a.is_Integer for a in e.args)
        ),
        lambda e: sympy.Integer(0),
    )


def _simple(cell: sympy.Basic | None) -> bool:
    """Short enough to sit in a grid cell: no sums and at most three factors."""
    if cell is None:
        return True
    return not cell.has(sympy.Sum) and len(sympy.Mul.make_args(cell)) <= 3 and cell.count_ops() < 6


def _simple_grid(grid: S.Grid) -> S.Grid | None:
    return grid if all(_simple(c) for row in grid for c in row) else None


def _follow(d: Derivative) -> tuple[str, str]:
    if len(d.index.out_idx) == 0:
        return f"${d.wrt}$ (its rows)", f"${d.wrt}$ (its columns)"
    if len(d.index.wrt_idx) == 0:
        return f"${d.output}$ (its rows)", f"${d.output}$ (its columns)"
    pair = (f"${d.output}$", f"${d.wrt}$")
    return pair if d.layout == Layout.NUMERATOR else pair[::-1]


def _other_layout(d: Derivative) -> sympy.Basic | None:
    other = Layout.DENOMINATOR if d.layout == Layout.NUMERATOR else Layout.NUMERATOR
    alt = derive_graph(d.graph, d.wrt, other)
    return alt.result if alt.matrix is not None else None


def tensor_structure(
    d: Derivative, out: Index, wrt: Index, zero_from: tuple[Index, Index] | None = None
) -> S.TensorStructure | None:
    """`out`, `wrt`: the worked (nonzero) entry; the search for a zero one starts at zero_from."""
    if len(d.index.out_idx) + len(d.index.wrt_idx) < 3:
        return None
    array = sympy.IndexedBase("F")
    free = d.index.out_idx + d.index.wrt_idx
    zero = find_entry(d, *(zero_from or (out, wrt)), zero=True)
    nz_out, nz_wrt = find_entry(d, out, wrt, zero=False) or (out, wrt)
    pattern_lhs, pattern_rhs, compact = _pattern(d, array)
    return S.TensorStructure(
        "The derivative has three or more axes, so it is not a matrix: define it entry by "
        "entry, find which entries vanish, and keep only the rest.",
        array[free],
        partial(entry(d, d.output, d.index.out_idx), entry(d, d.wrt, d.index.wrt_idx)),
        partial(entry(d, d.output, zero[0]), entry(d, d.wrt, zero[1])) if zero else None,
        entry(d, d.output, zero[0]) if zero else None,
        entry(d, d.wrt, zero[1]) if zero else None,
        partial(entry(d, d.output, nz_out), entry(d, d.wrt, nz_wrt)),
        at(d, nz_out, nz_wrt),
        pattern_lhs,
        pattern_rhs,
        *(compact or (None, None)),
    )


def find_entry(d: Derivative, out: Index, wrt: Index, zero: bool) -> tuple[Index, Index] | None:
    """An entry that is zero (or not), starting from the example components; None if none is."""
    if (at(d, out, wrt) == 0) == zero:
        return out, wrt
    for cand in candidates(d.index.wrt_dims, SEARCH, wrt):
        if (at(d, out, cand) == 0) == zero:
            return out, cand
    return None


def _pattern(
    d: Derivative, array: sympy.IndexedBase
) -> tuple[sympy.Expr, sympy.Expr, tuple[sympy.Expr, sympy.Expr] | None]:
    """F_{i,j,i} = x_j: put the delta's indices equal; the compact array G keeps the rest."""
    free = d.index.out_idx + d.index.wrt_idx
    if len(d.index.terms) != 1:
        return array[free], d.index_result, None
    factor = d.index.terms[0].factor
    deltas = [f for f in sympy.Mul.make_args(factor) if isinstance(f, sympy.KroneckerDelta)]
    mapping: dict[sympy.Symbol, sympy.Symbol] = {}
    for delta in deltas:
        a, b = delta.args
        a, b = (a, b) if free.index(a) < free.index(b) else (b, a)
        mapping[b] = mapping.get(a, a)
    rest = T.to_sympy(T.substitute(d.index.terms, mapping))
    lhs = array[tuple(mapping.get(s, s) for s in free)]
    if not mapping:
        return lhs, rest, None
    kept = tuple(s for s in free if s not in mapping)
    return lhs, rest, (sympy.IndexedBase("G")[kept], lhs)


def batch_rows(d: Derivative) -> S.BatchRows | None:
    if len(d.index.out_idx) != 2 or len(d.index.wrt_idx) != 2 or len(d.index.terms) != 1:
        return None
    (i, j), (k, col) = d.index.out_idx, d.index.wrt_idx
    factor = d.index.terms[0].factor
    if sympy.KroneckerDelta(i, k) not in sympy.Mul.make_args(factor):
        return None
    shared = factor.xreplace({k: i})
    a, b, c, e = [s for s in letters(d) if str(s) in "abcdefgh"][:4]
    colon = Slice()
    row_rhs = None
    if i not in shared.free_symbols:
        one = T.Term(shared, d.index.terms[0].sums)
        tgt = Target(j, col, d.index.out_dims[1], d.index.wrt_dims[1])
        if d.layout == "denominator":
            tgt = Target(col, j, d.index.wrt_dims[1], d.index.out_dims[1])
        try:
            row_rhs = substitute_auto(recover(_with_terms(d, (one,)), d.graph, tgt), d.graph)
        except NoMatrixForm:
            row_rhs = None
    return S.BatchRows(
        "Each row of the output is computed from the same row of the input alone, so every "
        "partial across different rows is zero and the rest repeat row by row.",
        partial(entry(d, d.output, (a, b)), entry(d, d.wrt, (c, e))),
        partial(entry(d, d.output, (i, j)), entry(d, d.wrt, (i, col))),
        shared,
        partial(entry(d, d.output, (i, colon)), entry(d, d.wrt, (i, colon))),
        row_rhs,
        d.layout,
    )


def _with_terms(d: Derivative, terms: T.Terms) -> IndexDerivative:

    return dataclasses.replace(d.index, terms=terms)
