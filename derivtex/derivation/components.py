"""Steps about single components: the component formula, its sum written out, per-term partials."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TypeAlias

import sympy

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import Engine, Idx
from derivtex.calculus.mexpr import of_op
from derivtex.derivation import steps as S
from derivtex.derivation.expansion import partials, write_out
from derivtex.derivation.stepmath import Index, Pos, SumExcept, exprs, letters, partial, whole
from derivtex.language import ir
from derivtex.language.typecheck import depends_on

# Index values tried, in order, for an example entry that is not zero.
SEARCH = (7, 8, 2, 3, 1, 4, 5, 6)
MAX_TRIES = 64
Letters: TypeAlias = tuple[sympy.Symbol, ...]


# -- the value of one component ----------------------------------------------------------------
def formula(d: Derivative, name: str, idx: Index, avoid: Idx = ()) -> sympy.Expr:
    """name[idx] as an explicit sum over inputs and named intermediates (norms spelled out)."""
    engine = Engine(d.graph)
    value = engine.value(d.graph.definition(name).op, exprs(idx))
    names = tuple(k for k in letters(d) if k not in avoid)
    value = T.rename_sums(value, names=names)
    return _spell_out_norms(d, engine, T.to_sympy(value), names)


def _spell_out_norms(d: Derivative, engine: Engine, rhs: sympy.Expr, names: Letters) -> sympy.Expr:
    """A norm the tool named (n = ||r||) written as its sum: L = n^2 reads L = sum_k r_k^2."""
    for definition in d.graph.definitions:
        op = definition.op
        name = sympy.Symbol(definition.name)
        if definition.auto and is_norm(op) and rhs.has(name):
            rhs = rhs.xreplace({name: T.to_sympy(engine.value(op, ()))})
    return _tidy_sums(rhs, names)


def _tidy_sums(expr: sympy.Expr, names: Letters) -> sympy.Expr:
    """Readable names (k, l, ...) for summation indices the engine named _t0, _t1, ..."""
    free = iter(k for k in names if k not in expr.free_symbols)
    mapping: dict[sympy.Symbol, sympy.Symbol] = {}
    for total in sorted(expr.atoms(sympy.Sum), key=str):
        for k, *_ in total.limits:
            if k.name.startswith("_t") and k not in mapping:
                mapping[k] = next(free)
    return expr.xreplace(mapping)


def is_norm(op: ir.Op) -> bool:
    return isinstance(op, ir.Length)


def names_in(expr: sympy.Basic) -> set[str]:
    """The names of the scalars and tensors an expression reads (x for x_7)."""
    return {str(s) for s in expr.free_symbols} | {
        str(e.base.label) for e in expr.atoms(sympy.Indexed)
    }


def definitions(d: Derivative, rhs: sympy.Expr, skip: str) -> tuple[tuple[sympy.Basic, ...], ...]:
    """The intermediates a formula names, with what they stand for (z = W x + b)."""
    used = names_in(rhs)
    # A determinant's slope reads its inverse (d det X = det(X) tr(X^{-1} dX)): name it too.
    used |= {
        x.op.inverse for x in d.graph.definitions if x.name in used and isinstance(x.op, ir.Det)
    }
    out = []
    for definition in d.graph.definitions:
        if definition.name == skip or definition.name not in used:
            continue
        if is_norm(definition.op) and definition.auto:
            continue  # written out as its sum
        out.append((whole(d, definition.name), of_op(definition.op, {})))
    return tuple(out)


# -- the user's order ----------------------------------------------------------------------------
def in_user_order(expr: sympy.Basic, source: str) -> sympy.Basic:
    """Products and sums in the order the user wrote their names: X_{3,p} W_{p,4}, not W X."""
    key = _order_key(source)

    def walk(e: sympy.Basic) -> sympy.Basic:
        if isinstance(e, sympy.Mul):
            args = sorted((walk(a) for a in e.args), key=lambda a: (_rank(a), key(a)))
            return _unevaluated_mul(_chained(args))
        if isinstance(e, sympy.Add):
            args = sorted((walk(a) for a in e.args), key=key)
            return sympy.Add(*args, evaluate=False)
        if isinstance(e, sympy.Derivative):
            return sympy.Derivative(walk(e.args[0]), *e.args[1:], evaluate=False)
        if isinstance(e, sympy.Sum | SumExcept):
            return e.func(walk(e.args[0]), *e.args[1:])
        if isinstance(e, sympy.Pow | sympy.Function) and e.args:
            return e.func(*(walk(a) for a in e.args), evaluate=False)
        return e

    return walk(expr)


def _rank(a: sympy.Basic) -> int:
    """Numbers, then scalars, then deltas, then entries: 2 lambda delta_{i,k} w_j."""
    if a.is_Number:
        return 0
    if isinstance(a, sympy.Symbol):
        return 1
    return 2 if isinstance(a, sympy.KroneckerDelta) else 3


def _indices(a: sympy.Basic) -> Idx:
    base = a.base if isinstance(a, sympy.Pow) else a
    return base.indices if isinstance(base, sympy.Indexed) else ()


def _follows(a: sympy.Basic, b: sympy.Basic) -> bool:
    """Whether b continues a as in a matrix product: a_{.,p} b_{p,.}."""
    ia, ib = _indices(a), _indices(b)
    return bool(ia and ib) and ia[-1] == ib[0]


def _chained(args: list[sympy.Basic]) -> list[sympy.Basic]:
    """Factors in matrix-product order (x_j A_{j,k} x_k), chains started in the order given."""
    rest, out = list(args), []
    while rest:
        starts = [
            n
            for n, a in enumerate(rest)
            if not any(m != n and _follows(b, a) for m, b in enumerate(rest))
        ]
        current = rest.pop(starts[0] if starts else 0)
        out.append(current)
        while (
            n := next((n for n, b in enumerate(rest) if _follows(current, b)), None)
        ) is not None:
            current = rest.pop(n)
            out.append(current)
    return out


def _unevaluated_mul(args: list[sympy.Basic]) -> sympy.Basic:
    """A product that prints in the order given.

    The printer keeps the order of a product whose factors are not in sympy's own order; when
    they happen to be, a leading factor 1 (which the printer skips) keeps it apart.
    """
    canonical = sympy.Mul(*args)
    if tuple(args) == canonical.args and args != canonical.as_ordered_factors():
        args = [sympy.Integer(1), *args]
    return sympy.Mul(*args, evaluate=False)


def _order_key(source: str) -> Callable[[sympy.Basic], int]:
    def position(e: sympy.Basic) -> int:
        names = [str(a.base.label) for a in e.atoms(sympy.Indexed)] + [
            str(s) for s in e.free_symbols if not isinstance(s, sympy.Dummy)
        ]
        found = [m.start() for n in names for m in [re.search(rf"\b{re.escape(n)}\b", source)] if m]
        return min(found, default=len(source) + 1)

    return position


# -- written out, then differentiated term by term ------------------------------------------------
def hidden(d: Derivative, rhs: sympy.Expr, by: str, held: tuple[str, ...] = ()) -> bool:
    """Whether the formula names an intermediate that depends on `by` (then no term is constant);
    `held` intermediates are held fixed, so they count as constants."""
    names = names_in(rhs)
    return any(
        n != by
        and n not in held
        and n in d.graph.names
        and n not in dict(d.graph.inputs)
        and by in depends_on(d.graph, n)
        for n in names
    )


def term_by_term(
    lhs: sympy.Expr, rhs: sympy.Expr, wrt_entry: sympy.Expr, result: sympy.Expr, source: str
) -> tuple[S.SumExpansion, S.TermPartial] | None:
    """The sum written out with its marked terms, and the partial of each term."""
    written = write_out(rhs, wrt_entry)
    if written is None or not written.marked:
        return None
    values, rules = partials(written, wrt_entry)

    def order(e: sympy.Basic) -> sympy.Basic:
        return in_user_order(e, source)

    terms = tuple(order(t) for t in written.terms)
    shown = tuple(
        partial(terms[n], wrt_entry) if n in written.marked else sympy.Integer(0)
        for n in range(len(terms))
    )
    signs = tuple(s if n in written.marked else 1 for n, s in enumerate(written.signs))
    several = len(written.marked) > 1
    return (
        S.SumExpansion(
            "Write the sum out term by term and mark the terms that hold the component we "
            "differentiate by" + (" (several do)." if several else " (exactly one does)."),
            lhs,
            terms,
            written.signs,
            written.gaps,
            written.marked,
        ),
        S.TermPartial(
            "Differentiate term by term: every unmarked term is a constant and gives zero.",
            partial(lhs, wrt_entry),
            wrt_entry,
            shown,
            signs,
            written.gaps,
            written.marked,
            tuple(order(values[n]) for n in written.marked),
            rules,
            order(result),
        ),
    )


# -- examples that are not zero ------------------------------------------------------------------
def nonzero_example(
    value: Callable[[Pos, Pos], sympy.Expr],
    out: Pos,
    wrt: Pos,
    wrt_dims: Idx,
    out_dims: Idx = (),
    terms: int = 1,
) -> tuple[Pos, Pos]:
    """(out, wrt) near the given pair whose entry is not zero, preferring one where all `terms`
    of the index form survive (a diagonal entry when some term has a delta); the pair itself
    if every entry tried is zero."""
    best, best_count = (out, wrt), 0
    for n, (o, w) in enumerate(_nearby(out, wrt, out_dims, wrt_dims)):
        if n >= MAX_TRIES:
            break
        entry_value = value(o, w)
        count = 0 if entry_value == 0 else len(sympy.Add.make_args(entry_value))
        if count > best_count:
            best, best_count = (o, w), count
        if best_count >= terms:
            break
    return best


def _nearby(out: Pos, wrt: Pos, out_dims: Idx, wrt_dims: Idx) -> Iterator[tuple[Pos, Pos]]:
    yield out, wrt
    pool = tuple(dict.fromkeys((*out, *SEARCH)))
    for cand in candidates(wrt_dims, pool, wrt):
        yield out, cand
    for cand in candidates(out_dims, tuple(dict.fromkeys((*wrt, *SEARCH))), out):
        yield cand, wrt


def candidates(dims: Idx, pool: Pos, start: Pos) -> Iterator[Pos]:
    """Index tuples from pool, each value within its axis, changing the last axes first."""
    if not dims:
        yield ()
        return
    first = [start[0], *(v for v in pool if v != start[0])]
    values = [v for v in first if not dims[0].is_Integer or v <= int(dims[0])]
    for head in values:
        for rest in candidates(dims[1:], pool, start[1:]):
            yield (head, *rest)
