"""Textbook forms: small value-keeping rewrites of matrix expressions, applied bottom up."""

from __future__ import annotations

from collections.abc import Callable

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus import mexpr
from derivtex.language.functions import sigmoid, sigmoid_prime

Rule = Callable[[sympy.Basic], sympy.Basic | None]


def simplify(expr: sympy.Basic) -> sympy.Basic:
    """expr in textbook form: every rule applied at every node until none applies."""
    if not isinstance(expr, sympy.Basic) or not expr.args:
        return expr
    args = tuple(simplify(a) for a in expr.args)
    if args != expr.args:
        expr = expr.func(*args)
    for rule in RULES:
        out = rule(expr)
        if out is not None and out != expr:
            return simplify(out)
    return expr


_D = sympy.Dummy("d")  # every function's variable, so that equal functions compare equal


def one_variable(m: sympy.Basic) -> sympy.Basic | None:
    """f(u) with its variable renamed to the shared one: sigma'(W x) == sigma'(W x)."""
    if not isinstance(m, ElementwiseApplyFunction) or m.function.variables == (_D,):
        return None
    return ElementwiseApplyFunction(sympy.Lambda(_D, m.function(_D)), m.expr)


# -- elementwise functions of one argument, folded into one function ----------------------------
def _as_function(m: sympy.Basic, d: sympy.Dummy) -> tuple[sympy.Basic, sympy.Expr] | None:
    """(u, f(d)) when m is f applied entry by entry to u: f(u), f(u)^{circ p}."""
    if isinstance(m, ElementwiseApplyFunction):
        return m.expr, m.function(d)
    if isinstance(m, sympy.MatMul) and len(m.args) == 2 and m.args[0].is_Number:
        inner = _as_function(m.args[1], d)
        return None if inner is None else (inner[0], m.args[0] * inner[1])
    if isinstance(m, sympy.HadamardPower) and isinstance(m.base, ElementwiseApplyFunction):
        return m.base.expr, m.base.function(d) ** m.exp
    return None


def _textbook_body(body: sympy.Expr, d: sympy.Dummy) -> sympy.Expr:
    """The shortest of a few equal forms: sigma'/sigma = 1 - sigma, e^{-x/2} e^x = e^{x/2}."""
    candidates = [body, sympy.trigsimp(body)]
    if body.has(sigmoid_prime):
        logistic = body.subs(sigmoid_prime(d), sigmoid(d) * (1 - sigmoid(d)))
        candidates.append(sympy.factor(sympy.cancel(logistic)))
    if body.has(sympy.exp):
        candidates.append(
            body.replace(
                lambda e: e.is_Pow and isinstance(e.base, sympy.exp),
                lambda e: sympy.exp(e.base.args[0] * e.exp),  # e^{a p} = (e^a)^p for real a
            )
        )
    known = _heads(body) | {sigmoid}
    return min((c for c in candidates if _heads(c) <= known), key=sympy.count_ops)


def _heads(e: sympy.Expr) -> set[type]:
    """The functions e applies: a rewrite may not bring in cosh where the user wrote tanh."""
    return {type(f) for f in e.atoms(sympy.Function)}


def _fold(parts: list[sympy.Basic], join: Callable[..., sympy.Expr]) -> list[sympy.Basic] | None:
    """The parts that apply functions to one argument u, as one function of u, if shorter."""
    d = _D
    seen = [_as_function(p, d) for p in parts]
    for u in dict.fromkeys(s[0] for s in seen if s is not None):  # in the user's order
        bodies = [s[1] for s in seen if s is not None and s[0] == u]
        if len(bodies) < 2:
            continue
        body = _textbook_body(join(*bodies), d)
        if sympy.count_ops(body) >= sum(map(sympy.count_ops, bodies)) + len(bodies) - 1:
            continue
        first = next(i for i, s in enumerate(seen) if s is not None and s[0] == u)
        folded = (
            sympy.ZeroMatrix(*u.shape)
            if body == 0
            else ElementwiseApplyFunction(sympy.Lambda(d, body), u)
        )
        rest = [p for p, s in zip(parts, seen, strict=True) if s is None or s[0] != u]
        return [*rest[:first], folded, *rest[first:]]
    return None


