"""Recursive-descent parser: statements `name = expr` separated by `;` or newlines."""

from __future__ import annotations

import sympy

from derivtex.errors import ParseError, TooLargeError, UnknownFunctionError
from derivtex.language import nodes as n
from derivtex.language.calls import AXIS_HINT, FUNCTIONS, PLANNED, closest_function
from derivtex.language.lexer import Token, tokenize
from derivtex.language.limits import LIMITS, Limits


class _Parser:
    def __init__(self, source: str, variables: frozenset[str], limits: Limits = LIMITS) -> None:
        self.source = source
        self.limits = limits
        if len(source) > limits.max_source_length:
            raise TooLargeError(
                f"the text is {len(source)} characters long",
                limit=f"max_source_length={limits.max_source_length}",
                hint="split the expression into smaller statements or derive parts separately",
            )
        self.tokens = tokenize(source)
        self.pos = 0
        self.variables = variables
        self.depth = 0

    # -- limits --------------------------------------------------------------------------------
    def too_large(
        self, message: str, limit: str, hint: str, tok: Token | None = None
    ) -> TooLargeError:
        tok = tok or self.tok
        return TooLargeError(
            message,
            limit=limit,
            hint=hint,
            source=self.source,
            column=tok.start,
            length=len(tok.text),
        )

    def enter(self, tok: Token | None = None, count: int = 1) -> None:
        """One level deeper: a parenthesis, a sign, a transpose, a power or a call."""
        self.depth += count
        if self.depth > self.limits.max_depth:
            raise self.too_large(
                f"the expression nests deeper than {self.limits.max_depth} levels",
                f"max_depth={self.limits.max_depth}",
                "name an inner part with its own statement, e.g. 'm = ...; y = f(m)'",
                tok,
            )

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tok
        self.pos += 1
        return tok

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("OP", "DOTT") and self.tok.text in texts

    def error(self, message: str, tok: Token | None = None, hint: str | None = None) -> ParseError:
        tok = tok or self.tok
        return ParseError.at(tok, self.source, message, hint=hint)

    def expect(self, text: str, hint: str) -> Token:
        if not self.at(text):
            found = self.tok.text or "the end of the text"
            raise self.error(f"expected {text!r} but found {found!r}", hint=hint)
        return self.advance()

    # -- grammar -------------------------------------------------------------------------------
    def program(self) -> n.Program:
        statements: list[n.Statement] = []
        while self.tok.kind != "END":
            if len(statements) >= self.limits.max_statements:
                raise self.too_large(
                    f"the text holds more than {self.limits.max_statements} statements",
                    f"max_statements={self.limits.max_statements}",
                    "derive a smaller program",
                )
            if self.tok.kind == "NEWLINE":
                self.advance()
                continue
            statements.append(self.statement())
            if self.tok.kind not in ("NEWLINE", "END"):
                raise self.error(
                    f"unexpected {self.tok.text!r} after the end of a statement",
                    hint="separate statements with ';' or a new line; write products as 'W x'",
                )
        if not statements:
            raise self.error("the text holds no statement", hint="write e.g. 'y = W x'")
        return n.Program(tuple(statements), self.source)

    def statement(self) -> n.Statement:
        tok = self.tok
        if tok.kind != "NAME" or self.tokens[self.pos + 1].text != "=":
            raise self.error(
                "a statement must start with 'name ='",
                hint="write e.g. 'y = W x' or 'm = W x; y = V m'",
            )
        self.pos += 2
        return n.Statement(tok.text, self.expr(), n.Span(tok.start, len(tok.text)))

    def expr(self) -> n.Node:
        node = self.term()
        terms = 1
        while self.at("+", "-"):
            op = self.advance()
            terms += 1
            if terms > self.limits.max_terms:
                raise self.too_large(
                    f"a sum has more than {self.limits.max_terms} terms",
                    f"max_terms={self.limits.max_terms}",
                    "split the sum into partial sums, each its own statement",
                    op,
                )
            node = n.BinOp(op.text, node, self.term(), n.Span(op.start))
        return node

    def term(self) -> n.Node:
        node = self.unary()
        factors = 1
        while True:
            if self.at(*_PRODUCT_OPS) or self.starts_atom():
                factors += 1
                if factors > self.limits.max_factors:
                    raise self.too_large(
                        f"a product has more than {self.limits.max_factors} factors",
                        f"max_factors={self.limits.max_factors}",
                        "name partial products, e.g. 'P = A1 A2 A3; y = P A4 x'",
                    )
            if self.at("*", "@", ".*", "/", "./"):
                op = self.advance()
                kind = _PRODUCT_OPS[op.text]
                node = n.BinOp(kind, node, self.unary(), n.Span(op.start, len(op.text)))
            elif self.starts_atom():
                start = self.tok.start
                node = n.BinOp("matmul", node, self.unary(), n.Span(start))
            else:
                return node

    def starts_atom(self) -> bool:
        return self.tok.kind in ("NAME", "NUMBER") or self.at("(")

    def unary(self) -> n.Node:
        if self.at("-", "+"):
            op = self.advance()
            self.enter(op)
            try:
                inner = self.unary()
            finally:
                self.depth -= 1
            return n.Neg(inner, n.Span(op.start)) if op.text == "-" else inner
        return self.power()

    def power(self) -> n.Node:
        base = self.depth
        try:
            return self._power()
        finally:
            self.depth = base

    def _power(self) -> n.Node:
        node = self.postfix()
        while self.at("^", ".^"):
            caret = self.advance()
            self.enter(caret)
            dotted = caret.text == ".^"
            if self.tok.kind == "NAME" and self.tok.text == "T" and not dotted:
                self.advance()
                node = n.Transpose(node, n.Span(caret.start, 2))
                continue
            exponent = self.exponent(dotted)
            last = self.tokens[self.pos - 1]  # the span runs from the caret to the exponent's end
            span = n.Span(caret.start, last.start + len(last.text) - caret.start)
            node = n.Power(node, exponent, span, dotted)
            node = self.postfix_ops(node)
        return node

    def exponent(self, dotted: bool = False) -> sympy.Rational:
        sign = 1
        paren = self.at("(")
        if paren:
            self.advance()
        if self.at("-"):
            self.advance()
            sign = -1
        if self.tok.kind != "NUMBER" and dotted:
            raise self.error(
                "an elementwise power .^ needs a numeric exponent",
                hint="write e.g. x.^2 or x.^(-1); for x.^y write exp(y .* log(x))",
            )
        if self.tok.kind != "NUMBER":
            raise self.error(
                "an exponent must be a number or T",
                hint="write 's^2' for a power, 'A^T' to transpose, 'x.^2' for entries",
            )
        value = sign * self.number(self.advance())
        if paren:
            self.expect(")", "close the exponent's parenthesis")
        return value

    def postfix(self) -> n.Node:
        base = self.depth
        try:
            return self.postfix_ops(self.atom())
        finally:
            self.depth = base

    def postfix_ops(self, node: n.Node) -> n.Node:
        while self.at("'", ".T"):
            tok = self.advance()
            self.enter(tok)
            node = n.Transpose(node, n.Span(tok.start, len(tok.text)))
        return node

    def atom(self) -> n.Node:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            return n.Num(self.number(tok), n.Span(tok.start, len(tok.text)))
        if tok.kind == "NAME":
            return self.name_or_call()
        if self.at("("):
            self.enter(self.advance())
            try:
                inner = self.expr()
            finally:
                self.depth -= 1
            self.expect(")", "every '(' needs a matching ')'")
            return inner
        found = tok.text or "the end of the text"
        raise self.error(
            f"expected a name, a number or '(' but found {found!r}",
            hint="an operator needs an operand on each side",
        )

    def name_or_call(self) -> n.Node:
        tok = self.advance()
        span = n.Span(tok.start, len(tok.text))
        is_call = self.at("(") and not self.tok.space_before
        if tok.text in FUNCTIONS and tok.text not in self.variables:
            if not self.at("("):
                raise self.error(
                    f"{tok.text}() needs its argument in parentheses",
                    tok,
                    hint=f"write {tok.text}(...), e.g. {tok.text}(x)",
                )
            return self.call(tok, span)
        if is_call and tok.text in PLANNED and tok.text not in self.variables:
            raise UnknownFunctionError.at(
                tok,
                self.source,
                f"{tok.text}() is not supported yet (planned)",
                hint=PLANNED[tok.text],
            )
        if is_call and tok.text not in self.variables:
            close = closest_function(tok.text)
            raise UnknownFunctionError.at(
                tok,
                self.source,
                f"unknown function {tok.text!r}",
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + "known functions: "
                + ", ".join(sorted(FUNCTIONS)),
            )
        return n.Name(tok.text, span)

    def number(self, tok: Token) -> sympy.Rational:
        """A number literal within the digit and exponent limits."""
        mantissa, _, exp = tok.text.lower().partition("e")
        digits = len(mantissa.replace(".", "").lstrip("0"))
        if digits > self.limits.max_integer_digits:
            raise self.too_large(
                f"the number has {digits} digits",
                f"max_integer_digits={self.limits.max_integer_digits}",
                "write a shorter number, or scale the expression by a named scalar",
                tok,
            )
        if exp and abs(int(exp)) > self.limits.max_exponent:
            raise self.too_large(
                f"the number's exponent {exp} is too large",
                f"max_exponent={self.limits.max_exponent}",
                f"use an exponent between -{self.limits.max_exponent} and "
                f"{self.limits.max_exponent}, or a named scalar",
                tok,
            )
        return sympy.Rational(tok.text)

    def call(self, tok: Token, span: n.Span) -> n.Call:
        self.enter(self.advance())
        try:
            args = [self.expr()]
            while self.at(","):
                self.advance()
                args.append(self.expr())
        finally:
            self.depth -= 1
        self.expect(")", f"close the parenthesis of {tok.text}(...)")
        if len(args) != FUNCTIONS[tok.text]:
            n_args = FUNCTIONS[tok.text]
            raise self.error(
                f"{tok.text}() takes {n_args} argument(s), got {len(args)}",
                tok,
                hint="separate arguments with commas, e.g. hadamard(x, z)"
                if n_args == 2
                else AXIS_HINT.get(tok.text, f"give {tok.text}() one argument, e.g. {tok.text}(x)"),
            )
        return n.Call(tok.text, tuple(args), span)


