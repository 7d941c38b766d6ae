"""Write one component's sum out term by term and differentiate each term: the method's core.

A sum with one summed index that meets the chosen component is written out in full
(`r_1^2 + ... + r_7^2 + ... + r_N^2`). A sum where several indices meet it (a quadratic form, a
trace) is split instead: the index takes the chosen value or any other
(`sum_{p != 7} sum_{q != 7} ... + sum_{q != 7} x_7 A_{7,q} x_q + ... + x_7 A_{7,7} x_7`).
Either way every term without the component is a constant, and the rest are marked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias, cast

import sympy

from derivtex.derivation.stepmath import SumExcept, shown

# Summed indices (one, or a tuple together) to the values a SumExcept keeps them off.
Excluded: TypeAlias = dict[
    sympy.Basic | tuple[sympy.Basic, ...], sympy.Basic | tuple[sympy.Basic, ...]
]
Limits: TypeAlias = tuple[sympy.Tuple, ...]  # a Sum's (index, lower, upper) limits

MAX_SPLIT = 3  # indices split at once: 2**3 regions at most


@dataclass(frozen=True, slots=True)
class Written:
    """A sum written out: its terms (each with its sign), where the dots go, which hold wrt."""

    terms: tuple[sympy.Expr, ...]
    signs: tuple[int, ...]  # +1 or -1 before each term
    gaps: tuple[int, ...]  # an ellipsis follows the term at each of these positions
    marked: tuple[int, ...]  # positions of the terms that hold the component


def write_out(rhs: sympy.Expr, wrt: sympy.Expr) -> Written | None:
    """The rhs term by term, or None when there is nothing to write out (one plain term)."""
    terms: list[sympy.Expr] = []
    signs: list[int] = []
    gaps: list[int] = []
    for part in _parts(rhs):
        sign, body = (-1, -part) if part.could_extract_minus_sign() else (1, part)
        pieces, piece_gaps = _expand(body, wrt)
        gaps += [len(terms) + g for g in piece_gaps]
        terms += pieces
        signs += [sign] * len(pieces)
    if len(terms) == 1 and not isinstance(rhs, sympy.Sum) and not terms[0].has(wrt):
        return None
    if any(_could_hold(t, wrt) for t in terms):
        return None  # a term hides the component in an inner sum: it cannot be read off
    marked = tuple(n for n, t in enumerate(terms) if t.has(wrt))
    return Written(tuple(terms), tuple(signs), tuple(gaps), marked)


def _could_hold(
    term: sympy.Basic,
    wrt: sympy.Expr,
    excluded: Excluded | None = None,
    bound: frozenset[sympy.Basic] = frozenset(),
) -> bool:
    """Whether an entry of wrt's tensor with a summed index (x_k) may equal wrt inside the term.

    An index a SumExcept keeps off wrt's value (sum over q != 7 of x_q) is safe.
    """
    if not isinstance(wrt, sympy.Indexed):
        return False
    excluded = dict(excluded or {})
    if isinstance(term, SumExcept):
        for indices, values, _ in term.limits:
            excluded[tuple(indices)] = tuple(values)
            bound |= set(indices)
            if len(indices) == 1:
                excluded[indices[0]] = values[0]
    if isinstance(term, sympy.Sum):
        bound |= {lim[0] for lim in term.limits}
    if isinstance(term, sympy.Indexed):
        if excluded.get(tuple(term.indices)) == tuple(wrt.indices):
            return False  # the pair (j,k) kept off (7,8) together
        return (
            term.base == wrt.base
            and term != wrt
            and all(
                a == c or (a in bound and excluded.get(a) != c)
                for a, c in zip(term.indices, wrt.indices, strict=True)
            )
        )
    return any(_could_hold(a, wrt, excluded, frozenset(bound)) for a in term.args)


def _parts(rhs: sympy.Expr) -> tuple[sympy.Expr, ...]:
    if isinstance(rhs, sympy.Add):
        return cast(tuple[sympy.Expr, ...], rhs.args)
    return (rhs,)


def _expand(body: sympy.Expr, wrt: sympy.Expr) -> tuple[list[sympy.Expr], list[int]]:
    total, coeff = _sum_in(body)
    if total is None:
        return [body], []
    if coeff.has(wrt):  # x_3 sum_k A_{3,k} x_k: every term holds x_3, so split, don't list
        total, coeff = sympy.Sum(coeff * total.function, *total.limits), sympy.Integer(1)
    units = _units(total, wrt)
    if not units:
        return [body], []
    if len(units) == 1 and len(units[0]) == 1 and _only_hit_holds(total, units[0], wrt):
        ((k, value),) = units[0]
        return _enumerate(total, k, value, coeff)
    if len(units) > MAX_SPLIT or not _disjoint(units):
        return [body], []
    return [coeff * t for t in _regions(total, units)], []


def _only_hit_holds(total: sympy.Sum, unit: Unit, wrt: sympy.Expr) -> bool:
    """Whether only the term at the unit's value holds wrt (else the dots would hide some)."""
    ((k, value),) = unit
    other = sympy.Dummy("other", integer=True)
    return not total.function.xreplace({k: other}).has(wrt)


def _sum_in(body: sympy.Expr) -> tuple[sympy.Sum | None, sympy.Expr]:
    """The one Sum a term consists of, and the coefficient in front of it (2 sum_j ...)."""
    if isinstance(body, sympy.Sum):
        return body, sympy.Integer(1)
    if isinstance(body, sympy.Mul):
        sums = [a for a in body.args if isinstance(a, sympy.Sum)]
        if len(sums) == 1:
            return sums[0], sympy.Mul(*(a for a in body.args if a is not sums[0]))
    return None, sympy.Integer(1)


