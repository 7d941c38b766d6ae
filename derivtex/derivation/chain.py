"""Steps for composed functions: the chain rule through named intermediates, elementwise maps."""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import differentiate, index_letters
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
from derivtex.derivation.stepmath import entry, letters, partial, shown, whole
from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.typecheck import depends_on
from derivtex.options import Layout

LINK_EXAMPLE = (5, 6)  # the worked component of an intermediate (the output's is y_3, wrt's x_7)


def link_of(d: Derivative, name: str) -> str | None:
    """The one intermediate through which `name` depends on wrt, if there is exactly one."""
    found = _frontier(d, name)
    return next(iter(found)) if len(found) == 1 and d.wrt not in found else None


def _frontier(d: Derivative, name: str) -> set[str]:
    """Named values (the user's or the tool's) that `name` reads on its way to wrt.

    A norm the tool named is looked through: the component formula writes it out as its sum.
    """
    out: set[str] = set()
    for used in ir.names_used(d.graph.definition(name).op):
        if used == d.wrt:
            out.add(used)  # read directly
        elif used in dict(d.graph.inputs) or d.wrt not in depends_on(d.graph, used):
            continue
        elif d.graph.definition(used).auto and is_norm(d.graph.definition(used).op):
            out |= _frontier(d, used)
        else:
            out.add(used)
    return out


def _local_terms(graph: ir.Graph, of: str, by: str, out_idx: tuple, by_idx: tuple, names):
    """d of[out_idx] / d by[by_idx] as terms, with `by` taken as an input."""
    local = differentiate(
        cut(graph, by, of)
        if by not in dict(graph.inputs)
        else ir.Graph(graph.inputs, graph.definitions, of, graph.source),
        by,
    )
    mapping = dict(zip(local.out_idx + local.wrt_idx, out_idx + by_idx, strict=True))
    terms = T.rename_sums(local.terms, names=names)
    return T.substitute(terms, mapping)


def _local(graph: ir.Graph, of: str, by: str, out_idx: tuple, by_idx: tuple, names) -> sympy.Expr:
    return T.to_sympy(_local_terms(graph, of, by, out_idx, by_idx, names))


def _spare(d: Derivative, *used: tuple) -> tuple[sympy.Symbol, ...]:
    taken = {s for idx in used for s in idx}
    return tuple(s for s in letters(d) if s not in taken)


def _example_for(d: Derivative, name: str, start: tuple) -> tuple[int, ...]:
    dims = d.graph.shape_of(name).free_dims
    return tuple(min(s, int(n)) if n.is_Integer else s for s, n in zip(start, dims, strict=False))


def local_derivative(
    d: Derivative,
    of: str,
    by: str,
    idx: tuple[tuple, tuple],
    example: tuple[tuple, tuple],
    label: str,
    main: S.ComponentFormula | None,
) -> S.LocalDerivative:
    """d of / d by for one link, derived as the method does: component, term by term, general."""
    (of_idx, by_idx), spare = idx, _spare(d, *idx, d.index.wrt_idx)
    terms = _local_terms(d.graph, of, by, of_idx, by_idx, spare)
    syms = of_idx + by_idx

    def value(o: tuple, w: tuple) -> sympy.Expr:
        return T.to_sympy(T.substitute(terms, dict(zip(syms, o + w, strict=True))))

    dims = (d.graph.shape_of(by).free_dims, d.graph.shape_of(of).free_dims)
    of_ex, by_ex = nonzero_example(value, *example, *dims)
    lhs, wrt_entry = entry(d, of, of_ex), entry(d, by, by_ex)
    rhs = formula(d, of, of_ex, avoid=of_idx + by_idx)
    plain = in_user_order(formula(d, of, of_ex), d.graph.source)
    cited = main is not None and main.lhs == lhs and main.rhs == plain
    rhs = plain if cited else rhs
    rhs = in_user_order(rhs, d.graph.source)
    found = None
    if not hidden(d, rhs, by):
        found = term_by_term(lhs, rhs, wrt_entry, value(of_ex, by_ex), d.graph.source)
    expansion, term_partial = found or (None, None)
    return S.LocalDerivative(
        f"The local derivative of {of} by {by}, by the same steps: one component, its terms, "
        "then every index.",
        label,
        partial(entry(d, of, of_idx), entry(d, by, by_idx)),
        in_user_order(T.to_sympy(terms), d.graph.source),
        lhs,
        rhs,
        cited,
        wrt_entry,
        expansion,
        term_partial,
        partial(lhs, wrt_entry),
        in_user_order(value(of_ex, by_ex), d.graph.source),
    )


