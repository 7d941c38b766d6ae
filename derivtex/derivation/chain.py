"""Steps for composed functions: the chain rule through named intermediates, elementwise maps."""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import Idx, differentiate, index_letters
from derivtex.calculus.mexpr import of_op
from derivtex.derivation import steps as S
from derivtex.derivation.components import (
    formula,
    hidden,
    in_user_order,
    is_norm,
    nonzero_example,
    term_by_term,
)
from derivtex.derivation.graphs import cut
from derivtex.derivation.quotient import quotient_rule, softmax_arg
from derivtex.derivation.stepmath import (
    Held,
    Pos,
    binding,
    default_example,
    entry,
    letters,
    partial,
    shown,
    whole,
)
from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.typecheck import depends_on
from derivtex.options import Layout

LINK_EXAMPLE = (5, 6)  # the worked component of an intermediate (the output's is y_3, wrt's x_7)


def link_of(d: Derivative, name: str) -> str | None:
    """The one intermediate through which `name` depends on wrt, if there is exactly one."""
    found = frontier(d, name)
    return found[0] if len(found) == 1 and found[0] != d.wrt else None


def frontier(d: Derivative, name: str) -> tuple[str, ...]:
    """Named values (the user's or the tool's) through which `name` depends on wrt, in the
    order they are defined, wrt itself last when `name` also reads it directly.

    A norm the tool named is looked through: the component formula writes it out as its sum.
    """
    order = {x.name: n for n, x in enumerate(d.graph.definitions)}
    found = _reads(d, name)
    return tuple(sorted(found, key=lambda n: order.get(n, len(order))))


def _reads(d: Derivative, name: str) -> set[str]:
    out: set[str] = set()
    for used in ir.names_used(d.graph.definition(name).op):
        if used == d.wrt:
            out.add(used)  # read directly
        elif used in dict(d.graph.inputs) or d.wrt not in depends_on(d.graph, used):
            continue
        elif d.graph.definition(used).auto and is_norm(d.graph.definition(used).op):
            out |= _reads(d, used)
        else:
            out.add(used)
    return out


def _local_terms(
    graph: ir.Graph,
    of: str,
    by: str,
    out_idx: Idx,
    by_idx: Idx,
    names: tuple[sympy.Symbol, ...],
    held: tuple[str, ...] = (),
) -> T.Terms:
    """d of[out_idx] / d by[by_idx] as terms, `by` and the `held` values taken as inputs."""
    local_graph = ir.Graph(graph.inputs, graph.definitions, of, graph.source)
    for name in (by, *held):
        if name not in dict(local_graph.inputs):
            local_graph = cut(local_graph, name, of)
    local = differentiate(local_graph, by)
    mapping = binding(local.out_idx + local.wrt_idx, out_idx + by_idx)
    terms = T.rename_sums(local.terms, names=names)
    return T.substitute(terms, mapping)


def _local(
    graph: ir.Graph, of: str, by: str, out_idx: Idx, by_idx: Idx, names: tuple[sympy.Symbol, ...]
) -> sympy.Expr:
    return T.to_sympy(_local_terms(graph, of, by, out_idx, by_idx, names))


MAX_LINKS = 12


def _spare(d: Derivative) -> tuple[sympy.Symbol, ...]:
    """Letters for summed indices: none of the general indices of any tensor on the chain."""
    taken = {s for idx in indices(d).values() for s in idx}
    return tuple(s for s in letters(d) if s not in taken)


def spare_avoid(d: Derivative) -> tuple[sympy.Symbol, ...]:
    return tuple(s for idx in indices(d).values() for s in idx)


def local_derivative(
    d: Derivative,
    of: str,
    by: str,
    idx: tuple[Idx, Idx],
    example: tuple[Pos, Pos],
    label: str,
    main: S.ComponentFormula | None,
    held: tuple[str, ...] = (),
) -> S.LocalDerivative:
    """d of / d by for one link, derived as the method does: component, term by term, general.

    `held`: the other intermediates `of` reads, held fixed (a partial derivative, not total).
    """
    (of_idx, by_idx), spare = idx, _spare(d)
    terms = _local_terms(d.graph, of, by, of_idx, by_idx, spare, held)
    syms = of_idx + by_idx

    def value(o: Pos, w: Pos) -> sympy.Expr:
        return T.to_sympy(T.substitute(terms, binding(syms, o + w)))

    dims = (d.graph.shape_of(by).free_dims, d.graph.shape_of(of).free_dims)
    of_ex, by_ex = nonzero_example(value, *example, *dims, len(terms))
    lhs, wrt_entry = entry(d, of, of_ex), entry(d, by, by_ex)
    plain = in_user_order(formula(d, of, of_ex), d.graph.source)
    cited = main is not None and main.lhs == lhs and main.rhs == plain
    rhs = (
        plain
        if cited
        else in_user_order(formula(d, of, of_ex, avoid=spare_avoid(d)), d.graph.source)
    )
    found = None
    if not hidden(d, rhs, by, held):
        found = term_by_term(lhs, rhs, wrt_entry, value(of_ex, by_ex), d.graph.source)
    expansion, term_partial = found or (None, None)
    fixed = " holding " + ", ".join(f"${n}$" for n in held) + " fixed" if held else ""
    cases = quotient_rule(d, of, idx, spare) if softmax_arg(d, of) == by else None
    how = "the quotient rule: one component, its two cases" if cases else "the same steps: one "
    return S.LocalDerivative(
        f"The local derivative of ${of}$ by ${by}${fixed}, by {how}"
        + ("" if cases else "component, its terms")
        + ", then every index.",
        label,
        _held(partial(entry(d, of, of_idx), entry(d, by, by_idx)), d, held),
        in_user_order(T.to_sympy(terms), d.graph.source),
        lhs,
        rhs,
        cited,
        wrt_entry,
        expansion,
        term_partial,
        _held(partial(lhs, wrt_entry), d, held),
        in_user_order(value(of_ex, by_ex), d.graph.source),
        cases,
    )