Unit = tuple[tuple[sympy.Symbol, sympy.Expr], ...]  # summed indices and the values that hit wrt


def _units(total: sympy.Sum, wrt: sympy.Expr) -> list[Unit]:
    """Each way a summed index can make a factor equal the component (x_p = x_7 when p = 7)."""
    if not isinstance(wrt, sympy.Indexed):
        return []
    summed = {lim[0] for lim in total.limits}
    found: list[Unit] = []
    for e in sorted(total.function.atoms(sympy.Indexed), key=sympy.default_sort_key):
        unit = _unit(e, wrt, summed)
        if unit and unit not in found:
            found.append(unit)
    return found


def _unit(e: sympy.Indexed, wrt: sympy.Indexed, summed: set[sympy.Symbol]) -> Unit | None:
    if e.base != wrt.base:
        return None
    assign: dict[sympy.Symbol, sympy.Expr] = {}
    for a, c in zip(e.indices, wrt.indices, strict=True):
        if a == c:
            continue
        if a not in summed or assign.get(a, c) != c:
            return None
        assign[a] = c
    return tuple(assign.items())  # in the order of the entry's indices


def _disjoint(units: list[Unit]) -> bool:
    seen: set[sympy.Symbol] = set()
    for unit in units:
        keys = {k for k, _ in unit}
        if keys & seen:
            return False
        seen |= keys
    return True


def _limits_without(total: sympy.Sum, drop: Iterable[sympy.Symbol]) -> Limits:
    gone = set(drop)
    return tuple(lim for lim in total.limits if lim[0] not in gone)


def _resum(function: sympy.Expr, limits: Limits) -> sympy.Expr:
    used = tuple(lim for lim in limits if function.has(lim[0]))
    return sympy.Sum(function, *used) if used else function


def _enumerate(
    total: sympy.Sum, k: sympy.Symbol, value: sympy.Expr, coeff: sympy.Expr
) -> tuple[list[sympy.Expr], list[int]]:
    """sum_k f(k) written f(1) + f(2) + ... + f(7) + ... + f(N), inner sums left alone."""
    dim = next(lim[2] for lim in total.limits if lim[0] == k)
    values, gaps = shown(dim, int(value) if value.is_Integer else None)
    rest = _limits_without(total, (k,))
    return [coeff * _resum(total.function.subs(k, v), rest) for v in values], list(gaps)


def _regions(total: sympy.Sum, units: list[Unit]) -> list[sympy.Expr]:
    """The sum split by whether each unit's indices take the component's values: 2^n parts."""
    dims = {lim[0]: lim[2] for lim in total.limits}
    out = []
    for hits in sorted(itertools.product((False, True), repeat=len(units)), key=sum):
        mapping = {k: v for unit, hit in zip(units, hits, strict=True) if hit for k, v in unit}
        excluded = [unit for unit, hit in zip(units, hits, strict=True) if not hit]
        function = total.function.subs(mapping)
        bound = {k for unit in units for k, _ in unit}
        inner = _resum(function, _limits_without(total, bound))
        limits = [
            (tuple(k for k, _ in u), tuple(v for _, v in u), tuple(dims[k] for k, _ in u))
            for u in excluded
        ]
        out.append(SumExcept.make(inner, limits) if limits else inner)
    return out


# -- per-term partials ---------------------------------------------------------------------------
def term_partial(term: sympy.Expr, wrt: sympy.Expr) -> sympy.Expr:
    """d term / d wrt, every other entry held constant."""
    s = sympy.Dummy("s")
    out = sympy.diff(term.xreplace({wrt: s}), s).xreplace({s: wrt})
    return _drop_zero_sums(out)


def _drop_zero_sums(expr: sympy.Expr) -> sympy.Expr:
    return expr.replace(
        lambda e: isinstance(e, sympy.Sum | SumExcept) and e.args[0] == 0,
        lambda e: sympy.Integer(0),
    )


def rule(term: sympy.Expr, wrt: sympy.Expr) -> str:
    """The scalar rule that differentiates one marked term, in words."""
    if isinstance(term, sympy.Sum | SumExcept):
        return rule(term.args[0], wrt)
    if term == wrt:
        return "identity (the term is the variable)"
    factors = [f for f in sympy.Mul.make_args(term) if f.has(wrt)]
    if len(factors) > 1:
        return "product rule"
    (factor,) = factors
    if factor == wrt:
        return "constant-factor rule"
    if isinstance(factor, sympy.Pow):
        return "power rule" if factor.base == wrt else "power rule and chain rule"
    if isinstance(factor, sympy.Function):
        name = _function_name(factor)
        inner = "" if factor.args[0] == wrt else " and chain rule"
        return f"derivative of {name}{inner}"
    if isinstance(factor, sympy.Add):
        return "sum rule"
    return "chain rule"


def _function_name(f: sympy.Function) -> str:
    return type(f).__name__.removesuffix("_")


def partials(written: Written, wrt: sympy.Expr) -> tuple[tuple[sympy.Expr, ...], tuple[str, ...]]:
    """Each term's partial (zero for the unmarked) and the rule for each marked one."""
    values = tuple(
        term_partial(t, wrt) if n in written.marked else sympy.Integer(0)
        for n, t in enumerate(written.terms)
    )
    rules = tuple(dict.fromkeys(rule(written.terms[n], wrt) for n in written.marked))
    return values, rules
