"""An independent reader of the printer's LaTeX: parses it as a reader would and evaluates it.

It knows nothing of sympy or derivtex. Its grammar is strict where a human reader would have to
guess: a product mixes juxtaposition with neither \\odot nor \\oslash (so `A x \\odot y` is
refused as ambiguous), a minus sign binds like a term, a function applies to the group after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

Value = float | np.ndarray

_TOKEN = re.compile(
    r"\s*(?:(\\left\\\||\\right\\\||\\left[(\[.]|\\right[)\].]|\\[A-Za-z]+|\\[|,;!]|"
    r"[0-9]+(?:\.[0-9]+)?|[A-Za-z]|[{}^_()+\-'=,:|\[\]]))"
)


class Ambiguous(ValueError):
    """LaTeX that a reader could take two ways, or that this reader cannot read."""


def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    r"\tanh": np.tanh,
    r"\sin": np.sin,
    r"\cos": np.cos,
    r"\log": np.log,
    r"\exp": np.exp,
    r"\sigma": _sigmoid,
    r"\sigma'": lambda u: _sigmoid(u) * (1 - _sigmoid(u)),
    "relu": lambda u: np.maximum(u, 0.0),
    "relu'": lambda u: (u > 0).astype(float),
    "softplus": lambda u: np.log1p(np.exp(u)),
}


@dataclass(frozen=True)
class _Lazy:
    """The identity or a vector of ones: its size comes from what it meets."""

    kind: str  # "I", "1" (a column) or "1T" (a row)

    def sized(self, other: np.ndarray, side: str) -> np.ndarray:
        rows, cols = other.shape
        if self.kind == "I":
            return np.eye(rows if side == "left" else cols)
        if side == "add":
            return np.ones(other.shape)
        if self.kind == "1T":
            return np.ones((1, rows)) if side == "left" else np.ones((1, 1))
        return np.ones((cols, 1)) if side == "right" else np.ones((1, 1))


def read(tex: str, env: Mapping[str, Value]) -> Value:
    """The value of tex, with env mapping each printed name (`W`, `\\vec{x}`) to its value."""
    tokens = [t for t in _TOKEN.findall(tex)]
    if "".join(tokens) != re.sub(r"\s+", "", tex):
        raise Ambiguous(f"cannot tokenize {tex!r}")
    reader = _Reader(tokens, env)
    value = _resolve(reader.expr())
    if reader.pos != len(tokens):
        raise Ambiguous(f"trailing {''.join(tokens[reader.pos :])!r} in {tex!r}")
    return value


class _Reader:
    def __init__(self, tokens: list[str], env: Mapping[str, Value]) -> None:
        self.tokens, self.env, self.pos = tokens, env, 0

    def peek(self, ahead: int = 0) -> str | None:
        at = self.pos + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Ambiguous(f"expected {expected!r}, found {token!r} at token {self.pos}")
        self.pos += 1
        return token

    # expr := ['-'] term (('+' | '-') term)*
    def expr(self) -> Value:
        sign = -1.0 if self.peek() == "-" and self.take() else 1.0
        value = _scale(sign, self.term())
        while self.peek() in ("+", "-"):
            sign = 1.0 if self.take() == "+" else -1.0
            value = _add(value, _scale(sign, self.term()))
        return value

    # term := factor (op factor)*, one kind of op per term
    def term(self) -> Value:
        value, kind = self.factor(), None
        while True:
            token = self.peek()
            if token in (r"\odot", r"\oslash"):
                op = self.take()
            elif token == r"\cdot":
                op = self.take() and "juxtapose"
            elif _starts_factor(token):
                op = "juxtapose"
            else:
                return value
            this = "juxtapose" if op == "juxtapose" else "hadamard"
            if kind is not None and kind != this:
                raise Ambiguous(f"juxtaposition and {op} in one product at token {self.pos}")
            kind, right = this, self.factor()
            if op == r"\odot":
                value = _resolve(value) * _resolve(right)
            elif op == r"\oslash":
                value = _resolve(value) / _resolve(right)
            else:
                value = _product(value, right)

    # factor := primary ('^' group)*
    def factor(self) -> Value:
        value = self.primary()
        while self.peek() == "^":
            self.take()
            if self.peek(1) == r"\top":
                self.take("{"), self.take(r"\top"), self.take("}")
                value = _transpose(value)
            elif self.peek(1) in (r"\odot", r"\circ"):  # a Hadamard power
                self.take("{"), self.take()
                value = np.power(_resolve(value), self.expr())
                self.take("}")
            else:
                value = _resolve(value)
                if np.ndim(value) == 2 and 1 not in np.shape(value):
                    raise Ambiguous("a power of a matrix: a matrix power or of its entries?")
                value = np.power(value, self.group())
        return value

    def group(self) -> Value:
        if self.peek() != "{":
            return self.primary()
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def primary(self) -> Value:
        token = self.take()
        if re.fullmatch(r"[0-9.]+", token):
            return float(token)
        if token == r"\left(":
            value = self.expr()
            self.take(r"\right)")
            return value
        if token == r"\left\|":
            value = _resolve(self.expr())
            self.take(r"\right\|")
            norm = float(np.sqrt(np.sum(np.square(value))))
            if self.peek() == "_":  # \|X\|_F: only of a matrix
                self.take("_"), self.take("{"), self.take("F"), self.take("}")
                if 1 in np.shape(value):
                    raise Ambiguous("\\|v\\|_F of a vector")
            elif np.ndim(value) == 2 and 1 not in np.shape(value):
                raise Ambiguous("a matrix norm without its subscript F")
            return norm
        if token == "{":
            value = self.expr()
            self.take("}")
            return value
        if token == r"\frac":
            top, bottom = self.group(), self.group()
            return _resolve(top) / _resolve(bottom)
        if token == r"\sqrt":
            return np.sqrt(_resolve(self.group()))
        if token == r"\operatorname":
            return self.operator(self.word())
        if token in FUNCTIONS or token + "'" in FUNCTIONS:
            return self.function(token)
        if token == "e" and self.peek() == "^":
            self.take("^")
            return np.exp(_resolve(self.group()))
        if token in (r"\mathbf", r"\vec"):
            name = self.word()
            if name == "I" and token == r"\mathbf":
                return self.env.get(r"\mathbf{I}", _Lazy("I"))
            if name == "1":
                return self.ones()
            return self.name(f"{token}{{{name}}}")
        if re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+", token):
            return self.name(token)
        raise Ambiguous(f"unexpected {token!r} at token {self.pos - 1}")

    def word(self) -> str:
        self.take("{")
        word = ""
        while self.peek() != "}":
            word += self.take()
        self.take("}")
        return word

    def ones(self) -> _Lazy:
        if self.peek() == "^" and self.peek(2) == r"\top":
            self.take("^"), self.take("{"), self.take(r"\top"), self.take("}")
            return _Lazy("1T")
        return _Lazy("1")

    def name(self, base: str) -> Value:
        if self.peek() == "^" and self.peek(1) == "{" and self.peek(2) == "(":
            start = self.pos
            self.pos += 3
            while self.peek() != ")":
                self.take()
            self.take(")"), self.take("}")
            base += "".join(self.tokens[start : self.pos])
        if base not in self.env:
            raise Ambiguous(f"unknown name {base!r}")
        return self.env[base]

    def operator(self, word: str) -> Value:
        prime = self.peek() == "'" and self.take() == "'"
        if word in ("relu", "softplus"):
            return self.function(word + ("'" if prime else ""), primed=True)
        argument = _resolve(self.argument())
        if word == "diag":
            return np.diagflat(argument) if not isinstance(argument, _Lazy) else _Lazy("I")
        if word == "tr":
            return float(np.trace(argument))
        if word == "sum":
            return float(np.sum(argument))
        raise Ambiguous(f"unknown operator {word!r}")

    def function(self, token: str, primed: bool = False) -> Value:
        if not primed and self.peek() == "'":
            token += self.take()
        power = None
        if self.peek() == "^":
            self.take()
            power = self.group()
        argument = _resolve(self.argument())
        value = FUNCTIONS[token](np.asarray(argument, dtype=float))
        return value if power is None else np.power(value, power)

    def argument(self) -> Value:
        """A function's argument: a parenthesized group, or a braced one holding it."""
        if self.peek() == "{":
            self.take("{")
            value = self.argument()
            self.take("}")
            return value
        if self.peek() != r"\left(":
            raise Ambiguous(f"a function without parentheses at token {self.pos}")
        self.take(r"\left(")
        value = self.expr()
        self.take(r"\right)")
        return value