def fold_hadamard(m: sympy.Basic) -> sympy.Basic | None:
    """sigma(z)^{circ -1} ⊙ sigma'(z) as 1 - sigma(z): one function of z."""
    if not isinstance(m, sympy.HadamardProduct):
        return None
    parts = _fold(list(m.args), sympy.Mul)
    if parts is None:
        return None
    return parts[0] if len(parts) == 1 else sympy.HadamardProduct(*parts)


def fold_sum(m: sympy.Basic) -> sympy.Basic | None:
    """cos^2(x) - sin^2(x) as cos(2x), entry by entry."""
    if not isinstance(m, sympy.MatAdd):
        return None
    parts = _fold(list(m.args), sympy.Add)
    if parts is None:
        return None
    parts = [p for p in parts if not isinstance(p, sympy.ZeroMatrix)] or parts[:1]
    return parts[0] if len(parts) == 1 else sympy.MatAdd(*parts)


def elementwise_power(m: sympy.Basic) -> sympy.Basic | None:
    """exp(x)^{circ 1/2} as exp(x/2): a power of a function as one function."""
    if not isinstance(m, sympy.HadamardPower) or not isinstance(m.base, ElementwiseApplyFunction):
        return None
    d = _D
    body = m.base.function(d) ** m.exp
    short = _textbook_body(body, d)
    if sympy.count_ops(short) >= sympy.count_ops(body):
        return None
    return ElementwiseApplyFunction(sympy.Lambda(d, short), m.base.expr)


# -- diagonal and symmetric factors --------------------------------------------------------------
def symmetric_transpose(m: sympy.Basic) -> sympy.Basic | None:
    """(diag(v))^T as diag(v), I^T as I: a transpose of what is symmetric by construction."""
    if isinstance(m, sympy.Transpose) and isinstance(m.arg, DiagMatrix | sympy.Identity):
        return m.arg
    return None


def _t(m: sympy.Basic) -> sympy.Basic:
    return m.arg if isinstance(m, sympy.Transpose) else sympy.Transpose(m)


def _transposes(m: sympy.Basic) -> int:
    return sum(1 for _ in sympy.preorder_traversal(m) if isinstance(_, sympy.Transpose))


def transpose_inside(m: sympy.Basic) -> sympy.Basic | None:
    """(f(u^T))^T as f(u), and (W f(u^T))^T as f(u) W^T: when fewer transposes print."""
    if not isinstance(m, sympy.Transpose):
        return None
    inner = m.arg
    if isinstance(inner, ElementwiseApplyFunction | sympy.HadamardProduct | sympy.MatAdd):
        moved = (
            inner.func(*(_t(a) for a in inner.args))
            if not isinstance(inner, ElementwiseApplyFunction)
            else ElementwiseApplyFunction(inner.function, _t(inner.expr))
        )
    elif isinstance(inner, sympy.MatMul):
        moved = mexpr.matmul(
            *(a if not isinstance(a, sympy.MatrixExpr) else _t(a) for a in reversed(inner.args))
        )
    else:
        return None
    moved = simplify(moved)
    return moved if _transposes(moved) < _transposes(m) else None


def diag_of_zero(m: sympy.Basic) -> sympy.Basic | None:
    """diag(0) as the zero matrix."""
    if isinstance(m, DiagMatrix) and isinstance(m.args[0], sympy.ZeroMatrix):
        n = m.args[0].shape[0]
        return sympy.ZeroMatrix(n, n)
    return None


def diag_product(m: sympy.Basic) -> sympy.Basic | None:
    """diag(a) diag(b) as diag(a ⊙ b)."""
    if not isinstance(m, sympy.MatMul):
        return None
    args = list(m.args)
    for i in range(len(args) - 1):
        a, b = args[i], args[i + 1]
        if isinstance(a, DiagMatrix) and isinstance(b, DiagMatrix):
            both = DiagMatrix(sympy.HadamardProduct(a.args[0], b.args[0]))
            kept = [*args[:i], both, *args[i + 2 :]]
            return kept[0] if len(kept) == 1 else sympy.MatMul(*kept)
    return None


def _diag_term(m: sympy.Basic) -> tuple[sympy.Expr, sympy.MatrixExpr] | None:
    """(c, v) when m is c diag(v)."""
    if isinstance(m, DiagMatrix):
        return sympy.Integer(1), m.args[0]
    if isinstance(m, sympy.MatMul):
        matrices = [a for a in m.args if isinstance(a, sympy.MatrixExpr)]
        if len(matrices) == 1 and isinstance(matrices[0], DiagMatrix):
            coeff = sympy.Mul(*(a for a in m.args if not isinstance(a, sympy.MatrixExpr)))
            return coeff, matrices[0].args[0]
    return None


