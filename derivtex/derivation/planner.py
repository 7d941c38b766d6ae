"""Plan a derivation: the reference's steps, as typed objects holding sympy math."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sympy

from derivtex.calculus import symmetric as SYM
from derivtex.calculus.derivative import Derivative, derive_graph
from derivtex.calculus.verify import VerificationReport
from derivtex.derivation import steps as S
from derivtex.derivation.assembly import (
    batch_rows,
    find_entry,
    jacobian_assembly,
    tensor_structure,
)
from derivtex.derivation.chain import chain_steps, elementwise, link_of
from derivtex.derivation.components import (
    definitions,
    formula,
    hidden,
    in_user_order,
    nonzero_example,
    term_by_term,
)
from derivtex.derivation.graphs import name_product_tail
from derivtex.derivation.quotient import quotient_rule, softmax_arg
from derivtex.derivation.rules import worked_rules
from derivtex.derivation.stepmath import Pos, at, default_example, entry, letters, partial, whole
from derivtex.errors import InputError

OPTIONAL = frozenset(S.KINDS) - {"component_formula", "summary"}
EXAMPLE_OUT, EXAMPLE_WRT = (3, 4), (7, 8)


# -- examples ------------------------------------------------------------------------------------
def _example(d: Derivative, example: Mapping[str, int | Sequence[int]] | None) -> tuple[Pos, Pos]:
    given = {k: (v,) if isinstance(v, int) else tuple(v) for k, v in (example or {}).items()}
    out = given.get(d.output, default_example(d.index.out_dims, EXAMPLE_OUT))
    wrt = given.get(d.wrt, default_example(d.index.wrt_dims, EXAMPLE_WRT))
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


# -- component formula, then term by term ---------------------------------------------------------
def component_formula(d: Derivative, out: Pos, wrt: Pos) -> S.ComponentFormula:
    rhs = formula(d, d.output, out)
    return S.ComponentFormula(
        f"Pick one component of ${d.output}$ and one of ${d.wrt}$, and write the output component "
        "as an explicit sum over its indices.",
        entry(d, d.output, out),
        in_user_order(rhs, d.graph.source),
        entry(d, d.wrt, wrt),
        definitions(d, rhs, d.output),
    )


def expansion(d: Derivative, formula: S.ComponentFormula, out: Pos, wrt: Pos) -> list[S.Step]:
    """The output's sum written out and differentiated term by term (no chain rule needed)."""
    if hidden(d, formula.rhs, d.wrt):
        return []  # an intermediate hides wrt: several paths, and no term can be read off
    found = term_by_term(
        formula.lhs, formula.rhs, formula.wrt_entry, at(d, out, wrt), d.graph.source
    )
    return list(found or ()) or _quotient(d)


def _quotient(d: Derivative) -> list[S.Step]:
    """p = softmax(z) by z: the quotient rule and its cases; the assembly shows the matrix."""
    if softmax_arg(d, d.output) != d.wrt:
        return []
    idx = (d.index.out_idx, d.index.wrt_idx)
    return [quotient_rule(d, d.output, idx, letters(d), matrix=False)]


def sparsity(d: Derivative, zero: tuple[Pos, Pos], worked: tuple[Pos, Pos]) -> S.Sparsity:
    """A zero entry (the component does not occur in the output's formula), then a nonzero one."""
    (out, wrt), (w_out, w_wrt) = zero, worked
    return S.Sparsity(
        f"Not every entry of the derivative is nonzero: a component of ${d.output}$ need not "
        f"involve every component of ${d.wrt}$.",
        entry(d, d.output, out),
        entry(d, d.wrt, wrt),
        partial(entry(d, d.output, out), entry(d, d.wrt, wrt)),
        partial(entry(d, d.output, w_out), entry(d, d.wrt, w_wrt)),
        in_user_order(at(d, w_out, w_wrt), d.graph.source),
    )