def _starts_factor(token: str | None) -> bool:
    if token is None or token in ("+", "-", "}", r"\right)", r"\right\|", "^", "_", ",", "="):
        return False
    return token not in (r"\odot", r"\oslash", r"\right]", "&", r"\\")


def _resolve(value: Value | _Lazy) -> Value:
    if isinstance(value, _Lazy):
        raise Ambiguous(f"cannot size {value.kind} alone")
    return value


def _scale(c: float, value: Value | _Lazy) -> Value:
    return value if c == 1.0 else c * _resolve(value)


def _add(a: Value | _Lazy, b: Value | _Lazy) -> Value:
    if isinstance(a, _Lazy):
        a = a.sized(np.asarray(b), "add")
    if isinstance(b, _Lazy):
        b = b.sized(np.asarray(a), "add")
    if np.shape(a) != np.shape(b) and np.ndim(a) and np.ndim(b):
        raise Ambiguous(f"adding shapes {np.shape(a)} and {np.shape(b)}")
    return a + b


def _transpose(value: Value | _Lazy) -> Value | _Lazy:
    if isinstance(value, _Lazy):
        return _Lazy({"I": "I", "1": "1T", "1T": "1"}[value.kind])
    return value.T if isinstance(value, np.ndarray) else value


def _product(a: Value | _Lazy, b: Value | _Lazy) -> Value | _Lazy:
    """Juxtaposition: a matrix product, or scaling when one side is a scalar (or 1 x 1)."""
    if isinstance(a, _Lazy):
        a = a.sized(np.asarray(_resolve(b)), "left")
    if isinstance(b, _Lazy):
        b = b.sized(np.asarray(a), "right")
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    if a.shape[1] == b.shape[0]:
        return a @ b
    if a.shape == (1, 1) or b.shape == (1, 1):
        return a * b
    raise Ambiguous(f"multiplying shapes {a.shape} and {b.shape}")