def _held(expr: sympy.Expr, d: Derivative, held: tuple[str, ...]) -> sympy.Expr:
    return Held(expr, *(whole(d, n) for n in held)) if held else expr


Factor = tuple[str, Idx, S.LocalDerivative, tuple[sympy.Expr, str]]  # link, its indices, ...


def chain_rule(
    d: Derivative,
    name: str,
    out_idx: Idx,
    factors: list[Factor],
    direct: S.LocalDerivative | None,
    label: str,
) -> S.ChainRule:
    """d name / d wrt through its links: the component chain rule with an explicit sum each."""
    out_e, wrt_e = entry(d, name, out_idx), entry(d, d.wrt, d.index.wrt_idx)
    component, substituted, local, rule = [], [], [], []
    for link, mid, outer, (inner_rhs, inner_label) in factors:
        limits = tuple(
            (k, 1, n) for k, n in zip(mid, d.graph.shape_of(link).free_dims, strict=True)
        )
        mid_e = entry(d, link, mid)
        o, i = outer.lhs, partial(mid_e, wrt_e)  # o is held when there are other links
        component.append(_summed(sympy.Mul(o, i, evaluate=False), limits))
        substituted.append(_summed(sympy.Mul(outer.rhs, inner_rhs, evaluate=False), limits))
        local += [(o, outer.rhs, outer.label), (i, inner_rhs, inner_label)]
        rule.append(_matrix_chain(d, name, link))
    if direct is not None:
        component.append(direct.lhs)
        substituted.append(direct.rhs)
        local.append((direct.lhs, direct.rhs, direct.label))
        rule.append(_held(partial(whole(d, name), whole(d, d.wrt)), d, direct_held(factors)))
    is_output = name == d.output
    result_index = (
        d.index_result
        if is_output
        else _local(d.graph, name, d.wrt, out_idx, d.index.wrt_idx, _spare(d))
    )
    links = [f[0] for f in factors]
    return S.ChainRule(
        _chain_words(d, name, links, direct is not None),
        tuple((whole(d, n), of_op(d.graph.definition(n).op, {})) for n in links),
        partial(whole(d, name), whole(d, d.wrt)),
        _add(rule),
        partial(out_e, wrt_e),
        _add(component),
        _expanded(d, name, out_idx, factors) if direct is None and len(factors) == 1 else (),
        _gaps(d, factors) if direct is None and len(factors) == 1 else (),
        tuple(local),
        _add(substituted),
        in_user_order(result_index, d.graph.source),
        d.result if is_output and d.matrix is not None else None,
        label,
    )


def direct_held(factors: list[Factor]) -> tuple[str, ...]:
    return tuple(f[0] for f in factors)


def _chain_words(d: Derivative, name: str, links: list[str], direct: bool) -> str:
    marked = [f"${n}$" for n in links]
    through = marked[0] if len(marked) == 1 else ", ".join(marked[:-1]) + " and " + marked[-1]
    if len(links) == 1 and not direct:
        return (
            f"${name}$ depends on ${d.wrt}$ only through {through}: apply the chain rule to single "
            f"components and sum over every component of {through}."
        )
    also = f", and on ${d.wrt}$ directly" if direct else ""
    return (
        f"${name}$ depends on ${d.wrt}$ through {through}{also}: the chain rule adds one sum over "
        "the components of each intermediate" + (", and the direct partial." if direct else ".")
    )


def _summed(body: sympy.Expr, limits: tuple[tuple[sympy.Expr, int, sympy.Expr], ...]) -> sympy.Expr:
    return sympy.Sum(body, *limits) if limits else body  # a scalar link: no sum


def _add(parts: list[sympy.Expr]) -> sympy.Expr:
    return parts[0] if len(parts) == 1 else sympy.Add(*parts, evaluate=False)


def _expanded(
    d: Derivative, name: str, out_idx: Idx, factors: list[Factor]
) -> tuple[sympy.Expr, ...]:
    ((link, mid, _, _),) = factors
    if len(mid) != 1:
        return ()
    out_e, wrt_e = entry(d, name, out_idx), entry(d, d.wrt, d.index.wrt_idx)
    values, _ = shown(d.graph.shape_of(link).free_dims[0], None)
    return tuple(
        sympy.Mul(
            partial(out_e, entry(d, link, (v,))),
            partial(entry(d, link, (v,)), wrt_e),
            evaluate=False,
        )
        for v in values
    )


