"""Prints derivtex's sympy objects in the typography of Learned-Miller's notes."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.printing.latex import LatexPrinter

from derivtex.rendering import precedence as P
from derivtex.rendering.names import (
    FUNCTION_LATEX,
    Notation,
    has_subscript,
    name_latex,
    notation,
    split_name,
)
from derivtex.rendering.precedence import PRECEDENCE

if TYPE_CHECKING:
    from derivtex.calculus.mexpr import (
        ElementwiseDivide,
        InverseEntry,
        LogDet,
        LogSumExp,
        Norm,
        Scalar,
        Slice,
        SoftmaxOf,
        SumOf,
    )

__all__ = ["DerivtexLatexPrinter", "Notation", "name_latex", "notation", "to_latex"]

# A partial of one of these is written d y / d x; of anything else d/dx [ ... ].
_ENTRY_LIKE = (sympy.Indexed, sympy.Symbol, sympy.MatrixSymbol)


@functools.lru_cache(maxsize=4096)
def to_latex(expr: sympy.Basic, notation: Notation) -> str:
    """The LaTeX (math mode, no delimiters) of one of derivtex's sympy objects.

    Cached: a document prints the same entries, sums and names many times over, and sympy
    objects compare structurally (type, arguments in order, assumptions), so equal objects print
    alike.
    """
    return cast(str, DerivtexLatexPrinter(notation).doprint(expr))


class _Verbatim(sympy.Symbol):
    """A stand-in symbol whose name is LaTeX printed as it is (for elementwise function bodies)."""


class DerivtexLatexPrinter(LatexPrinter):
    """sympy's LaTeX printer with the reference's notation for tensors and partials."""

    function_latex: dict[str, str] = FUNCTION_LATEX

    def __init__(self, notation: Notation) -> None:
        super().__init__()
        self._notation = notation
        self._elementwise: str | None = None  # inside an elementwise function of a vector or matrix

    def _print(self, expr: object, **kwargs: object) -> str:
        return cast(str, super()._print(expr, **kwargs))  # sympy's dispatch is untyped

    def parenthesize_super(self, s: str) -> str:
        """Braces, not parentheses, protect a superscript raised to a power: {W^{(1)}}^{2}."""
        return P.group(s) if "^" in s else s

    # Precedence ----------------------------------------------------------------------------------

    def precedence(self, expr: sympy.Basic) -> int:
        """How tightly expr binds as printed: what decides the parentheses around it."""
        return P.precedence_of(expr)

    def parenthesize(
        self, item: sympy.Basic, level: int, is_neg: bool = False, strict: bool = False
    ) -> str:
        tex = self._print(item)
        prec = self.precedence(item)
        if (is_neg and strict) or prec < level or (not strict and prec <= level):
            return rf"\left({P.bare_tex(tex)}\right)"
        return tex

    def _needs_mul_brackets(
        self, expr: sympy.Basic, first: bool = False, last: bool = False
    ) -> bool:
        # A factor that is a product of matrices keeps its parentheses: 2 (a^T x).
        matrix_like = isinstance(expr, sympy.MatrixExpr) or P.is_scalar_of(expr)
        if self.precedence(expr) < PRECEDENCE["Mul"] or (
            matrix_like and self.precedence(expr) <= PRECEDENCE["Mul"]
        ):
            return True
        return bool(super()._needs_mul_brackets(expr, first=first, last=last))

    def _needs_add_brackets(self, expr: sympy.Basic) -> bool:
        return False  # + is associative: a sum inside a sum needs no parentheses

    # Names --------------------------------------------------------------------------------------

    def _kind(self, name: str, default: str) -> str:
        return self._notation.kind(name) or default

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        kind = self._notation.kind(expr.name)
        if kind is None and expr.is_integer:
            split_name(expr.name)  # index and size symbols print as sympy does: k_2 -> k_{2}
            return cast(str, super()._print_Symbol(expr))
        return name_latex(expr.name, kind or "scalar", self._notation.vectors)

    def _print__Verbatim(self, expr: _Verbatim) -> str:
        return cast(str, expr.name)

    def _print_Indexed(self, expr: sympy.Indexed) -> str:
        name = expr.base.label.name
        kind = self._kind(name, "vector" if expr.rank == 1 else "matrix")
        if kind == "vector" and self._notation.vectors == "bold":
            kind = "scalar"  # bold vectors have italic components: x_{7}
        base = name_latex(name, kind, self._notation.vectors)
        if has_subscript(name):
            base = P.group(base)
        return f"{base}_{{{','.join(self._print(i) for i in expr.indices)}}}"

    def _print_MatrixSymbol(self, expr: sympy.MatrixSymbol) -> str:
        rows, cols = expr.shape
        shape_kind = "scalar" if rows == cols == 1 else "vector" if 1 in (rows, cols) else "matrix"
        return name_latex(expr.name, self._kind(expr.name, shape_kind), self._notation.vectors)

    def _helper_print_standard_power(self, expr: sympy.Pow, template: str) -> str:
        if isinstance(expr.base, sympy.Indexed):  # W^{(1)}_{3,7}^{2} would be a double superscript
            return template % (
                self.parenthesize_super(self._print(expr.base)),
                self._print(expr.exp),
            )
        return cast(str, super()._helper_print_standard_power(expr, template))

    # Sums and products ---------------------------------------------------------------------------

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        written = isinstance(expr, sympy.MatAdd) or P.is_unevaluated(expr)
        terms = self._as_ordered_terms(expr, order=order or ("none" if written else None))
        if isinstance(expr, sympy.MatAdd) or not written:  # a written sum keeps its order
            terms = P.positive_first(terms)
        tex = ""
        for position, term in enumerate(terms):
            negative, term = P.signed(term)
            if negative:
                tex += " - " if position else "- "
            elif position:
                tex += " + "
            term_tex = self._print(term)
            # After a minus sign a sum is a group: a - (b + c). A sum sign that is not the last
            # term would swallow the terms after it.
            if (negative and self.precedence(term) <= PRECEDENCE["Add"]) or (
                position < len(terms) - 1 and P.ends_open(term)
            ):
                term_tex = rf"\left({term_tex}\right)"
            elif position and not negative and term_tex.startswith("- "):
                tex, term_tex = tex[: -len(" + ")] + " - ", term_tex[2:]  # a + (-b - c)
            tex += term_tex
        return tex

    def _print_Mul(self, expr: sympy.Mul) -> str:
        if self._elementwise and sum(not a.is_Number for a in expr.args) > 1:
            return self._hadamard_mul(expr)
        if not P.is_unevaluated(expr):
            return cast(str, super()._print_Mul(expr))
        args = [a for a in expr.args if a != 1] or [sympy.Integer(1)]  # a 1 only keeps the order
        sign = "- " if args[0] == -1 and len(args) > 1 else ""
        args = args[1:] if sign else args
        below = [a for a in args if P.is_reciprocal(a)]
        if below and not self._elementwise:  # e^{z_3} / sum_k e^{z_k}, not (1 / sum) e^{z_3}
            above = [a for a in args if not P.is_reciprocal(a)] or [sympy.Integer(1)]
            top = self._print(sympy.Mul(1, *above, evaluate=False))
            bottom = self._print(sympy.Mul(*(1 / a for a in below)))
            return sign + rf"\frac{{{top}}}{{{bottom}}}"
        tex = ""
        for position, arg in enumerate(args):
            arg_tex = self._print(arg)
            if self._needs_mul_brackets(arg, first=position == 0, last=position == len(args) - 1):
                arg_tex = rf"\left({arg_tex}\right)"
            # Two numbers side by side would read as one: 2 \cdot 3.
            joint = r" \cdot " if tex[-1:].isdigit() and arg_tex[:1].isdigit() else " "
            tex += joint + arg_tex if tex else arg_tex
        return sign + tex

    def _hadamard_mul(self, expr: sympy.Mul) -> str:
        """A product of entrywise functions: c f(z), Hadamard product, g(z)."""
        negative, expr = P.signed(expr)
        coeff, factors = expr.as_coeff_mul()
        level = PRECEDENCE["Mul"]
        tex = r" \odot ".join(self.parenthesize(f, level, strict=False) for f in factors)
        lead = "" if coeff == 1 else self._print(coeff) + " "
        return ("- " if negative else "") + lead + tex

    def _print_Pow(self, expr: sympy.Pow) -> str:
        if self._elementwise == "matrix" and isinstance(expr.base, _Verbatim):
            return rf"{self.parenthesize_super(expr.base.name)}^{{\odot {self._print(expr.exp)}}}"
        return str(super()._print_Pow(expr))

    def _print_Sum(self, expr: sympy.Sum) -> str:
        # One sign per index, outermost first, rather than sympy's \substack of limits.
        signs = " ".join(
            rf"\sum_{{{self._print(var)}={self._print(low)}}}^{{{self._print(high)}}}"
            for var, low, high in reversed(expr.limits)
        )
        term = self._print(expr.function)
        if isinstance(expr.function, sympy.Add):
            term = rf"\left({term}\right)"
        return f"{signs} {term}"

    def _print_SumExcept(self, expr: sympy.Basic) -> str:
        # sum_{q != 7} f, and sum_{(j,k) != (7,8)} f for a pair left out together.
        signs = []
        for indices, values, _ in expr.args[1:]:
            left, right = (self._print(indices[0]), self._print(values[0]))
            if len(indices) > 1:
                left = "(" + ",".join(self._print(k) for k in indices) + ")"
                right = "(" + ",".join(self._print(v) for v in values) + ")"
            signs.append(rf"\sum_{{{left} \neq {right}}}")
        term = self._print(expr.args[0])
        if isinstance(expr.args[0], sympy.Add):
            term = rf"\left({term}\right)"
        return " ".join(signs) + " " + term

    def _print_Held(self, expr: sympy.Basic) -> str:
        # A partial with intermediates held fixed: \left. dL/dw \right|_{r}.
        held = ", ".join(self._print(h) for h in expr.args[1:])
        return rf"\left.{self._print(expr.args[0])}\right|_{{{held}}}"

    def _print_Scalar(self, expr: Scalar) -> str:
        # Bare; where it would be misread, its precedence (that of a product) brings parentheses:
        # t^T z + c, sigma(w^T x), but 2 (t^T z), (a^T x) b, (a^T x)^2.
        return str(self._print(expr.matrix))

    def _print_Norm(self, expr: Norm) -> str:
        # The Frobenius norm of a matrix is written with its subscript, as in the Matrix Cookbook.
        frobenius = all(dim != 1 for dim in expr.matrix.shape)
        return r"\left\|" + self._print(expr.matrix) + r"\right\|" + ("_{F}" if frobenius else "")

    def _print_SumOf(self, expr: SumOf) -> str:
        return r"\operatorname{sum}\left(" + self._print(expr.matrix) + r"\right)"

    def _print_LogSumExp(self, expr: LogSumExp) -> str:
        return r"\operatorname{logsumexp}\left(" + self._print(expr.matrix) + r"\right)"

    def _print_SoftmaxOf(self, expr: SoftmaxOf) -> str:
        return r"\operatorname{softmax}\left(" + self._print(expr.arg) + r"\right)"

    def _print_ElementwiseDivide(self, expr: ElementwiseDivide) -> str:
        # The Matrix Cookbook's and matrixcalculus.org's sign for entrywise division.
        level = PRECEDENCE["Pow"]
        return r" \oslash ".join(self.parenthesize(a, level, strict=True) for a in expr.args)

    def _print_DiagonalOf(self, expr: sympy.Basic) -> str:
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_HadamardPower(self, expr: sympy.HadamardPower) -> str:
        # The Matrix Cookbook's x^{\circ 3}: \circ beside \odot for the product would blur.
        base = self._print(expr.base)
        base = self.parenthesize_super(base) if P.is_atomic(expr.base) else rf"\left({base}\right)"
        return rf"{base}^{{\circ {self._print(expr.exp)}}}"

    def _print_absval(self, expr: sympy.Function, exp: str | None = None) -> str:
        tex = rf"\left|{self._print(expr.args[0])}\right|"
        return tex if exp is None else rf"{tex}^{{{exp}}}"

    def _print_Slice(self, expr: Slice) -> str:
        return ":"

    def _print_KroneckerDelta(self, expr: sympy.KroneckerDelta, exp: str | None = None) -> str:
        tex = rf"\delta_{{{','.join(self._print(i) for i in expr.args)}}}"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _print_Function(self, expr: sympy.Function, exp: str | None = None) -> str:
        name = self.function_latex.get(type(expr).__name__)
        if name is None:
            if any(P.is_scalar_of(a) for a in expr.args):  # a function brackets its arguments
                bare = [
                    _Verbatim(self._print(a.matrix)) if P.is_scalar_of(a) else a for a in expr.args
                ]
                return self._print(expr.func(*bare, evaluate=False))
            return cast(str, super()._print_Function(expr, exp))
        args = (a.matrix if P.is_scalar_of(a) else a for a in expr.args)
        tex = rf"{name}\left({', '.join(self._print(a) for a in args)}\right)"
        # \sigma'^{2} would be a double superscript, so a power wraps the whole application.
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    # Partial derivatives -------------------------------------------------------------------------

    def _print_Derivative(self, expr: sympy.Derivative) -> str:
        order = sum(count for _, count in expr.variable_count)
        partial = r"\partial" if order == 1 else rf"\partial^{{{order}}}"
        wrt = " ".join(self._partial_by(var, n) for var, n in reversed(expr.variable_count))
        if isinstance(expr.expr, _ENTRY_LIKE):
            return rf"\frac{{{partial} {self._print(expr.expr)}}}{{{wrt}}}"
        return rf"\frac{{{partial}}}{{{wrt}}}\left[ {self._print(expr.expr)} \right]"

    def _partial_by(self, var: sympy.Basic, count: int) -> str:
        tex = self._print(var)
        if count == 1:
            return rf"\partial {tex}"
        return rf"\partial {self.parenthesize_super(tex)}^{{{count}}}"

    # Whole matrices and vectors ------------------------------------------------------------------

    def _print_MatMul(self, expr: sympy.MatMul) -> str:
        """Juxtaposed factors; sympy's own version canonicalizes the product on every call."""
        negative, expr = P.signed(expr)
        args = list(expr.args) if isinstance(expr, sympy.MatMul) else [expr]
        if args[0] == 1 and len(args) > 1:
            args = args[1:]
        if negative and len(args) == 1:  # - (W x + b), - W
            return "- " + self.parenthesize(args[0], PRECEDENCE["Add"], strict=False)
        return ("- " if negative else "") + " ".join(self._matmul_factor(a) for a in args)

    def _matmul_factor(self, arg: sympy.Basic) -> str:
        # Juxtaposition binds tighter than any other product: (x \odot y) W, (W x) (v^T z).
        # A scalar factor commutes, so only a sum needs parentheses: \frac{2}{N} X, s t W.
        scalar = not isinstance(arg, sympy.MatrixExpr) and not P.is_scalar_of(arg)
        return self.parenthesize(arg, PRECEDENCE["Mul"], strict=scalar)

    def _print_Transpose(self, expr: sympy.Transpose) -> str:
        if isinstance(expr.arg, sympy.Inverse):  # the Matrix Cookbook's X^{-T}
            return self._raised(expr.arg.arg, r"-\top")
        tex = self._print(expr.arg)
        if not isinstance(expr.arg, sympy.MatrixSymbol | sympy.OneMatrix):
            return rf"\left({tex}\right)^{{\top}}"
        return rf"{self.parenthesize_super(tex)}^{{\top}}"

    def _print_Inverse(self, expr: sympy.Inverse) -> str:
        if isinstance(expr.arg, sympy.Transpose) and isinstance(expr.arg.arg, sympy.MatrixSymbol):
            return self._raised(expr.arg.arg, r"-\top")
        return self._raised(expr.arg, "-1")

    def _raised(self, base: sympy.Basic, sup: str) -> str:
        """X^{-1}, X^{-T}; a product or sum in parentheses: (X^T X)^{-1}."""
        tex = self._print(base)
        if isinstance(base, sympy.MatrixSymbol):
            return f"{self.parenthesize_super(tex)}^{{{sup}}}"
        return rf"\left({tex}\right)^{{{sup}}}"

    def _print_Determinant(self, expr: sympy.Determinant) -> str:
        return rf"\det\left({self._print(expr.arg)}\right)"

    def _print_LogDet(self, expr: LogDet) -> str:
        return rf"\log\det\left({self._print(expr.matrix)}\right)"

    def _print_InverseEntry(self, expr: InverseEntry) -> str:
        """(X^{-1})_{i,j}, indices as in W_{3,7}."""
        inverse = self._print(sympy.Inverse(expr.matrix))
        i, j = (self._print(k) for k in expr.args[1:])
        return rf"\left({inverse}\right)_{{{i},{j}}}"

    def _print_HadamardProduct(self, expr: sympy.HadamardProduct) -> str:
        # Every product of lower precedence is grouped, so \odot never meets juxtaposition.
        level = PRECEDENCE["Mul"]
        return r" \odot ".join(self.parenthesize(arg, level, strict=False) for arg in expr.args)

    def _print_Identity(self, expr: sympy.Identity) -> str:
        # Upright bold: never the same as a user's matrix I, which prints italic.
        return r"\mathbf{I}"

    def _print_ZeroMatrix(self, expr: sympy.ZeroMatrix) -> str:
        return "0"

    def _print_OneMatrix(self, expr: sympy.OneMatrix) -> str:
        rows, cols = expr.shape
        ones = r"\vec{1}" if self._notation.vectors == "arrow" else r"\mathbf{1}"
        if rows == cols == 1:
            return "1"
        if cols == 1:
            return ones
        return ones + r"^{\top}" if rows == 1 else r"\mathbf{1}"

    def _print_DiagMatrix(self, expr: DiagMatrix) -> str:
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_Trace(self, expr: sympy.Trace) -> str:
        return rf"\operatorname{{tr}}\left({self._print(expr.arg)}\right)"

    def _print_ElementwiseApplyFunction(self, expr: ElementwiseApplyFunction) -> str:
        function = expr.function
        if not isinstance(function, sympy.Lambda) or len(function.variables) != 1:
            return cast(str, super()._print_ElementwiseApplyFunction(expr))
        (var,), body = function.variables, function.expr
        arg = self._print(expr.expr)
        bare = _Verbatim(arg)
        atomic = P.is_atomic(expr.expr) or self.precedence(expr.expr) > PRECEDENCE["Pow"]
        grouped = bare if atomic else _Verbatim(rf"\left({arg}\right)")
        # A function brackets its argument itself: tanh(W x), but (W x)^2.
        body = body.replace(lambda e: e.is_Function and e.args == (var,), lambda e: e.func(bare))
        # In the body, a product of two functions of the entries is a Hadamard product, and a
        # power of a matrix's entries a Hadamard power: sigma(z) odot (1 - sigma(z)), A^{odot 2}.
        outer, self._elementwise = self._elementwise, "matrix" if 1 not in expr.shape else "vector"
        try:
            return self._print(body.xreplace({var: grouped}))
        finally:
            self._elementwise = outer