_PRODUCT_OPS = {"*": "matmul", "@": "matmul", ".*": "hadamard", "/": "/", "./": "./"}


def parse(
    source: str, variables: frozenset[str] | set[str] = frozenset(), limits: Limits = LIMITS
) -> n.Program:
    """Parse the expression language; `variables` are declared names (so `W (x)` is a product)."""
    if not isinstance(source, str):
        raise ParseError("the expression must be text", hint="pass e.g. 'y = W x'")
    program = _Parser(source, frozenset(variables), limits).program()
    deepest = max(_tree_depth(st.expr) for st in program.statements)
    if deepest > limits.max_tree_depth:
        raise TooLargeError(
            f"the expression is {deepest} operations deep",
            limit=f"max_tree_depth={limits.max_tree_depth}",
            hint="name inner sums and products with their own statements, e.g. 'm = ...; y = m'",
        )
    names = {t.text for t in tokenize(source) if t.kind == "NAME"}
    if len(names) > limits.max_names:
        raise TooLargeError(
            f"the text uses {len(names)} distinct names",
            limit=f"max_names={limits.max_names}",
            hint="derive a smaller program",
        )
    return program


def _tree_depth(node: n.Node) -> int:
    """The number of operations on the longest path from the root (without recursion)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        match node:
            case n.Neg(arg=a) | n.Transpose(arg=a) | n.Power(base=a):
                stack.append((a, depth + 1))
            case n.BinOp(left=a, right=b):
                stack += [(a, depth + 1), (b, depth + 1)]
            case n.Call(args=args):
                stack += [(a, depth + 1) for a in args]
    return deepest
