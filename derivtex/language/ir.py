"""Typed operations with shapes: what the engine differentiates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

import sympy

from derivtex.language.nodes import Span
from derivtex.language.shapes import SCALAR, Shape


@dataclass(frozen=True, slots=True)
class Leaf:
    """A declared input."""

    name: str
    shape: Shape


@dataclass(frozen=True, slots=True)
class Ref:
    """The value of a named statement (the user's, or one the tool introduced)."""

    name: str
    shape: Shape


@dataclass(frozen=True, slots=True)
class Const:
    value: sympy.Rational
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Scale:
    """A scalar times a tensor."""

    factor: Op
    arg: Op
    shape: Shape


@dataclass(frozen=True, slots=True)
class MatMul:
    left: Op
    right: Op
    shape: Shape


@dataclass(frozen=True, slots=True)
class Dim:
    """A size of the declared inputs used as a number: N in `x / N`, N D for mean(X)."""

    value: sympy.Expr
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Eye:
    """The identity matrix I_D (eye)."""

    size: sympy.Expr
    shape: Shape


@dataclass(frozen=True, slots=True)
class Ones:
    """The ones vector 1^T of 1^T x, its length taken from the product it stands in."""

    shape: Shape


@dataclass(frozen=True, slots=True)
class Add:
    """left + right; broadcast is True when a scalar, row or column repeats to the shape."""

    left: Op
    right: Op
    shape: Shape
    broadcast: bool = False


@dataclass(frozen=True, slots=True)
class Hadamard:
    left: Op
    right: Op
    shape: Shape
    broadcast: bool = False


@dataclass(frozen=True, slots=True)
class Divide:
    """left ./ right entry by entry (right a scalar: left / right); right is named or constant."""

    left: Op
    right: Leaf | Ref | Dim
    shape: Shape
    broadcast: bool = False


@dataclass(frozen=True, slots=True)
class Softmax:
    """exp(z_i) / sum_k exp(z_k) of a named vector; always named, its derivative uses its name."""

    arg: Leaf | Ref
    shape: Shape


@dataclass(frozen=True, slots=True)
class Diag:
    """diag(v), a vector on a diagonal matrix's diagonal, or diag(A), a square matrix's diagonal."""

    arg: Op
    shape: Shape


@dataclass(frozen=True, slots=True)
class Transpose:
    arg: Op
    shape: Shape


@dataclass(frozen=True, slots=True)
class Apply:
    """An elementwise function of a named value (the argument is always a Leaf or a Ref)."""

    func: str
    arg: Leaf | Ref
    shape: Shape


@dataclass(frozen=True, slots=True)
class Power:
    """A power of a named value, entry by entry (x.^3; for a scalar, s^2)."""

    base: Leaf | Ref
    exponent: sympy.Rational
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Total:
    """sum(A): the sum of every entry, a scalar."""

    arg: Op
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Trace:
    """tr(A) of a square matrix (of a scalar, the scalar)."""

    arg: Op
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Length:
    """norm(a): the Euclidean (Frobenius) length of a named value; its derivative a / ||a||
    reads the length's own name."""

    arg: Leaf | Ref
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class SmoothMax:
    """logsumexp(z) = log sum_k e^{z_k}, the smooth maximum of a named value; its derivative
    e^{z - s} reads its own name s."""

    arg: Leaf | Ref
    shape: Shape = SCALAR


Reduction = Total | Trace | Length | SmoothMax
"""The operations that make a scalar of a tensor."""


@dataclass(frozen=True, slots=True)
class Inverse:
    """X^{-1} of a named square matrix; always named, its derivative uses its own name."""

    arg: Leaf | Ref
    shape: Shape


@dataclass(frozen=True, slots=True)
class Det:
    """det(X), or log|det(X)| with log, of a named square matrix.

    `inverse` names the definition of X^{-1} the derivative reads (det(X) X^{-T}); a name, not an
    operand, so the determinant's value never waits on the inverse.
    """

    arg: Leaf | Ref
    inverse: str
    log: bool = False
    shape: Shape = SCALAR


Op = (
    Leaf
    | Ref
    | Const
    | Dim
    | Eye
    | Ones
    | Scale
    | MatMul
    | Add
    | Hadamard
    | Divide
    | Transpose
    | Apply
    | Power
    | Total
    | Trace
    | Length
    | SmoothMax
    | Softmax
    | Diag
    | Inverse
    | Det
)


@dataclass(frozen=True, slots=True)
class Definition:
    """name = op; auto is True when the tool introduced the name (users never wrote it)."""

    name: str
    op: Op
    auto: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Graph:
    """Declared inputs, definitions in dependency order, and the output's name."""

    inputs: tuple[tuple[str, Shape], ...]
    definitions: tuple[Definition, ...]
    output: str
    source: str

    def definition(self, name: str) -> Definition:
        return next(d for d in self.definitions if d.name == name)

    def shape_of(self, name: str) -> Shape:
        for leaf, shape in self.inputs:
            if leaf == name:
                return shape
        return self.definition(name).op.shape

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n, _ in self.inputs) | {d.name for d in self.definitions}


def children(op: Op) -> tuple[Op, ...]:
    """The operands of an operation."""
    match op:
        case Leaf() | Ref() | Const() | Dim() | Eye() | Ones():
            return ()
        case Scale(factor=f, arg=a):
            return (f, a)
        case MatMul(left=a, right=b) | Add(left=a, right=b) | Hadamard(left=a, right=b):
            return (a, b)
        case Divide(left=a, right=b):
            return (a, b)
        case Transpose(arg=a) | Apply(arg=a) | Softmax(arg=a) | Diag(arg=a):
            return (a,)
        case Total(arg=a) | Trace(arg=a) | Length(arg=a) | SmoothMax(arg=a):
            return (a,)
        case Inverse(arg=a) | Det(arg=a):
            return (a,)
        case Power(base=b):
            return (b,)
        case _:
            assert_never(op)


def names_used(op: Op) -> frozenset[str]:
    """Every Leaf and Ref name an operation reads directly."""
    if isinstance(op, Leaf | Ref):
        return frozenset((op.name,))
    return frozenset().union(*(names_used(c) for c in children(op)))


def broadcasts(graph: Graph) -> tuple[str, ...]:
    """The definitions whose value repeats a scalar, row or column (numpy broadcasting)."""
    return tuple(
        d.name for d in graph.definitions if any(getattr(o, "broadcast", False) for o in walk(d.op))
    )


def walk(op: Op) -> tuple[Op, ...]:
    """The operation and every operation inside it, outermost first."""
    return (op, *(o for c in children(op) for o in walk(c)))