def chain_rule(
    d: Derivative,
    name: str,
    link: str,
    idx: tuple[tuple, tuple],
    local: tuple[tuple[sympy.Expr, str], tuple[sympy.Expr, str]],
    label: str,
) -> S.ChainRule:
    """d name / d wrt through `link`: the component chain rule with its explicit sum."""
    out_idx, mid = idx
    shape = d.graph.shape_of(link)
    out_e, wrt_e = entry(d, name, out_idx), entry(d, d.wrt, d.index.wrt_idx)
    mid_e = entry(d, link, mid)
    outer, inner = partial(out_e, mid_e), partial(mid_e, wrt_e)
    limits = tuple((k, 1, dim) for k, dim in zip(mid, shape.free_dims, strict=True))

    def summed(body: sympy.Expr) -> sympy.Expr:
        return sympy.Sum(body, *limits) if limits else body  # a scalar link: no sum

    expanded: tuple[sympy.Expr, ...] = ()
    gaps: tuple[int, ...] = ()
    if len(mid) == 1:
        values, gaps = shown(shape.free_dims[0], None)
        expanded = tuple(
            sympy.Mul(
                partial(out_e, entry(d, link, (v,))),
                partial(entry(d, link, (v,)), wrt_e),
                evaluate=False,
            )
            for v in values
        )
    (outer_rhs, outer_cite), (inner_rhs, inner_cite) = local
    spare = _spare(d, out_idx, mid, d.index.wrt_idx)
    is_output = name == d.output
    result_index = (
        d.index_result
        if is_output
        else _local(d.graph, name, d.wrt, out_idx, d.index.wrt_idx, spare)
    )
    return S.ChainRule(
        f"{name} depends on {d.wrt} only through {link}: apply the chain rule to single "
        f"components and sum over every component of {link}.",
        ((whole(d, link), of_op(d.graph.definition(link).op, {})),),
        partial(whole(d, name), whole(d, d.wrt)),
        _matrix_chain(d, name, link),
        partial(out_e, wrt_e),
        summed(sympy.Mul(outer, inner, evaluate=False)),
        expanded,
        gaps,
        ((outer, outer_rhs, outer_cite), (inner, inner_rhs, inner_cite)),
        summed(sympy.Mul(outer_rhs, inner_rhs, evaluate=False)),
        in_user_order(result_index, d.graph.source),
        d.result if is_output and d.matrix is not None else None,
        label,
    )


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


def links(d: Derivative) -> list[tuple[str, str, tuple, tuple]]:
    """Each (name, link, name's indices, link's indices), from the output inward."""
    out: list[tuple[str, str, tuple, tuple]] = []
    name, idx, names = d.output, d.index.out_idx, letters(d)
    while (link := link_of(d, name)) is not None and link != d.wrt and len(out) < 8:
        n = len(d.graph.shape_of(link).free_dims)
        out.append((name, link, idx, names[:n]))
        name, idx, names = link, names[:n], names[n:]
    return out


def chain_steps(d: Derivative, main: S.ComponentFormula, out: tuple, wrt: tuple) -> list:
    """Innermost first: each local derivative derived, then the chain rule that uses it."""
    found = links(d)
    if not found:
        return []
    examples = {d.output: out} | {
        link: _example_for(d, link, LINK_EXAMPLE) for _, link, _, _ in found
    }
    counter = iter(range(1, 100))
    steps: list = []
    inner_name, inner_idx = found[-1][1], found[-1][3]
    inner = local_derivative(
        d,
        inner_name,
        d.wrt,
        (inner_idx, d.index.wrt_idx),
        (examples[inner_name], wrt),
        f"L{next(counter)}",
        main,
    )
    steps.append(inner)
    cite: tuple[sympy.Expr, str] = (inner.rhs, inner.label)
    for n, (name, link, idx, mid) in enumerate(reversed(found), start=1):
        outer = local_derivative(
            d, name, link, (idx, mid), (examples[name], examples[link]), f"L{next(counter)}", main
        )
        rule = chain_rule(d, name, link, (idx, mid), ((outer.rhs, outer.label), cite), f"C{n}")
        steps += [outer, rule]
        cite = (rule.result_index, rule.label)
    return steps
