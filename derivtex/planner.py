"""Plan a derivation: the reference's steps, as typed objects holding sympy math."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sympy
from sympy.matrices.expressions.diagonal import DiagMatrix

from . import ir
from . import steps as S
from . import terms as T
from .api import Derivation, derive_graph
from .engine import Engine, differentiate, entry, index_letters
from .errors import InputError
from .graphs import cut, name_product_tail
from .matrixform import NoMatrixForm, Target, recover, substitute_auto
from .mexpr import of_op, symbol
from .shapes import Shape

OPTIONAL = frozenset(S.KINDS) - {"component_formula", "summary"}
EXAMPLE_OUT, EXAMPLE_WRT = (3, 4), (7, 8)
SEARCH = (2, 3, 1, 4, 5, 6, 7, 8)


# -- examples ------------------------------------------------------------------------------------
def _default_example(dims: tuple[sympy.Expr, ...], start: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(
        min(s, int(d)) if d.is_Integer else s for s, d in zip(start, dims, strict=False)
    )


def _example(d: Derivation, example: Mapping | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    given = {k: (v,) if isinstance(v, int) else tuple(v) for k, v in (example or {}).items()}
    out = given.get(d.output, _default_example(d.index.out_dims, EXAMPLE_OUT))
    wrt = given.get(d.wrt, _default_example(d.index.wrt_dims, EXAMPLE_WRT))
    for name, idx, dims in ((d.output, out, d.index.out_dims), (d.wrt, wrt, d.index.wrt_dims)):
        _check_example(name, idx, dims)
    return out, wrt


def _check_example(name: str, idx: tuple[int, ...], dims: tuple[sympy.Expr, ...]) -> None:
    if len(idx) != len(dims) or any(i < 1 or (d.is_Integer and i > d) for i, d in zip(idx, dims)):
        raise InputError(
            f"example component {name}{list(idx)} does not fit {name}'s shape",
            hint=f"give {len(dims)} index(es) from 1 up to the size of each axis",
        )


# -- helpers -------------------------------------------------------------------------------------
def _entry(d: Derivation, name: str, idx: tuple) -> sympy.Expr:
    return entry(name, d.graph.shape_of(name), idx)


def _partial(a: sympy.Expr, b: sympy.Expr) -> sympy.Derivative:
    return sympy.Derivative(a, b, evaluate=False)


def _at(d: Derivation, out: tuple, wrt: tuple) -> sympy.Expr:
    """The index form at concrete indices."""
    mapping = dict(zip(d.index.out_idx + d.index.wrt_idx, out + wrt, strict=True))
    return T.to_sympy(T.substitute(d.index.terms, mapping))


def _letters(d: Derivation) -> tuple[sympy.Symbol, ...]:
    used = set(d.index.out_idx + d.index.wrt_idx)
    avoid = frozenset(d.graph.names | {str(s) for s in d.index.out_dims + d.index.wrt_dims})
    return tuple(s for s in index_letters(avoid) if s not in used)


def _whole(d: Derivation, name: str) -> sympy.Basic:
    return symbol(name, d.graph.shape_of(name))


def _definitions(d: Derivation, formula: sympy.Expr) -> tuple[tuple[sympy.Basic, sympy.Basic], ...]:
    """The intermediates a formula names, with what they stand for (z = W x + b)."""
    used = {str(s) for s in formula.free_symbols} | {
        str(e.base.label) for e in formula.atoms(sympy.Indexed)
    }
    out = []
    for definition in d.graph.definitions:
        if definition.name != d.output and (definition.auto or definition.name in used):
            out.append((_whole(d, definition.name), of_op(definition.op, {})))
    return tuple(out)


# -- component formula, expansion, partials --------------------------------------------------------
def component_formula(d: Derivation, out: tuple, wrt: tuple) -> S.ComponentFormula:
    engine = Engine(d.graph)
    value = engine.value(d.graph.definition(d.output).op, out)
    value = T.rename_sums(value, names=_letters(d))
    rhs = T.to_sympy(value)
    return S.ComponentFormula(
        f"Pick one component of {d.output} and one of {d.wrt}, and write the output component "
        "as an explicit sum over its indices.",
        _entry(d, d.output, out),
        rhs,
        _entry(d, d.wrt, wrt),
        _definitions(d, rhs),
    )


def _single_sum(expr: sympy.Expr) -> sympy.Sum | None:
    if isinstance(expr, sympy.Sum) and len(expr.limits) == 1:
        return expr
    return None


def _marked_value(term: sympy.Expr, k: sympy.Symbol, wrt_entry: sympy.Expr) -> int | None:
    for e in term.atoms(sympy.Indexed):
        if e.base == getattr(wrt_entry, "base", None):
            rest = [(a, b) for a, b in zip(e.indices, wrt_entry.indices) if a != b]
            if len(rest) == 1 and rest[0][0] == k:
                return int(rest[0][1])
    return None


def _shown(dim: sympy.Expr, marked: int | None) -> tuple[tuple, tuple[int, ...]]:
    """Which values of a summed index to show, and after which positions an ellipsis goes."""
    if dim.is_Integer and int(dim) <= 5:
        return tuple(range(1, int(dim) + 1)), ()
    values = sorted({1, 2} | ({marked} if marked else set()))
    shown = [v for v in values if not dim.is_Integer or v < int(dim)]
    gaps = tuple(n for n in range(len(shown) - 1) if shown[n + 1] - shown[n] > 1)
    return (*shown, dim), (*gaps, len(shown) - 1)


def expansion(
    d: Derivation, formula: S.ComponentFormula
) -> tuple[S.SumExpansion, S.TermPartial] | None:
    total = _single_sum(formula.rhs)
    if total is None:
        return None
    k, _, dim = total.limits[0]
    marked_value = _marked_value(total.function, k, formula.wrt_entry)
    if marked_value is None:
        return None
    values, gaps = _shown(dim, marked_value)
    terms = tuple(total.function.xreplace({k: v}) for v in values)
    marked = values.index(marked_value)
    partials = tuple(
        _partial(t, formula.wrt_entry) if n == marked else sympy.Integer(0)
        for n, t in enumerate(terms)
    )
    result = sympy.diff(terms[marked], formula.wrt_entry)
    return (
        S.SumExpansion(
            "Write the sum out term by term; exactly one term holds the component we "
            "differentiate by.",
            formula.lhs,
            terms,
            gaps,
            marked,
        ),
        S.TermPartial(
            "Differentiate term by term: every term without that component is a constant and "
            "gives zero.",
            _partial(formula.lhs, formula.wrt_entry),
            formula.wrt_entry,
            terms,
            partials,
            gaps,
            marked,
            result,
        ),
    )


def generalization(d: Derivation, out: tuple, wrt: tuple) -> S.Generalization:
    return S.Generalization(
        "Nothing depended on the particular components chosen, so the same holds for every "
        "index pair.",
        _partial(_entry(d, d.output, d.index.out_idx), _entry(d, d.wrt, d.index.wrt_idx)),
        d.index_result,
        _partial(_entry(d, d.output, out), _entry(d, d.wrt, wrt)),
        _at(d, out, wrt),
    )


# -- assembly ------------------------------------------------------------------------------------
def _axis(dim: sympy.Expr) -> tuple:
    if dim.is_Integer and int(dim) <= 4:
        return tuple(range(1, int(dim) + 1))
    return (1, 2, None, dim)


def _grid(d: Derivation, tgt: Target, cell) -> S.Grid:
    rows, cols = _axis(tgt.rows), _axis(tgt.cols)
    return tuple(
        tuple(None if r is None or c is None else cell(r, c) for c in cols) for r in rows
    )


def _indices_for(d: Derivation, tgt: Target, r, c) -> tuple[tuple, tuple]:
    values = {s: v for s, v in ((tgt.row, r), (tgt.col, c)) if s is not None}
    return tuple(values[s] for s in d.index.out_idx), tuple(values[s] for s in d.index.wrt_idx)


def jacobian_assembly(d: Derivation) -> S.JacobianAssembly | None:
    tgt = d.target
    if tgt is None or d.matrix is None or len(d.index.wrt_idx) == 0:
        return None
    if len(d.index.out_idx) == 0 and len(d.index.wrt_idx) == 1:
        return None  # a gradient vector: the generalization already says it all

    def partial(r, c):
        out, wrt = _indices_for(d, tgt, r, c)
        return _partial(_entry(d, d.output, out), _entry(d, d.wrt, wrt))

    def value(r, c):
        return _at(d, *_indices_for(d, tgt, r, c))

    other = None
    if d.out_shape.rows == 1 and d.wrt_shape.rows == 1 and len(d.index.out_idx) == 1:
        other = _other_layout(d)
    rows_follow, cols_follow = _follow(d)
    return S.JacobianAssembly(
        "Collect every partial into one array and read off the matrix whose entries they are.",
        _partial(_whole(d, d.output), _whole(d, d.wrt)),
        _grid(d, tgt, partial),
        _simple_grid(_grid(d, tgt, value)),
        d.result,
        d.layout,
        f"rows follow the components of {rows_follow}, columns those of {cols_follow}",
        other,
    )


def _simple(cell: sympy.Basic | None) -> bool:
    """Short enough to sit in a grid cell: no sums and at most three factors."""
    if cell is None:
        return True
    return not cell.has(sympy.Sum) and len(sympy.Mul.make_args(cell)) <= 3 and cell.count_ops() < 6


def _simple_grid(grid: S.Grid) -> S.Grid | None:
    return grid if all(_simple(c) for row in grid for c in row) else None


def _follow(d: Derivation) -> tuple[str, str]:
    if len(d.index.out_idx) == 0:
        return f"{d.wrt} (its rows)", f"{d.wrt} (its columns)"
    if len(d.index.wrt_idx) == 0:
        return f"{d.output} (its rows)", f"{d.output} (its columns)"
    pair = (d.output, d.wrt)
    return pair if d.layout == "numerator" else pair[::-1]


def _other_layout(d: Derivation) -> sympy.Basic | None:
    other = "denominator" if d.layout == "numerator" else "numerator"
    alt = derive_graph(d.graph, d.wrt, other)
    return alt.result if alt.matrix is not None else None


def tensor_structure(d: Derivation, out: tuple, wrt: tuple) -> S.TensorStructure | None:
    if len(d.index.out_idx) + len(d.index.wrt_idx) < 3:
        return None
    array = sympy.IndexedBase("F")
    free = d.index.out_idx + d.index.wrt_idx
    zero_out, zero_wrt = _find(d, out, wrt, zero=True)
    nz_out, nz_wrt = _find(d, out, wrt, zero=False)
    pattern_lhs, pattern_rhs, compact = _pattern(d, array)
    return S.TensorStructure(
        "The derivative has three or more axes, so it is not a matrix: define it entry by "
        "entry, find which entries vanish, and keep only the rest.",
        array[free],
        _partial(_entry(d, d.output, d.index.out_idx), _entry(d, d.wrt, d.index.wrt_idx)),
        _partial(_entry(d, d.output, zero_out), _entry(d, d.wrt, zero_wrt)),
        _entry(d, d.output, zero_out),
        _entry(d, d.wrt, zero_wrt),
        _partial(_entry(d, d.output, nz_out), _entry(d, d.wrt, nz_wrt)),
        _at(d, nz_out, nz_wrt),
        pattern_lhs,
        pattern_rhs,
        *(compact or (None, None)),
    )


def _find(d: Derivation, out: tuple, wrt: tuple, zero: bool) -> tuple[tuple, tuple]:
    """An entry that is zero (or not), starting from the example components."""
    if (_at(d, out, wrt) == 0) == zero:
        return out, wrt
    for cand in _candidates(len(wrt)):
        if (_at(d, out, cand) == 0) == zero:
            return out, cand
    return out, wrt


def _candidates(n: int):
    if n == 0:
        yield ()
        return
    for first in SEARCH:
        for rest in _candidates(n - 1):
            yield (first, *rest)


def _pattern(d: Derivation, array: sympy.IndexedBase):
    """F_{i,j,i} = x_j: put the delta's indices equal; the compact array G keeps the rest."""
    free = d.index.out_idx + d.index.wrt_idx
    if len(d.index.terms) != 1:
        return array[free], d.index_result, None
    factor = d.index.terms[0].factor
    deltas = [f for f in sympy.Mul.make_args(factor) if isinstance(f, sympy.KroneckerDelta)]
    mapping = {}
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


