"""Elementwise functions of one argument folded into one function: sigma'/sigma as 1 - sigma."""

from __future__ import annotations

from collections.abc import Callable

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derivtex.calculus.mexpr import LogSumExp, SoftmaxOf
from derivtex.language.functions import sigmoid, sigmoid_prime

D = sympy.Dummy("d")  # every function's variable, so that equal functions compare equal


def one_variable(m: sympy.Basic) -> sympy.Basic | None:
    """f(u) with its variable renamed to the shared one: sigma'(W x) == sigma'(W x)."""
    if not isinstance(m, ElementwiseApplyFunction) or m.function.variables == (D,):
        return None
    return ElementwiseApplyFunction(sympy.Lambda(D, m.function(D)), m.expr)


def as_function(m: sympy.Basic, d: sympy.Dummy) -> tuple[sympy.Basic, sympy.Expr] | None:
    """(u, f(d)) when m is f applied entry by entry to u: f(u), f(u)^{circ p}."""
    if isinstance(m, ElementwiseApplyFunction):
        return m.expr, m.function(d)
    if isinstance(m, sympy.MatMul) and len(m.args) == 2 and m.args[0].is_Number:
        inner = as_function(m.args[1], d)
        return None if inner is None else (inner[0], m.args[0] * inner[1])
    if isinstance(m, sympy.HadamardPower) and isinstance(m.base, ElementwiseApplyFunction):
        return m.base.expr, m.base.function(d) ** m.exp
    return None


def textbook_body(body: sympy.Expr, d: sympy.Dummy) -> sympy.Expr:
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
    d = D
    seen = [as_function(p, d) for p in parts]
    for u in dict.fromkeys(s[0] for s in seen if s is not None):  # in the user's order
        bodies = [s[1] for s in seen if s is not None and s[0] == u]
        if len(bodies) < 2:
            continue
        body = textbook_body(join(*bodies), d)
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
    """exp(x)^{circ 1/2} as exp(x/2), tanh(u)^{circ 2} as tanh^2(u): one function, printed as the
    functions the engine makes print (never tanh^2 beside (tanh u)^{circ 2})."""
    if not isinstance(m, sympy.HadamardPower) or not isinstance(m.base, ElementwiseApplyFunction):
        return None
    d = D
    body = m.base.function(d) ** m.exp
    short = textbook_body(body, d)
    if sympy.count_ops(short) >= sympy.count_ops(body) and not m.exp.is_Integer:
        return None
    return ElementwiseApplyFunction(sympy.Lambda(d, short), m.base.expr)


def softmax(m: sympy.Basic) -> sympy.Basic | None:
    """exp(z - logsumexp(z)), entry by entry, as softmax(z): the gradient of logsumexp."""
    if not isinstance(m, ElementwiseApplyFunction) or not isinstance(m.function.expr, sympy.exp):
        return None
    (var,) = m.function.variables
    shift = sympy.expand(m.function.expr.args[0] - var)
    return SoftmaxOf(m.expr) if shift == -LogSumExp(m.expr) else None
