"""Recursive-descent parser: statements `name = expr` separated by `;` or newlines."""

from __future__ import annotations

import difflib

import sympy

from derivtex.errors import ParseError, UnknownFunctionError
from derivtex.language import nodes as n
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.lexer import Token, tokenize

# name -> number of arguments
FUNCTIONS: dict[str, int] = {
    **dict.fromkeys(ELEMENTWISE, 1),
    "sum": 1,
    "tr": 1,
    "norm": 1,
    "hadamard": 2,
}


class _Parser:
    def __init__(self, source: str, variables: frozenset[str]) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.variables = variables

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
        return ParseError(
            message, source=self.source, column=tok.start, length=len(tok.text), hint=hint
        )

    def expect(self, text: str, hint: str) -> Token:
        if not self.at(text):
            found = self.tok.text or "the end of the text"
            raise self.error(f"expected {text!r} but found {found!r}", hint=hint)
        return self.advance()

    # -- grammar -------------------------------------------------------------------------------
    def program(self) -> n.Program:
        statements = []
        while self.tok.kind != "END":
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
        while self.at("+", "-"):
            op = self.advance()
            node = n.BinOp(op.text, node, self.term(), n.Span(op.start))
        return node

    def term(self) -> n.Node:
        node = self.unary()
        while True:
            if self.at("*", "@", ".*"):
                op = self.advance()
                kind = "hadamard" if op.text == ".*" else "matmul"
                node = n.BinOp(kind, node, self.unary(), n.Span(op.start, len(op.text)))
            elif self.at("/"):
                raise self.error(
                    "division is not supported yet", hint="multiply by a constant, e.g. 0.5 x"
                )
            elif self.starts_atom():
                start = self.tok.start
                node = n.BinOp("matmul", node, self.unary(), n.Span(start))
            else:
                return node

    def starts_atom(self) -> bool:
        return self.tok.kind in ("NAME", "NUMBER") or self.at("(")

    def unary(self) -> n.Node:
        if self.at("-"):
            op = self.advance()
            return n.Neg(self.unary(), n.Span(op.start))
        if self.at("+"):
            self.advance()
            return self.unary()
        return self.power()

    def power(self) -> n.Node:
        node = self.postfix()
        while self.at("^"):
            caret = self.advance()
            if self.tok.kind == "NAME" and self.tok.text == "T":
                self.advance()
                node = n.Transpose(node, n.Span(caret.start, 2))
                continue
            node = n.Power(node, self.exponent(), n.Span(caret.start))
            node = self.postfix_ops(node)
        return node

    def exponent(self) -> sympy.Rational:
        sign = 1
        paren = self.at("(")
        if paren:
            self.advance()
        if self.at("-"):
            self.advance()
            sign = -1
        if self.tok.kind != "NUMBER":
            raise self.error(
                "an exponent must be a number or T",
                hint="write 's^2' for a power, 'A^T' to transpose",
            )
        value = sign * sympy.Rational(self.advance().text)
        if paren:
            self.expect(")", "close the exponent's parenthesis")
        return value

    def postfix(self) -> n.Node:
        return self.postfix_ops(self.atom())

    def postfix_ops(self, node: n.Node) -> n.Node:
        while self.at("'", ".T"):
            tok = self.advance()
            node = n.Transpose(node, n.Span(tok.start, len(tok.text)))
        return node

    def atom(self) -> n.Node:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            return n.Num(sympy.Rational(tok.text), n.Span(tok.start, len(tok.text)))
        if tok.kind == "NAME":
            return self.name_or_call()
        if self.at("("):
            self.advance()
            inner = self.expr()
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
        if is_call and tok.text not in self.variables:
            close = difflib.get_close_matches(tok.text, FUNCTIONS, n=1)
            raise UnknownFunctionError(
                f"unknown function {tok.text!r}",
                source=self.source,
                column=tok.start,
                length=len(tok.text),
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + "known functions: "
                + ", ".join(sorted(FUNCTIONS)),
            )
        return n.Name(tok.text, span)

    def call(self, tok: Token, span: n.Span) -> n.Call:
        self.advance()
        args = [self.expr()]
        while self.at(","):
            self.advance()
            args.append(self.expr())
        self.expect(")", f"close the parenthesis of {tok.text}(...)")
        if len(args) != FUNCTIONS[tok.text]:
            n_args = FUNCTIONS[tok.text]
            raise self.error(
                f"{tok.text}() takes {n_args} argument(s), got {len(args)}",
                tok,
                hint="separate arguments with commas, e.g. hadamard(x, z)"
                if n_args == 2
                else f"give {tok.text}() one argument, e.g. {tok.text}(x)",
            )
        return n.Call(tok.text, tuple(args), span)


def parse(source: str, variables: frozenset[str] | set[str] = frozenset()) -> n.Program:
    """Parse the expression language; `variables` are declared names (so `W (x)` is a product)."""
    return _Parser(source, frozenset(variables)).program()