def diag_sum(m: sympy.Basic) -> sympy.Basic | None:
    """diag(a) - diag(b) as diag(a - b), in the place of the first."""
    if not isinstance(m, sympy.MatAdd):
        return None
    terms = [_diag_term(a) for a in m.args]
    if sum(t is not None for t in terms) < 2:
        return None
    vector = sympy.MatAdd(*(_scaled(c, v) for c, v in filter(None, terms)))
    first = next(i for i, t in enumerate(terms) if t is not None)
    rest = [a for a, t in zip(m.args, terms, strict=True) if t is None]
    parts = [*rest[:first], DiagMatrix(vector), *rest[first:]]
    return parts[0] if len(parts) == 1 else sympy.MatAdd(*parts)


def _scaled(c: sympy.Expr, m: sympy.MatrixExpr) -> sympy.MatrixExpr:
    return m if c == 1 else sympy.MatMul(c, m)


# -- inverses and determinants -------------------------------------------------------------------
def double_inverse(m: sympy.Basic) -> sympy.Basic | None:
    """(X^{-1})^{-1} as X."""
    if isinstance(m, sympy.Inverse) and isinstance(m.arg, sympy.Inverse):
        return m.arg.arg
    return None


def det_of_inverse(m: sympy.Basic) -> sympy.Basic | None:
    """det(X^{-1}) as 1/det(X)."""
    if isinstance(m, sympy.Determinant) and isinstance(m.arg, sympy.Inverse):
        return 1 / sympy.Determinant(m.arg.arg)
    return None


def _undone_by(a: sympy.Basic) -> sympy.Basic | None:
    """The factor that a cancels: X for X^{-1}, X^T for X^{-T}."""
    if isinstance(a, sympy.Inverse):
        return a.arg
    if isinstance(a, sympy.Transpose) and isinstance(a.arg, sympy.Inverse):
        return sympy.Transpose(a.arg.arg)
    return None


def inverse_pairs(m: sympy.Basic) -> sympy.Basic | None:
    """X^{-T} X^T as I, dropped from a product."""
    if not isinstance(m, sympy.MatMul):
        return None
    args = list(m.args)
    for i in range(len(args) - 1):
        a, b = args[i], args[i + 1]
        if _undone_by(a) == b or _undone_by(b) == a:
            kept = args[:i] + args[i + 2 :]
            if not any(isinstance(k, sympy.MatrixExpr) for k in kept):
                kept.append(sympy.Identity(a.shape[0]))
            return kept[0] if len(kept) == 1 else sympy.MatMul(*kept)
    return None


# -- coefficients --------------------------------------------------------------------------------
def common_coefficient(m: sympy.Basic) -> sympy.Basic | None:
    """2 A + 2 A^T as 2 (A + A^T): a number every term of a sum shares."""
    if not isinstance(m, sympy.MatAdd):
        return None
    split = [_numeric_coeff(a) for a in m.args]
    coeffs = {c for c, _ in split}
    if len(coeffs) != 1:
        return None
    (c,) = coeffs
    if c == 1 or c == -1:
        return None
    return sympy.MatMul(c, sympy.MatAdd(*(rest for _, rest in split)))


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


def _numeric_coeff(m: sympy.Basic) -> tuple[sympy.Expr, sympy.Basic]:
    if isinstance(m, sympy.MatMul) and m.args[0].is_Number:
        rest = m.args[1:]
        return m.args[0], rest[0] if len(rest) == 1 else sympy.MatMul(*rest)
    return sympy.Integer(1), m


def flat_product(m: sympy.Basic) -> sympy.Basic | None:
    """A product inside a product spliced in, so no needless parentheses print."""
    if not isinstance(m, sympy.MatMul) or not any(isinstance(a, sympy.MatMul) for a in m.args):
        return None
    return mexpr.matmul(*m.args)


RULES: tuple[Rule, ...] = (
    one_variable,
    flat_product,
    fold_hadamard,
    fold_sum,
    elementwise_power,
    symmetric_transpose,
    transpose_inside,
    diag_of_zero,
    diag_product,
    diag_sum,
    double_inverse,
    det_of_inverse,
    inverse_pairs,
    common_coefficient,
    collect_right,
    collect_left,
)
