"""Plan a derivation: the reference's steps, as typed objects holding sympy math."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sympy

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative, derive_graph
from derivtex.calculus.engine import Engine
from derivtex.calculus.mexpr import of_op
from derivtex.calculus.verify import VerificationReport
from derivtex.derivation import steps as S
from derivtex.derivation.assembly import batch_rows, jacobian_assembly, tensor_structure
from derivtex.derivation.chain import chain_steps, elementwise, link_of
from derivtex.derivation.graphs import name_product_tail
from derivtex.derivation.stepmath import at, entry, letters, partial, shown, whole
from derivtex.errors import InputError
from derivtex.language import ir

OPTIONAL = frozenset(S.KINDS) - {"component_formula", "summary"}
EXAMPLE_OUT, EXAMPLE_WRT = (3, 4), (7, 8)


# -- examples ------------------------------------------------------------------------------------
def _default_example(dims: tuple[sympy.Expr, ...], start: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(min(s, int(d)) if d.is_Integer else s for s, d in zip(start, dims, strict=False))


def _example(d: Derivative, example: Mapping | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    given = {k: (v,) if isinstance(v, int) else tuple(v) for k, v in (example or {}).items()}
    out = given.get(d.output, _default_example(d.index.out_dims, EXAMPLE_OUT))
    wrt = given.get(d.wrt, _default_example(d.index.wrt_dims, EXAMPLE_WRT))
    for name, idx, dims in ((d.output, out, d.index.out_dims), (d.wrt, wrt, d.index.wrt_dims)):
        _check_example(name, idx, dims)
    return out, wrt


def _check_example(name: str, idx: tuple[int, ...], dims: tuple[sympy.Expr, ...]) -> None:
    fits = len(idx) == len(dims) and all(
        i >= 1 and not (d.is_Integer and i > d) for i, d in zip(idx, dims, strict=True)
    )
    if not fits:
        raise InputError(
            f"example component {name}{list(idx)} does not fit {name}'s shape",
            hint=f"give {len(dims)} index(es) from 1 up to the size of each axis",
        )


# -- helpers -------------------------------------------------------------------------------------
def _definitions(d: Derivative, formula: sympy.Expr) -> tuple[tuple[sympy.Basic, sympy.Basic], ...]:
    """The intermediates a formula names, with what they stand for (z = W x + b)."""
    used = {str(s) for s in formula.free_symbols} | {
        str(e.base.label) for e in formula.atoms(sympy.Indexed)
    }
    out = []
    for definition in d.graph.definitions:
        named = definition.name in used
        if definition.name == d.output or not (definition.auto or named):
            continue
        if _is_norm(definition.op) and not named:
            continue  # a norm written out as its sum needs no name
        out.append((whole(d, definition.name), of_op(definition.op, {})))
    return tuple(out)


def _is_norm(op: ir.Op) -> bool:
    return isinstance(op, ir.Reduce) and op.kind == "norm"


# -- component formula, expansion, partials --------------------------------------------------------
def component_formula(d: Derivative, out: tuple, wrt: tuple) -> S.ComponentFormula:
    engine = Engine(d.graph)
    value = engine.value(d.graph.definition(d.output).op, out)
    value = T.rename_sums(value, names=letters(d))
    rhs = _spell_out_norms(d, engine, T.to_sympy(value))
    return S.ComponentFormula(
        f"Pick one component of {d.output} and one of {d.wrt}, and write the output component "
        "as an explicit sum over its indices.",
        entry(d, d.output, out),
        rhs,
        entry(d, d.wrt, wrt),
        _definitions(d, rhs),
    )


def _spell_out_norms(d: Derivative, engine: Engine, rhs: sympy.Expr) -> sympy.Expr:
    """A norm the tool named (n = ||r||) written as its sum: L = n^2 reads L = sum_k r_k^2."""
    for definition in d.graph.definitions:
        op = definition.op
        name = sympy.Symbol(definition.name)
        if definition.auto and _is_norm(op) and rhs.has(name):
            rhs = rhs.xreplace({name: T.to_sympy(engine.value(op, ()))})
    return _tidy_sums(d, rhs)


def _tidy_sums(d: Derivative, expr: sympy.Expr) -> sympy.Expr:
    """Readable names (k, l, ...) for summation indices the engine named _t0, _t1, ..."""
    free = iter(k for k in letters(d) if k not in expr.free_symbols)
    mapping = {}
    for total in sorted(expr.atoms(sympy.Sum), key=str):
        for k, *_ in total.limits:
            if k.name.startswith("_t") and k not in mapping:
                mapping[k] = next(free)
    return expr.xreplace(mapping)


def _single_sum(expr: sympy.Expr) -> sympy.Sum | None:
    if isinstance(expr, sympy.Sum) and len(expr.limits) == 1:
        return expr
    return None


def _marked_value(term: sympy.Expr, k: sympy.Symbol, wrt_entry: sympy.Expr) -> int | None:
    for e in term.atoms(sympy.Indexed):
        if e.base == getattr(wrt_entry, "base", None):
            rest = [(a, b) for a, b in zip(e.indices, wrt_entry.indices, strict=True) if a != b]
            if len(rest) == 1 and rest[0][0] == k:
                return int(rest[0][1])
    return None


def expansion(
    d: Derivative, formula: S.ComponentFormula
) -> tuple[S.SumExpansion, S.TermPartial] | None:
    total = _single_sum(formula.rhs)
    if total is None:
        return None
    k, _, dim = total.limits[0]
    marked_value = _marked_value(total.function, k, formula.wrt_entry)
    if marked_value is None:
        return None
    values, gaps = shown(dim, marked_value)
    terms = tuple(total.function.subs(k, v) for v in values)  # leaves inner sums over k alone
    marked = values.index(marked_value)
    partials = tuple(
        partial(t, formula.wrt_entry) if n == marked else sympy.Integer(0)
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
            partial(formula.lhs, formula.wrt_entry),
            formula.wrt_entry,
            terms,
            partials,
            gaps,
            marked,
            result,
        ),
    )


def generalization(d: Derivative, out: tuple, wrt: tuple) -> S.Generalization:
    return S.Generalization(
        "Nothing depended on the particular components chosen, so the same holds for every "
        "index pair.",
        partial(entry(d, d.output, d.index.out_idx), entry(d, d.wrt, d.index.wrt_idx)),
        d.index_result,
        partial(entry(d, d.output, out), entry(d, d.wrt, wrt)),
        at(d, out, wrt),
    )


# -- assembly ------------------------------------------------------------------------------------
# -- chain rule and elementwise functions ----------------------------------------------------------
# -- summary and the plan ------------------------------------------------------------------------
def summary(d: Derivative, report) -> S.Summary:
    how = "in matrix form" if d.matrix is not None else "in index form (it has no matrix form)"
    return S.Summary(
        f"The result {how}, in {d.layout} layout, checked exactly and against finite differences.",
        partial(whole(d, d.output), whole(d, d.wrt)),
        d.result,
        partial(entry(d, d.output, d.index.out_idx), entry(d, d.wrt, d.index.wrt_idx)),
        d.index_result,
        d.matrix is not None,
        d.layout,
        report,
    )


def plan(
    d: Derivative,
    report: VerificationReport | None,
    *,
    example: Mapping | None = None,
    only: Iterable[str] | None = None,
) -> tuple[S.Step, ...]:
    """The steps of the worked derivation of d, in the reference's order; `report` proves it."""
    if d.graph.definition(d.output).auto is False and link_of(d, d.output) is None:
        named = name_product_tail(d.graph, d.wrt, _tail_name(d))
        if named is not None:
            d = derive_graph(named, d.wrt, d.layout)
    out, wrt = _example(d, example)
    formula = component_formula(d, out, wrt)
    found: list = [formula]
    chain = chain_steps(d)
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


def _tail_name(d: Derivative) -> str:
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
