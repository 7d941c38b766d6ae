"""Sums in textbook form: like terms, shared factors and shared numbers collected."""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derivtex.calculus import mexpr
from derivtex.calculus.elementwise import D, as_function, textbook_body


def common_coefficient(m: sympy.Basic) -> sympy.Basic | None:
    """2 A + 2 A^T as 2 (A + A^T): a number every term of a sum shares."""
    if not isinstance(m, sympy.MatAdd):
        return None
    split = [numeric_coeff(a) for a in m.args]
    coeffs = {c for c, _ in split}
    if len(coeffs) != 1:
        return None
    (c,) = coeffs
    if c == 1 or c == -1:
        return None
    return sympy.MatMul(c, sympy.MatAdd(*(rest for _, rest in split)))


def common_scalar(m: sympy.Basic) -> sympy.Basic | None:
    """(1/n) I - (1/n) y y^T as (1/n) (I - y y^T): a scalar other than a number that every
    term of a sum carries, to the same sign of power, taken out once at its lowest power."""
    if not isinstance(m, sympy.MatAdd):
        return None
    split = [_factors(a) for a in m.args]
    powers = [c.as_powers_dict() for c, _ in split]
    common = sympy.Integer(1)
    for base, exp in powers[0].items():
        if base.is_Number or not exp.is_Integer:
            continue
        exps = [sympy.sympify(p.get(base, 0)) for p in powers]
        if all(e.is_Integer and e * exp > 0 for e in exps):
            common *= base ** (min(exps, key=abs))
    if common == 1:
        return None
    terms = [mexpr.times(sympy.expand_power_base(c / common), mexpr.matmul(*f)) for c, f in split]
    return sympy.MatMul(common, sympy.MatAdd(*terms))


def _factors(m: sympy.Basic) -> tuple[sympy.Expr, list[sympy.Basic]]:
    """A term as its scalar coefficient and its matrix factors, in order."""
    if not isinstance(m, sympy.MatMul):
        return sympy.Integer(1), [m]
    coeff = sympy.Mul(*(a for a in m.args if not isinstance(a, sympy.MatrixExpr)))
    return coeff, [a for a in m.args if isinstance(a, sympy.MatrixExpr)]


def _collect(m: sympy.Basic, side: int) -> sympy.Basic | None:
    """Terms of a sum that share their last (side -1) or first (side 0) factor, joined."""
    if not isinstance(m, sympy.MatAdd):
        return None
    split = [_factors(a) for a in m.args]
    ends = [f[side] if len(f) > 1 else None for _, f in split]
    for end in ends:
        members = [i for i, e in enumerate(ends) if e is not None and e == end]
        if len(members) < 2:
            continue
        rest = [
            mexpr.times(c, _product(f[:-1] if side == -1 else f[1:]))
            for c, f in (split[i] for i in members)
        ]
        total = sympy.MatAdd(*rest)
        joined = mexpr.matmul(total, end) if side == -1 else mexpr.matmul(end, total)
        kept = [a for i, a in enumerate(m.args) if i not in members]
        parts = [*kept[: members[0]], joined, *kept[members[0] :]]
        return parts[0] if len(parts) == 1 else sympy.MatAdd(*parts)
    return None


def _product(factors: list[sympy.Basic]) -> sympy.Basic:
    return factors[0] if len(factors) == 1 else sympy.MatMul(*factors)


def collect_right(m: sympy.Basic) -> sympy.Basic | None:
    """A x + A^T x as (A + A^T) x."""
    return _collect(m, -1)


def collect_left(m: sympy.Basic) -> sympy.Basic | None:
    """diag(g) A + diag(g) A^T as diag(g) (A + A^T)."""
    return _collect(m, 0)


def numeric_coeff(m: sympy.Basic) -> tuple[sympy.Expr, sympy.Basic]:
    if isinstance(m, sympy.MatMul) and m.args[0].is_Number:
        rest = m.args[1:]
        return m.args[0], rest[0] if len(rest) == 1 else sympy.MatMul(*rest)
    return sympy.Integer(1), m