def batch_rows(d: Derivation) -> S.BatchRows | None:
    if len(d.index.out_idx) != 2 or len(d.index.wrt_idx) != 2 or len(d.index.terms) != 1:
        return None
    (i, j), (k, l) = d.index.out_idx, d.index.wrt_idx
    factor = d.index.terms[0].factor
    if sympy.KroneckerDelta(i, k) not in sympy.Mul.make_args(factor):
        return None
    shared = factor.xreplace({k: i})
    a, b, c, e = [s for s in _letters(d) if str(s) in "abcdefgh"][:4]
    from .printer import _Verbatim

    colon = _Verbatim(":")
    row_rhs = None
    if i not in shared.free_symbols:
        one = T.Term(shared, d.index.terms[0].sums)
        tgt = Target(j, l, d.index.out_dims[1], d.index.wrt_dims[1])
        if d.layout == "denominator":
            tgt = Target(l, j, d.index.wrt_dims[1], d.index.out_dims[1])
        try:
            row_rhs = substitute_auto(recover(_with_terms(d, (one,)), d.graph, tgt), d.graph)
        except NoMatrixForm:
            row_rhs = None
    return S.BatchRows(
        "Each row of the output is computed from the same row of the input alone, so every "
        "partial across different rows is zero and the rest repeat row by row.",
        _partial(_entry(d, d.output, (a, b)), _entry(d, d.wrt, (c, e))),
        _partial(_entry(d, d.output, (i, j)), _entry(d, d.wrt, (i, l))),
        shared,
        _partial(_entry(d, d.output, (i, colon)), _entry(d, d.wrt, (i, colon))),
        row_rhs,
        d.layout,
    )