def generalization(d: Derivative, out: Pos, wrt: Pos) -> S.Generalization:
    return S.Generalization(
        "Nothing depended on the particular components chosen, so the same holds for every "
        "index pair.",
        partial(entry(d, d.output, d.index.out_idx), entry(d, d.wrt, d.index.wrt_idx)),
        in_user_order(d.index_result, d.graph.source),
        partial(entry(d, d.output, out), entry(d, d.wrt, wrt)),
        in_user_order(at(d, out, wrt), d.graph.source),
    )


# -- assembly ------------------------------------------------------------------------------------
# -- chain rule and elementwise functions ----------------------------------------------------------
# -- summary and the plan ------------------------------------------------------------------------
def symmetric(d: Derivative) -> S.Symmetric:
    """The entrywise result under X^T = X; by a symmetric variable, the gradient (G + G^T)/2."""
    sym = sorted(SYM.names(d.graph))
    lhs = partial(whole(d, d.output), whole(d, d.wrt))
    if d.wrt in sym:
        g = d.result
        why = (
            f"${d.wrt}$ is symmetric, so its entries at (k, l) and (l, k) are one variable. The "
            "derivative entry by entry, G, treated them as two; the gradient is the average of "
            "G and its transpose, the symmetric matrix whose inner product with every symmetric "
            "change gives the change of the output."
        )
        half = sympy.MatMul(
            sympy.Rational(1, 2), sympy.MatAdd(g, g.T, evaluate=False), evaluate=False
        )
        # an answer that is itself a half sum is the line above; else it simplified further
        same = isinstance(d.answer, sympy.MatMul) and d.answer.args[0] == sympy.Rational(1, 2)
        return S.Symmetric(why, lhs, g, half, None if same else d.answer)
    are = "is" if len(sym) == 1 else "are"
    why = f"{' and '.join(f'${n}$' for n in sym)} {are} symmetric, so a transpose of it is itself."
    return S.Symmetric(why, lhs, d.result, None, d.answer)


def summary(d: Derivative, report: VerificationReport | None) -> S.Summary:
    how = "in matrix form" if d.matrix is not None else "in index form (it has no matrix form)"
    index_lhs = partial(entry(d, d.output, d.index.out_idx), entry(d, d.wrt, d.index.wrt_idx))
    return S.Summary(
        f"The result {how}, in {d.layout} layout, checked exactly and against finite differences.",
        partial(whole(d, d.output), whole(d, d.wrt)) if d.matrix is not None else index_lhs,
        d.answer if d.matrix is not None else in_user_order(d.index_result, d.graph.source),
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
    example: Mapping[str, int | Sequence[int]] | None = None,
    only: Iterable[str] | None = None,
) -> tuple[S.Step, ...]:
    """The steps of the worked derivation of d, in the reference's order; `report` proves it."""
    if d.graph.definition(d.output).auto is False and link_of(d, d.output) is None:
        named = name_product_tail(d.graph, d.wrt, _tail_name(d))
        if named is not None:
            d = derive_graph(named, d.wrt, d.layout)
    start = _example(d, example)
    worked = nonzero_example(
        lambda o, w: at(d, o, w), *start, d.index.wrt_dims, d.index.out_dims, len(d.index.terms)
    )
    formula = component_formula(d, *worked)
    found: list[S.Step] = [formula, *worked_rules(d)]  # an inverse's or determinant's rule, derived
    chain = chain_steps(d, formula, *worked)
    found += chain or expansion(d, formula, *worked)
    batch = batch_rows(d)
    tensor = None if batch else tensor_structure(d, *worked, zero_from=start)
    zero = find_entry(d, *start, zero=True)
    if zero is not None and tensor is None:
        found.append(sparsity(d, zero, worked))
    found.append(generalization(d, *worked))
    found += [step for step in (elementwise(d), batch) if step is not None]
    assembled = tensor or jacobian_assembly(d) if batch is None else None
    if assembled is not None:
        found.append(assembled)
    if d.symmetric is not None:
        found.append(symmetric(d))
    found.append(summary(d, report))
    keep = OPTIONAL if only is None else frozenset(only)
    _check_kinds(keep)
    return tuple(s for s in found if s.kind in keep or s.kind not in OPTIONAL)


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