def flat_product(m: sympy.Basic) -> sympy.Basic | None:
    """A product inside a product spliced in, so no needless parentheses print; its numbers as
    one leading number (-2 (2 A) as -4 A, never "-2 2 A")."""
    if not isinstance(m, sympy.MatMul):
        return None
    numbers = [a for a in m.args if a.is_Number]
    if any(isinstance(a, sympy.MatMul) for a in m.args):
        return mexpr.matmul(*m.args)
    if len(numbers) < 2 and (not numbers or m.args[0] is numbers[0]):
        return None
    rest, c = [a for a in m.args if not a.is_Number], sympy.Mul(*numbers)
    if c == 0:
        return sympy.ZeroMatrix(*m.shape)
    if c == 1:
        return rest[0] if len(rest) == 1 else sympy.MatMul(*rest)
    return sympy.MatMul(c, *rest)


# -- like terms ----------------------------------------------------------------------------------
def _hadamard_key(m: sympy.Basic) -> sympy.Basic:
    """m with the factors of each Hadamard product in one order: a ⊙ b and b ⊙ a are alike."""
    if isinstance(m, sympy.HadamardProduct):
        return sympy.HadamardProduct(*sorted(m.args, key=sympy.default_sort_key))
    return m


def _terms(m: sympy.Basic, c: sympy.Expr = sympy.S.One) -> list[tuple[sympy.Expr, sympy.Basic]]:
    """The terms of a sum as (number, rest), nested sums spliced in, 2 (a + b) as 2 a + 2 b."""
    if isinstance(m, sympy.MatAdd):
        return [t for a in m.args for t in _terms(a, c)]
    k, rest = numeric_coeff(m)
    if k != 1 and isinstance(rest, sympy.MatAdd):
        return _terms(rest, c * k)
    return [(c * k, rest)]


def like_terms(m: sympy.Basic) -> sympy.Basic | None:
    """x - a + x - b as 2 x - a - b, cos ⊙ sin + sin ⊙ cos as 2 cos ⊙ sin: in first-seen order."""
    if not isinstance(m, sympy.MatAdd):
        return None
    terms = _terms(m)
    total: dict[sympy.Basic, sympy.Expr] = {}
    first: dict[sympy.Basic, sympy.Basic] = {}
    for c, rest in terms:
        key = _hadamard_key(rest)
        total[key] = total.get(key, sympy.Integer(0)) + c
        first.setdefault(key, rest)
    if len(total) == len(terms):
        return None
    parts = [mexpr.times(c, first[key]) for key, c in total.items() if c != 0]
    if not parts:
        return sympy.ZeroMatrix(*m.shape)
    return parts[0] if len(parts) == 1 else sympy.MatAdd(*parts)


def _without(m: sympy.Basic, g: sympy.Basic) -> tuple[sympy.Expr, list[sympy.Basic]] | None:
    """(number, the other Hadamard factors) when the term m has the factor g."""
    c, rest = numeric_coeff(m)
    factors = list(rest.args) if isinstance(rest, sympy.HadamardProduct) else [rest]
    if g not in factors:
        return None
    factors.remove(g)
    return c, factors


def hadamard_collect(m: sympy.Basic) -> sympy.Basic | None:
    """s'(u) - t^2(v) ⊙ s'(u) as (1 - t^2(v)) ⊙ s'(u): terms sharing a Hadamard factor joined,
    when what is left of each is a function of one v (or nothing: the ones vector, 1)."""
    if not isinstance(m, sympy.MatAdd):
        return None
    candidates = [
        f
        for a in m.args
        for f in (
            numeric_coeff(a)[1].args
            if isinstance(numeric_coeff(a)[1], sympy.HadamardProduct)
            else ()
        )
    ]
    d = D
    for g in dict.fromkeys(candidates):
        members = [(i, w) for i, a in enumerate(m.args) if (w := _without(a, g)) is not None]
        if len(members) < 2:
            continue
        bodies, args = [], set()
        for _, (c, left) in members:
            if not left:
                bodies.append(c)
            elif len(left) == 1 and (f := as_function(left[0], d)) is not None:
                args.add(f[0])
                bodies.append(c * f[1])
            else:
                break
        else:
            if len(args) != 1:
                continue
            body = textbook_body(sympy.Add(*bodies), d)
            joined = sympy.HadamardProduct(
                ElementwiseApplyFunction(sympy.Lambda(d, body), args.pop()), g
            )
            taken = {i for i, _ in members}
            kept = [a for i, a in enumerate(m.args) if i not in taken]
            at = members[0][0]
            parts = [*kept[:at], joined, *kept[at:]]
            return parts[0] if len(parts) == 1 else sympy.MatAdd(*parts)
    return None