def _with_terms(d: Derivation, terms: T.Terms):
    import dataclasses

    return dataclasses.replace(d.index, terms=terms)


# -- chain rule and elementwise functions ----------------------------------------------------------
def _link(d: Derivation, name: str) -> str | None:
    """The one user-named intermediate through which `name` depends on wrt, if any."""
    found = _frontier(d, name)
    return next(iter(found)) if len(found) == 1 else None


def _frontier(d: Derivation, name: str) -> set[str]:
    """User-named values that `name` reads on its way to wrt, looking through the tool's own."""
    from .typecheck import depends_on

    inputs = dict(d.graph.inputs)
    out: set[str] = set()
    for used in ir.names_used(d.graph.definition(name).op):
        if used in inputs or d.wrt not in depends_on(d.graph, used):
            continue
        out |= _frontier(d, used) if d.graph.definition(used).auto else {used}
    return out


def _local(graph: ir.Graph, of: str, by: str, out_idx: tuple, by_idx: tuple, letters) -> sympy.Expr:
    """d of[out_idx] / d by[by_idx], with `by` taken as an input."""
    local = differentiate(cut(graph, by, of) if by not in dict(graph.inputs) else
                          ir.Graph(graph.inputs, graph.definitions, of, graph.source), by)
    mapping = dict(zip(local.out_idx + local.wrt_idx, out_idx + by_idx, strict=True))
    terms = T.rename_sums(local.terms, names=letters)
    return T.to_sympy(T.substitute(terms, mapping))


