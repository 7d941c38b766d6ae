"""How tightly printed forms bind, and the tests on terms that decide signs and brackets."""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing import precedence as _sympy_precedence
from sympy.printing.precedence import precedence_traditional

from derivtex.rendering.names import ACCENT_MACROS

# sympy's table of how tightly its forms bind (higher binds tighter), typed.
PRECEDENCE: Mapping[str, int] = _sympy_precedence.PRECEDENCE

# How tightly each of derivtex's own printed forms binds (sympy's table knows none of them).
PRECEDENCE_OF: dict[str, int] = {
    "Norm": PRECEDENCE["Atom"],
    "SumOf": PRECEDENCE["Func"],
    "Trace": PRECEDENCE["Func"],
    "DiagMatrix": PRECEDENCE["Func"],
    "Identity": PRECEDENCE["Atom"],
    "OneMatrix": PRECEDENCE["Atom"],
    "ZeroMatrix": PRECEDENCE["Atom"],
    "Transpose": PRECEDENCE["Pow"],
    "Inverse": PRECEDENCE["Pow"],
    "Determinant": PRECEDENCE["Func"],
    "LogDet": PRECEDENCE["Func"],
    "InverseEntry": PRECEDENCE["Atom"],
    "KroneckerDelta": PRECEDENCE["Atom"],
}


def precedence_of(expr: sympy.Basic) -> int:
    """The precedence of expr as derivtex prints it (higher binds tighter)."""
    name = type(expr).__name__
    if name in PRECEDENCE_OF:
        return PRECEDENCE_OF[name]
    if name == "Scalar":
        return precedence_of(expr.args[0])
    if isinstance(expr, ElementwiseApplyFunction) and isinstance(expr.function, sympy.Lambda):
        return precedence_of(expr.function.expr)  # 1 - tanh^2(x) binds as a sum
    if isinstance(expr, sympy.MatMul | sympy.Mul) and signed(expr)[0]:
        return PRECEDENCE["Add"]  # - 2 W x binds as a difference
    if isinstance(expr, sympy.MatMul):
        return PRECEDENCE["Mul"]
    return int(precedence_traditional(expr))


def is_reciprocal(expr: sympy.Basic) -> bool:
    """A factor 1 / b of a scalar product (b^{-1}, b^{-1/2}): it prints under a fraction bar."""
    return isinstance(expr, sympy.Pow) and expr.exp.is_Rational and bool(expr.exp < 0)


def is_scalar_of(expr: sympy.Basic) -> bool:
    return type(expr).__name__ == "Scalar"


def signed(term: sympy.Basic) -> tuple[bool, sympy.Basic]:
    """Whether term prints with a leading minus sign, and the term without it."""
    if is_scalar_of(term):
        negative, inner = signed(term.args[0])
        return negative, type(term)(inner) if negative else term
    if isinstance(term, sympy.MatMul):
        head, *tail = term.args
        negative, head = signed(head)
        if not negative:
            return False, term
        rest = tuple(tail) if head == 1 else (head, *tail)
        return True, rest[0] if len(rest) == 1 else sympy.MatMul(*rest)
    scalar = isinstance(term, sympy.Expr) and not isinstance(term, sympy.MatrixExpr)
    if scalar and term.could_extract_minus_sign():
        return True, -term
    return False, term


def bare_tex(tex: str) -> str:
    """tex without one pair of outer parentheses that enclose all of it, if it has them."""
    if not (tex.startswith(r"\left(") and tex.endswith(r"\right)")):
        return tex
    inner, depth = tex[len(r"\left(") : -len(r"\right)")], 0
    for opening, _ in re.findall(r"(\\left[(\[.|{])|(\\right[)\].|}])", inner):
        depth += 1 if opening else -1
        if depth < 0:
            return tex
    return inner if depth == 0 else tex


def group(tex: str) -> str:
    """Brace tex so that scripts can follow it: {a_{b}}_{3}."""
    # TeX unwraps a group holding one accent ({\vec{x}_{b}}_{3} is a double subscript); a leading
    # empty atom keeps the group whole.
    return f"{{{{}}{tex}}}" if tex.startswith(ACCENT_MACROS) else f"{{{tex}}}"


def is_unevaluated(expr: sympy.Add | sympy.Mul) -> bool:
    """Whether a sum or product was built unevaluated (0 + 0 + ... + W x), so its order is meant."""
    return type(expr) in (sympy.Add, sympy.Mul) and type(expr)(*expr.args).args != expr.args


def positive_first(terms: list[sympy.Basic]) -> list[sympy.Basic]:
    """Lead with a term without a minus sign, if there is one: W x - b, not - b + W x."""
    lead = next((n for n, t in enumerate(terms) if not t.could_extract_minus_sign()), 0)
    return [terms[lead], *terms[:lead], *terms[lead + 1 :]]


def ends_open(term: sympy.Basic) -> bool:
    """Whether a term prints as a sum sign whose body runs on to the end of the term."""
    factors = term.args if term.is_Mul else (term,)
    return any(type(factor).__name__ in ("Sum", "SumExcept") for factor in factors)


def is_atomic(expr: sympy.Basic) -> bool:
    return expr.is_Atom or isinstance(expr, sympy.MatrixSymbol | sympy.OneMatrix | sympy.Identity)
