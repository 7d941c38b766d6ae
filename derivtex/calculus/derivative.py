"""A derivative of a checked graph: its index form and, where one exists, its matrix form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus import symmetric as SYM
from derivtex.calculus.differences import printed_form_error
from derivtex.calculus.engine import IndexDerivative, differentiate
from derivtex.calculus.matrixform import NoMatrixForm, Target, recover, substitute_auto, target
from derivtex.calculus.quotients import name_quotients, name_softmax
from derivtex.calculus.sampling import sample
from derivtex.calculus.verify import (
    Problem,
    VerificationReport,
    random_values,
    symbolic_dims,
    verify,
)
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
    # the matrix form (the tool's names put back) with X^T = X for symmetric inputs, and by a
    # symmetric wrt the gradient sym(G) = (G + G^T)/2; None when no input is symmetric
    symmetric: sympy.Basic | None = None

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
        form = substitute_auto(self.matrix, self.graph)
        return name_softmax(name_quotients(form, self.graph), self.graph)

    @property
    def answer(self) -> sympy.Basic:
        """The final result: `result`, or where an input is symmetric, its symmetric form."""
        return self.result if self.symmetric is None else self.symmetric

    @property
    def notes(self) -> tuple[str, ...]:
        """What the handout should state: where values were broadcast, where a kink is skipped."""
        return notes(self.graph) + _symmetric_notes(self)

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
        report = verify(self.problem(), self.evaluate, seed=seed, trials=trials)
        if self.symmetric is not None:
            rng = np.random.default_rng(seed)
            for _ in range(trials):
                dims = {d: int(rng.integers(2, 6)) for d in symbolic_dims(self.graph)}
                values = random_values(self.graph, dims, rng)
                SYM.check(
                    self.graph, self.wrt, self.symmetric, values, report.tolerance, self.layout
                )
        printed = self.result
        if self.matrix is not None and printed != self.matrix:
            rng = np.random.default_rng(seed + 1)
            _, values, _ = sample(self.graph, symbolic_dims(self.graph), rng)
            printed_form_error(self.graph, self.matrix, printed, values, report.tolerance)
        return report


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
    return Derivative(
        graph,
        wrt,
        layout,
        index,
        matrix,
        tgt if matrix is not None else None,
        _symmetric_form(graph, wrt, matrix),
    )


def _symmetric_form(graph: ir.Graph, wrt: str, matrix: sympy.Basic | None) -> sympy.Basic | None:
    """The matrix form under X^T = X, and by a symmetric wrt of a scalar, the gradient sym(G)."""
    if matrix is None or not SYM.names(graph):
        return None
    matrix = substitute_auto(matrix, graph)  # X^{-1} named by the tool: X^T = X reaches inside
    if wrt in SYM.names(graph):
        if not graph.shape_of(graph.output).is_scalar:
            return None  # entry by entry: X_{k,l} and X_{l,k} as separate variables (a note says)
        return SYM.gradient(matrix, graph, wrt)
    form = SYM.assume(matrix, graph)
    return None if form == matrix else form


def _symmetric_notes(d: Derivative) -> tuple[str, ...]:
    """What a symmetric input changes, in words."""
    sym = sorted(SYM.names(d.graph))
    if not sym:
        return ()
    are = "is" if len(sym) == 1 else "are"
    its = "its" if are == "is" else "their"
    said = [f"{' and '.join(sym)} {are} symmetric: equal to {its} transpose."]
    if d.wrt not in sym:
        return tuple(said)
    if d.symmetric is not None:
        said.append(
            f"The result by the symmetric {d.wrt} is its gradient: the symmetric matrix whose "
            f"inner product with any symmetric change of {d.wrt} gives the change of "
            f"{d.output}. The Matrix Cookbook's other form (its section 2.8.2) lists the "
            f"partials by the distinct entries of {d.wrt} instead; it is not a gradient."
        )
    else:
        said.append(
            f"The derivative treats the entries of {d.wrt} at (k, l) and (l, k) as separate "
            "variables; a change of the symmetric matrix moves both."
        )
    return tuple(said)
