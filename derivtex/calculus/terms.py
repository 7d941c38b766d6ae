"""Sums of products in index form, with the Kronecker-delta contraction that simplifies them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import sympy

Sums = tuple[tuple[sympy.Symbol, sympy.Expr], ...]


@dataclass(frozen=True, slots=True)
class Term:
    """factor summed over each (index, size) in sums, every index running from 1 to its size."""

    factor: sympy.Expr
    sums: Sums = ()

    def as_sympy(self) -> sympy.Expr:
        if not self.sums:
            return self.factor
        return sympy.Sum(self.factor, *((k, 1, dim) for k, dim in self.sums))


Terms = tuple[Term, ...]


def single(expr: sympy.Expr) -> Terms:
    return () if expr == 0 else (Term(expr),)


def add(*parts: Terms) -> Terms:
    return tuple(t for part in parts for t in part)


def scale(terms: Terms, c: sympy.Expr) -> Terms:
    if c == 0:
        return ()
    return tuple(Term(t.factor * c, t.sums) for t in terms)


def mul(a: Terms, b: Terms) -> Terms:
    """The product of two sums, contracted."""
    out = (contract(Term(x.factor * y.factor, x.sums + y.sums)) for x in a for y in b)
    return tuple(t for t in out if t is not None)


def sum_over(terms: Terms, index: sympy.Symbol, dim: sympy.Expr) -> Terms:
    out = (contract(Term(t.factor, t.sums + ((index, dim),))) for t in terms)
    return tuple(t for t in out if t is not None)


def _deltas(expr: sympy.Expr) -> Iterable[sympy.KroneckerDelta]:
    return (f for f in sympy.Mul.make_args(expr) if isinstance(f, sympy.KroneckerDelta))


def contract(term: Term) -> Term | None:
    """Remove every delta that meets a summed index; drop sums their factor no longer uses."""
    factor, sums = term.factor, dict(term.sums)
    changed = True
    while changed and factor != 0:
        changed = False
        for delta in _deltas(factor):
            a, b = delta.args
            if b in sums:
                a, b = b, a
            if a in sums:
                factor = factor.xreplace({a: b})
                del sums[a]
                changed = True
                break
    if factor == 0:
        return None
    free = factor.free_symbols
    for k in [k for k in sums if k not in free]:
        factor = factor * sums.pop(k)
    return Term(factor, tuple(sums.items()))


def substitute(terms: Terms, mapping: Mapping[sympy.Symbol, sympy.Expr]) -> Terms:
    """Put index expressions in place of free indices, then contract again."""
    out = (contract(Term(t.factor.xreplace(dict(mapping)), t.sums)) for t in terms)
    return tuple(t for t in out if t is not None)


def rename_sums(
    terms: Terms,
    names: Iterable[sympy.Symbol] | None = None,
    fresh: Callable[[], sympy.Symbol] | None = None,
) -> Terms:
    """Give every term's summed indices new names: from `names` in order, or from `fresh()`."""
    pool = tuple(names) if names is not None else None
    out = []
    for t in terms:
        new = iter(pool).__next__ if pool is not None else fresh  # each term starts the pool anew
        assert new is not None, "rename_sums needs names or fresh"
        mapping = {k: new() for k, _ in t.sums}
        out.append(Term(t.factor.xreplace(mapping), tuple((mapping[k], d) for k, d in t.sums)))
    return tuple(out)


def combine(terms: Terms) -> Terms:
    """Merge terms that differ only in their numeric coefficient."""
    merged: dict[tuple[sympy.Expr, Sums], sympy.Expr] = {}
    for t in terms:
        coeff, rest = t.factor.as_coeff_Mul()
        key = (rest, t.sums)
        merged[key] = merged.get(key, sympy.Integer(0)) + coeff
    return tuple(Term(c * rest, sums) for (rest, sums), c in merged.items() if c != 0)


def to_sympy(terms: Terms) -> sympy.Expr:
    return sympy.Add(*(t.as_sympy() for t in terms)) if terms else sympy.Integer(0)
