"""Steps for composed functions: the chain rule through named intermediates, elementwise maps."""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import differentiate, index_letters
from derivtex.calculus.mexpr import of_op
from derivtex.derivation import steps as S
from derivtex.derivation.graphs import cut
from derivtex.derivation.stepmath import entry, letters, partial, shown, whole
from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.typecheck import depends_on
from derivtex.options import Layout


def link_of(d: Derivative, name: str) -> str | None:
    """The one user-named intermediate through which `name` depends on wrt, if any."""
    found = _frontier(d, name)
    return next(iter(found)) if len(found) == 1 else None


def _frontier(d: Derivative, name: str) -> set[str]:
    """User-named values that `name` reads on its way to wrt, looking through the tool's own."""

    inputs = dict(d.graph.inputs)
    out: set[str] = set()
    for used in ir.names_used(d.graph.definition(name).op):
        if used in inputs or d.wrt not in depends_on(d.graph, used):
            continue
        out |= _frontier(d, used) if d.graph.definition(used).auto else {used}
    return out


def _local(graph: ir.Graph, of: str, by: str, out_idx: tuple, by_idx: tuple, names) -> sympy.Expr:
    """d of[out_idx] / d by[by_idx], with `by` taken as an input."""
    local = differentiate(
        cut(graph, by, of)
        if by not in dict(graph.inputs)
        else ir.Graph(graph.inputs, graph.definitions, of, graph.source),
        by,
    )
    mapping = dict(zip(local.out_idx + local.wrt_idx, out_idx + by_idx, strict=True))
    terms = T.rename_sums(local.terms, names=names)
    return T.to_sympy(T.substitute(terms, mapping))


def chain_rule(d: Derivative, name: str, link: str, out_idx: tuple, names: tuple) -> S.ChainRule:
    """d name / d wrt through `link`: the component chain rule with its explicit sum."""
    shape = d.graph.shape_of(link)
    mid = names[: len(shape.free_dims)]
    spare = names[len(mid) :]
    out_e, wrt_e = entry(d, name, out_idx), entry(d, d.wrt, d.index.wrt_idx)
    mid_e = entry(d, link, mid)
    summand = sympy.Mul(partial(out_e, mid_e), partial(mid_e, wrt_e), evaluate=False)
    limits = tuple((k, 1, dim) for k, dim in zip(mid, shape.free_dims, strict=True))
    component = sympy.Sum(summand, *limits) if limits else summand  # a scalar link: no sum
    expanded: tuple[sympy.Expr, ...] = ()
    gaps: tuple[int, ...] = ()
    if len(mid) == 1:
        values, gaps = shown(shape.free_dims[0], None)
        expanded = tuple(
            sympy.Mul(
                partial(entry(d, name, out_idx), entry(d, link, (v,))),
                partial(entry(d, link, (v,)), wrt_e),
                evaluate=False,
            )
            for v in values
        )
    local = (
        (partial(out_e, mid_e), _local(d.graph, name, link, out_idx, mid, spare)),
        (partial(mid_e, wrt_e), _local(d.graph, link, d.wrt, mid, d.index.wrt_idx, spare)),
    )
    is_output = name == d.output
    return S.ChainRule(
        f"{name} depends on {d.wrt} only through the intermediate {link}: apply the chain rule "
        f"to single components and sum over every component of {link}.",
        tuple((whole(d, n), of_op(d.graph.definition(n).op, {})) for n in (link,)),
        partial(whole(d, name), whole(d, d.wrt)),
        _matrix_chain(d, name, link),
        partial(out_e, wrt_e),
        component,
        expanded,
        gaps,
        local,
        d.index_result
        if is_output
        else _local(d.graph, name, d.wrt, out_idx, d.index.wrt_idx, spare),
        d.result if is_output and d.matrix is not None else None,
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


def chain_steps(d: Derivative) -> list:
    """One chain-rule step per user-named intermediate, from the output inward."""
    out: list[S.ChainRule] = []
    name, idx, names = d.output, d.index.out_idx, letters(d)
    while (link := link_of(d, name)) is not None and len(out) < 8:
        out.append(chain_rule(d, name, link, idx, names))
        n = len(d.graph.shape_of(link).free_dims)
        name, idx, names = link, names[:n], names[n:]
    return out
