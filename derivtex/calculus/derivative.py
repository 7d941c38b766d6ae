"""A derivative of a checked graph: its index form and, where one exists, its matrix form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus.engine import IndexDerivative, differentiate
from derivtex.calculus.matrixform import NoMatrixForm, Target, recover, substitute_auto, target
from derivtex.calculus.verify import Problem, VerificationReport, verify
from derivtex.language import ir
from derivtex.language.functions import KINK_NOTES
from derivtex.language.shapes import Shape
from derivtex.options import Layout


@dataclass(frozen=True, slots=True, eq=False)
class Derivative:
    """d output / d wrt of a graph: the index form, and the matrix form where one exists."""

    graph: ir.Graph
    wrt: str
    layout: Layout
    index: IndexDerivative
    matrix: sympy.Basic | None  # None: no matrix form (three or more axes, or no pattern)
    target: Target | None

    @property
    def text(self) -> str:
        return self.graph.source

    @property
    def output(self) -> str:
        return self.graph.output

    @property
    def out_shape(self) -> Shape:
        return self.graph.shape_of(self.graph.output)

    @property
    def wrt_shape(self) -> Shape:
        return self.graph.shape_of(self.wrt)

    @property
    def index_result(self) -> sympy.Expr:
        """d out[i...] / d wrt[j...] in index form (Kronecker deltas where they remain)."""
        return self.index.as_sympy()

    @property
    def result(self) -> sympy.Basic:
        """The matrix/tensor form, with the tool's own names put back; else the index form."""
        if self.matrix is None:
            return self.index_result
        return substitute_auto(self.matrix, self.graph)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the handout should state: where values were broadcast, where a kink is skipped."""
        return notes(self.graph)

    @property
    def has_matrix_form(self) -> bool:
        return self.matrix is not None

    def evaluate(self, values: Mapping[str, Any]) -> np.ndarray:
        """The derivative at `values`, shape out.shape + wrt.shape (numerator layout)."""
        arrays, dims = N.bind(self.graph, values)
        env = N.eval_graph(self.graph, arrays)
        free_dims = tuple(N.dim_value(d, dims) for d in self.index.out_dims + self.index.wrt_dims)
        arr = N.eval_terms(
            self.index.terms, self.index.out_idx + self.index.wrt_idx, free_dims, env, dims
        )
        out_np = N.to_numpy_shape(env[self.output], self.out_shape).shape
        return arr.reshape(out_np + np.asarray(values[self.wrt]).shape)

    def problem(self) -> Problem:
        return Problem(self.graph, self.wrt, self.index, self.matrix, self.target, self.layout)

    def verify(self, *, seed: int = 0, trials: int = 2) -> VerificationReport:
        """Exact and finite-difference checks; raises VerificationError on a mismatch."""
        return verify(self.problem(), self.evaluate, seed=seed, trials=trials)


def notes(graph: ir.Graph) -> tuple[str, ...]:
    """One sentence per broadcast and per function differentiable only away from 0."""
    out: list[str] = []
    for d in graph.definitions:
        for op in ir.walk(d.op):
            out += _broadcast_notes(d.name, op)
            if isinstance(op, ir.Apply) and op.func in KINK_NOTES:
                out.append(f"{KINK_NOTES[op.func]} (u = {op.arg.name}_i); the checks sample there.")
    return tuple(dict.fromkeys(out))


def _broadcast_notes(name: str, op: ir.Op) -> list[str]:
    if not getattr(op, "broadcast", False):
        return []
    out = []
    for operand in ir.children(op):
        repeated = _repeats(operand.shape, op.shape)
        if repeated:
            out.append(
                f"In {name}, {repeated} to fit {op.shape.text()} (broadcasting, as in numpy)."
            )
    return out


def _repeats(small: Shape, big: Shape) -> str:
    """How an operand of shape `small` repeats to `big`, in words; '' if it does not."""
    if (small.rows, small.cols) == (big.rows, big.cols):
        return ""
    if small.is_scalar:
        return "a scalar is used in every entry"
    if small.rows == 1:
        return f"a row ({small.text()}) is repeated down the {big.rows} rows"
    return f"a column ({small.text()}) is repeated across the {big.cols} columns"


def derive_graph(graph: ir.Graph, wrt: str, layout: Layout = Layout.NUMERATOR) -> Derivative:
    """Differentiate a checked graph's output by the input `wrt`."""
    index = differentiate(graph, wrt)
    tgt = target(index, graph.shape_of(graph.output), graph.shape_of(wrt), layout)
    matrix = None
    if tgt is not None:
        try:
            matrix = recover(index, graph, tgt)
        except NoMatrixForm:
            matrix = None
    return Derivative(graph, wrt, layout, index, matrix, tgt if matrix is not None else None)