def _gaps(d: Derivative, factors: list[Factor]) -> tuple[int, ...]:
    ((link, mid, _, _),) = factors
    return shown(d.graph.shape_of(link).free_dims[0], None)[1] if len(mid) == 1 else ()


def _matrix_chain(d: Derivative, name: str, link: str) -> sympy.Expr:
    """(dy/dm)(dm/dx) in numerator layout; denominator layout multiplies the other way round."""
    outer = partial(whole(d, name), whole(d, link))
    inner = partial(whole(d, link), whole(d, d.wrt))
    pair = (outer, inner) if d.layout == Layout.NUMERATOR else (inner, outer)
    return sympy.Mul(*pair, evaluate=False)


def elementwise(d: Derivative) -> S.Elementwise | None:
    op = d.graph.definition(d.output).op
    if not isinstance(op, ir.Apply) or len(op.shape.free_dims) != 1:
        return None
    i, j = index_letters(frozenset(d.graph.names))[:2]
    z, h = op.arg, d.output
    u = sympy.Dummy("u")

    prime = sympy.diff(ELEMENTWISE[op.func].sympy_func(u), u)
    lam = sympy.Lambda(u, prime)
    z_whole = whole(d, z.name)
    # Without a matrix form there is no matrix line to show, so show neither side of it.
    in_chain = z.name != d.wrt and d.matrix is not None
    return S.Elementwise(
        "An elementwise function's i-th output depends on the i-th input alone, so its "
        "Jacobian is diagonal.",
        partial(entry(d, h, (i,)), entry(d, z.name, (j,))),
        prime.xreplace({u: entry(d, z.name, (i,))}) * sympy.KroneckerDelta(i, j),
        partial(whole(d, h), z_whole),
        DiagMatrix(_apply(lam, z_whole)),
        partial(whole(d, h), whole(d, d.wrt)) if in_chain else None,
        d.result if in_chain else None,
    )


def _apply(lam: sympy.Lambda, m: sympy.Basic) -> sympy.Basic:
    from derivtex.calculus.mexpr import elementwise as apply

    return apply(lam, m)


def order(d: Derivative) -> list[str]:
    """Every intermediate on the way from the output to wrt, each once, outermost first."""
    seen: list[str] = []
    todo = [d.output]
    while todo:
        name = todo.pop(0)
        for link in frontier(d, name):
            if link != d.wrt and link not in seen:
                seen.append(link)
                todo.append(link)
    return seen


def indices(d: Derivative) -> dict[str, Idx]:
    """General indices for the output, wrt and every intermediate, no letter used twice."""
    pool = iter(letters(d))
    out = {d.output: d.index.out_idx, d.wrt: d.index.wrt_idx}
    for name in order(d):
        out[name] = tuple(next(pool) for _ in d.graph.shape_of(name).free_dims)
    return out


def chain_steps(
    d: Derivative, main: S.ComponentFormula, out: Pos, wrt: Pos
) -> list[S.LocalDerivative | S.ChainRule]:
    """Innermost first: each local derivative derived, then the chain rule that uses it.

    Past MAX_LINKS intermediates (a tanh network deeper than 6) the chain is not written out:
    the page would be all chain rule, and the result above it is verified all the same.
    """
    if not 0 < len(order(d)) <= MAX_LINKS:
        return []
    idx = indices(d)
    examples = {d.output: out, d.wrt: wrt} | {
        n: default_example(d.graph.shape_of(n).free_dims, LINK_EXAMPLE) for n in order(d)
    }
    labels = {"L": iter(range(1, 100)), "C": iter(range(1, 100))}
    steps: list[S.LocalDerivative | S.ChainRule] = []
    done: dict[str, tuple[sympy.Expr, str]] = {}

    def label(kind: str) -> str:
        return f"{kind}{next(labels[kind])}"

    def local(of: str, by: str, held: tuple[str, ...]) -> S.LocalDerivative:
        step = local_derivative(
            d, of, by, (idx[of], idx[by]), (examples[of], examples[by]), label("L"), main, held
        )
        steps.append(step)
        return step

    def visit(name: str) -> tuple[sympy.Expr, str]:
        if name in done:
            return done[name]
        links = [n for n in frontier(d, name) if n != d.wrt]
        if not links:
            step = local(name, d.wrt, ())
            done[name] = (step.rhs, step.label)
            return done[name]
        inner = {link: visit(link) for link in links}
        held = tuple(links)
        factors = [
            (link, idx[link], local(name, link, tuple(h for h in held if h != link)), inner[link])
            for link in links
        ]
        direct = local(name, d.wrt, held) if d.wrt in frontier(d, name) else None
        rule = chain_rule(d, name, idx[name], factors, direct, label("C"))
        steps.append(rule)
        done[name] = (rule.result_index, rule.label)
        return done[name]

    visit(d.output)
    return steps
