"""The worked Hessian: the gradient's steps, one gradient component differentiated, the assembly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sympy

from derivtex.calculus import terms as T
from derivtex.calculus.engine import Engine, Idx, entry
from derivtex.calculus.mexpr import symbol
from derivtex.calculus.second import Hessian, atom_op, atom_partials, differentiate_term, named_ops
from derivtex.calculus.verify import VerificationReport
from derivtex.derivation import steps as S
from derivtex.derivation.assembly import _grid, _shown_cell, _simple_grid
from derivtex.derivation.components import in_user_order, nonzero_example
from derivtex.derivation.planner import EXAMPLE_OUT, EXAMPLE_WRT, OPTIONAL, _check_kinds, plan
from derivtex.derivation.stepmath import Index, binding, default_example, exprs, partial
from derivtex.language import ir


def _entry(h: Hessian, idx: Index) -> sympy.Expr:
    return entry(h.wrt, h.wrt_shape, exprs(idx))


def _gradient_entry(h: Hessian, idx: Index) -> sympy.Expr:
    return partial(sympy.Symbol(h.output), _entry(h, idx))


def _second(h: Hessian, first: Index, second: Index) -> sympy.Expr:
    """d^2 L / d wrt[first] d wrt[second], unevaluated."""
    return sympy.Derivative(sympy.Symbol(h.output), _entry(h, first), _entry(h, second))


def at(h: Hessian, first: Index, second: Index) -> sympy.Expr:
    """The Hessian's index form at concrete indices."""
    mapping = binding(h.index.out_idx + h.index.wrt_idx, first + second)
    return T.to_sympy(T.substitute(h.index.terms, mapping))


def _worked(h: Hessian, example: Mapping[str, int | Sequence[int]] | None) -> tuple[Index, Index]:
    given = {k: (v,) if isinstance(v, int) else tuple(v) for k, v in (example or {}).items()}
    dims = h.index.wrt_dims
    first = given.get(h.wrt, default_example(dims, EXAMPLE_WRT))
    second = default_example(dims, EXAMPLE_OUT)

    def value(a: Index, b: Index) -> sympy.Expr:
        return at(h, a, b)

    return nonzero_example(value, first, second, dims, dims, len(h.index.terms))


def second_partial(h: Hessian, first: Index, second: Index) -> S.SecondPartial:
    """The gradient component at `first`, differentiated term by term by the entry `second`."""
    graph, source = h.graph, h.graph.source
    grad = h.gradient.index
    component = T.substitute(grad.terms, binding(grad.wrt_idx, first))
    engine, ops = Engine(graph), named_ops(graph)
    wrt_entry = _entry(h, second)
    values = tuple(
        in_user_order(T.to_sympy(differentiate_term(engine, ops, t, h.wrt, exprs(second))), source)
        for t in component
    )
    links, rules = _links(engine, ops, component, h.wrt, exprs(second))
    return S.SecondPartial(
        f"Differentiate one component of the gradient once more, term by term, by "
        f"the component of ${h.wrt}$ of the second index.",
        _second(h, first, second),
        _gradient_entry(h, first),
        in_user_order(T.to_sympy(component), source),
        wrt_entry,
        tuple(in_user_order(t.as_sympy(), source) for t in component),
        values,
        links,
        rules,
        in_user_order(at(h, first, second), source),
        _second(h, h.index.out_idx, h.index.wrt_idx),
        in_user_order(h.index_result, source),
        True,
    )


def _links(
    engine: Engine, ops: Mapping[str, ir.Leaf | ir.Ref], component: T.Terms, wrt: str, second: Idx
) -> tuple[tuple[tuple[sympy.Expr, sympy.Expr], ...], tuple[str, ...]]:
    """d r_k / d x_7 for each named intermediate entry the component reads, and the rules used."""
    links: dict[sympy.Expr, sympy.Expr] = {}
    rules = ["sum rule"]
    for term in component:
        slopes = atom_partials(term.factor, engine.graph)
        moving = 0
        for atom, _ in slopes:
            op, idx = atom_op(atom, ops)
            inner = engine.deriv(op, idx, wrt, second)
            moving += bool(inner)
            if inner and isinstance(op, ir.Ref):
                value = T.to_sympy(T.rename_sums(inner, fresh=engine.fresh))
                links.setdefault(partial(atom, _entry_of(engine, wrt, second)), value)
        if moving > 1 and "product rule" not in rules:
            rules.append("product rule")
    if links:
        rules.append("chain rule through the named values")
    return tuple(links.items()), tuple(rules)


def _entry_of(engine: Engine, wrt: str, idx: Idx) -> sympy.Expr:
    return entry(wrt, engine.graph.shape_of(wrt), idx)


def hessian_assembly(h: Hessian) -> S.HessianAssembly | None:
    """The grid of second partials, its entries and the matrix form, stated symmetric."""
    tgt = h.target
    if tgt is None or h.matrix is None or not h.index.out_idx:
        return None

    def cell(r: int | sympy.Expr, c: int | sympy.Expr) -> sympy.Expr:  # printed d^2 L / d x_r d x_c
        return _second(h, (c,), (r,))

    def value(r: int | sympy.Expr, c: int | sympy.Expr) -> sympy.Expr:
        return _shown_cell(at(h, (c,), (r,)))

    whole = symbol(h.wrt, h.wrt_shape)
    return S.HessianAssembly(
        "Collect every second partial into one matrix: row i, column j holds the derivative "
        f"by the i-th and the j-th components of ${h.wrt}$. The order of the two partials does "
        "not matter, so the (i, j) and (j, i) entries agree: the Hessian is symmetric (the "
        "checks confirm it entry by entry).",
        sympy.Derivative(sympy.Symbol(h.output), whole, whole, evaluate=False),
        _grid(tgt, cell),
        _simple_grid(_grid(tgt, value)),
        h.result,
        True,
    )


def summary(h: Hessian, report: VerificationReport) -> S.Summary:
    how = "in matrix form" if h.matrix is not None else "in index form (it has no matrix form)"
    whole = symbol(h.wrt, h.wrt_shape)
    index_lhs = _second(h, h.index.out_idx, h.index.wrt_idx)
    return S.Summary(
        f"The Hessian {how}, symmetric, checked exactly (sympy's derivative taken twice) and "
        "against finite differences of the gradient.",
        sympy.Derivative(sympy.Symbol(h.output), whole, whole, evaluate=False)
        if h.matrix is not None
        else index_lhs,
        h.result if h.matrix is not None else in_user_order(h.index_result, h.graph.source),
        index_lhs,
        h.index_result,
        h.matrix is not None,
        str(h.gradient.layout),
        report,
    )


def plan_second(
    h: Hessian,
    report: VerificationReport,
    second_report: VerificationReport,
    *,
    example: Mapping[str, int | Sequence[int]] | None = None,
    only: Iterable[str] | None = None,
) -> tuple[S.Step, ...]:
    """The gradient's worked steps (without its summary), then the Hessian's."""
    gradient = [s for s in plan(h.gradient, report, example=example, only=only)]
    found: list[S.Step | None] = [s for s in gradient if s.kind != "summary"]
    first, second = _worked(h, example)
    found += [second_partial(h, first, second), hessian_assembly(h), summary(h, second_report)]
    keep = OPTIONAL if only is None else frozenset(only)
    _check_kinds(keep)
    return tuple(s for s in found if s is not None and (s.kind in keep or s.kind not in OPTIONAL))