def chain_rule(d: Derivation, name: str, link: str, out_idx: tuple, letters: tuple) -> S.ChainRule:
    shape = d.graph.shape_of(link)
    mid = letters[: len(shape.free_dims)]
    spare = letters[len(mid) :]
    out_e, wrt_e = _entry(d, name, out_idx), _entry(d, d.wrt, d.index.wrt_idx)
    mid_e = _entry(d, link, mid)
    summand = sympy.Mul(_partial(out_e, mid_e), _partial(mid_e, wrt_e), evaluate=False)
    component = sympy.Sum(summand, *((k, 1, dim) for k, dim in zip(mid, shape.free_dims)))
    expanded, gaps = (), ()
    if len(mid) == 1:
        values, gaps = _shown(shape.free_dims[0], None)
        expanded = tuple(summand.xreplace({mid[0]: v}) for v in values)
    local = (
        (_partial(out_e, mid_e), _local(d.graph, name, link, out_idx, mid, spare)),
        (_partial(mid_e, wrt_e), _local(d.graph, link, d.wrt, mid, d.index.wrt_idx, spare)),
    )
    whole = lambda n: _whole(d, n)  # noqa: E731
    is_output = name == d.output
    return S.ChainRule(
        f"{name} depends on {d.wrt} only through the intermediate {link}: apply the chain rule "
        f"to single components and sum over every component of {link}.",
        tuple((whole(n), of_op(d.graph.definition(n).op, {})) for n in (link,)),
        _partial(whole(name), whole(d.wrt)),
        _partial(whole(name), whole(link)) * _partial(whole(link), whole(d.wrt)),
        _partial(out_e, wrt_e),
        component,
        expanded,
        gaps,
        local,
        d.index_result if is_output else _local(d.graph, name, d.wrt, out_idx, d.index.wrt_idx, spare),
        d.result if is_output and d.matrix is not None else None,
    )


