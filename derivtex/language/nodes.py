"""Syntax tree of the expression language; every node remembers where it stands in the source."""

from __future__ import annotations

from dataclasses import dataclass

import sympy


@dataclass(frozen=True, slots=True)
class Span:
    """Start column (0-based offset into the source) and length."""

    start: int
    length: int = 1


@dataclass(frozen=True, slots=True)
class Num:
    value: sympy.Rational
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    arg: Node
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    """op is one of + - matmul hadamard / ./ (divide by a scalar, divide entry by entry)."""

    op: str
    left: Node
    right: Node
    span: Span


@dataclass(frozen=True, slots=True)
class Transpose:
    arg: Node
    span: Span


@dataclass(frozen=True, slots=True)
class Power:
    base: Node
    exponent: sympy.Rational
    span: Span
    elementwise: bool = False  # x.^3 rather than s^3


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    span: Span


Node = Num | Name | Neg | BinOp | Transpose | Power | Call


@dataclass(frozen=True, slots=True)
class Statement:
    target: str
    expr: Node
    span: Span  # the target name


@dataclass(frozen=True, slots=True)
class Program:
    statements: tuple[Statement, ...]
    source: str