def elementwise(d: Derivation) -> S.Elementwise | None:
    op = d.graph.definition(d.output).op
    if not isinstance(op, ir.Apply) or len(op.shape.free_dims) != 1:
        return None
    i, j = index_letters(frozenset(d.graph.names))[:2]
    z, h = op.arg, d.output
    u = sympy.Dummy("u")
    from .functions import ELEMENTWISE

    prime = sympy.diff(ELEMENTWISE[op.func].sympy_func(u), u)
    lam = sympy.Lambda(u, prime)
    z_whole = _whole(d, z.name)
    in_chain = z.name != d.wrt
    return S.Elementwise(
        "An elementwise function's i-th output depends on the i-th input alone, so its "
        "Jacobian is diagonal.",
        _partial(_entry(d, h, (i,)), _entry(d, z.name, (j,))),
        prime.xreplace({u: _entry(d, z.name, (i,))}) * sympy.KroneckerDelta(i, j),
        _partial(_whole(d, h), z_whole),
        DiagMatrix(_apply(lam, z_whole)),
        _partial(_whole(d, h), _whole(d, d.wrt)) if in_chain else None,
        d.result if in_chain and d.matrix is not None else None,
    )


def _apply(lam: sympy.Lambda, m: sympy.Basic) -> sympy.Basic:
    from .mexpr import elementwise as apply

    return apply(lam, m)


# -- summary and the plan ------------------------------------------------------------------------
def summary(d: Derivation, report) -> S.Summary:
    how = "in matrix form" if d.matrix is not None else "in index form (it has no matrix form)"
    return S.Summary(
        f"The result {how}, in {d.layout} layout, checked exactly and against finite "
        "differences.",
        _partial(_whole(d, d.output), _whole(d, d.wrt)),
        d.result,
        _partial(_entry(d, d.output, d.index.out_idx), _entry(d, d.wrt, d.index.wrt_idx)),
        d.index_result,
        d.matrix is not None,
        d.layout,
        report,
    )


def _chain_steps(d: Derivation) -> list:
    out, name, idx, letters = [], d.output, d.index.out_idx, _letters(d)
    while (link := _link(d, name)) is not None and len(out) < 8:
        out.append(chain_rule(d, name, link, idx, letters))
        n = len(d.graph.shape_of(link).free_dims)
        name, idx, letters = link, letters[:n], letters[n:]
    return out


def plan(
    d: Derivation,
    *,
    example: Mapping | None = None,
    only: Iterable[str] | None = None,
    verify: bool = True,
) -> tuple[S.Step, ...]:
    """The steps of the worked derivation of d, verified first (a failed check raises)."""
    report = d.verify() if verify else None
    if d.graph.definition(d.output).auto is False and _link(d, d.output) is None:
        named = name_product_tail(d.graph, d.wrt, _tail_name(d))
        if named is not None:
            d = derive_graph(named, d.wrt, d.layout)
    out, wrt = _example(d, example)
    formula = component_formula(d, out, wrt)
    found: list = [formula]
    chain = _chain_steps(d)
    if not chain:
        found += list(expansion(d, formula) or ())
    found += chain
    found.append(generalization(d, out, wrt))
    for step in (elementwise(d), batch_rows(d)):
        if step is not None:
            found.append(step)
    batch = any(isinstance(s, S.BatchRows) for s in found)
    if not batch:
        found.append(tensor_structure(d, out, wrt) or jacobian_assembly(d))
    found.append(summary(d, report))
    keep = OPTIONAL if only is None else frozenset(only)
    _check_kinds(keep)
    return tuple(s for s in found if s is not None and (s.kind in keep or s.kind not in OPTIONAL))


def _tail_name(d: Derivation) -> str:
    for name in ("m", "h", "u", "v"):
        if name not in d.graph.names:
            return name
    return "m_1"


def _check_kinds(kinds: frozenset[str]) -> None:
    unknown = sorted(kinds - frozenset(S.KINDS))
    if unknown:
        raise InputError(
            f"unknown step kind(s): {', '.join(unknown)}", hint="known: " + ", ".join(S.KINDS)
        )
