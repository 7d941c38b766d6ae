"""The public entry point: derive() and the Derivation it returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from . import ir
from . import numeric as N
from .engine import IndexDerivative, differentiate
from .errors import InputError
from .matrixform import NoMatrixForm, Target, recover, substitute_auto, target
from .parser import parse
from .shapes import Shape
from .typecheck import check_wrt, lower
from .verify import Problem, VerificationReport, verify

LAYOUTS = ("numerator", "denominator")


@dataclass(frozen=True, eq=False)
class Derivation:
    """A derivative with its index form, its matrix form where one exists, and its steps."""

    text: str
    graph: ir.Graph
    wrt: str
    layout: str
    index: IndexDerivative
    matrix: sympy.Basic | None  # None: no matrix form (three or more axes, or no pattern)
    target: Target | None
    plan_options: tuple | None = field(default=None, repr=False)  # None: no steps planned

    @property
    def steps(self) -> tuple:
        """The worked steps (planned and verified on first use)."""
        cached = self.__dict__.get("_steps")
        if cached is None:
            cached = self._plan() if self.plan_options is not None else ()
            object.__setattr__(self, "_steps", cached)
        return cached

    def _plan(self) -> tuple:
        from .planner import plan

        example, only = self.plan_options or (None, None)
        return plan(self, example=example, only=only)

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
    def has_matrix_form(self) -> bool:
        return self.matrix is not None

    def latex(self, vectors: str = "arrow") -> str:
        """LaTeX of the final result."""
        from .printer import to_latex

        return to_latex(self.result, notation(self.graph, vectors))

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

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _repr_markdown_(self) -> str:
        """The steps for Jupyter: a heading, the justification and the math of each."""
        from .printer import to_latex

        note = notation(self.graph)
        blocks = []
        for step in self.steps:
            lines = [f"**{step.kind.replace('_', ' ').capitalize()}.** {step.justification}"]
            for name in step.__slots__:
                value = getattr(step, name)
                items = value if isinstance(value, tuple) else (value,)
                if items and all(isinstance(v, sympy.Basic) for v in items):
                    math = ", ".join(f"${to_latex(v, note)}$" for v in items)
                    lines.append(f"- {name.replace('_', ' ')}: {math}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def notation(graph: ir.Graph, vectors: str = "arrow"):
    """How to print the tensors of a graph."""
    from .printer import Notation

    kinds = tuple((name, graph.shape_of(name).kind) for name in sorted(graph.names))
    return Notation(kinds, vectors)


def _shapes(shapes: Mapping[str, str | Shape] | None) -> Mapping[str, str | Shape]:
    if shapes is None:
        return {}
    if not isinstance(shapes, Mapping):
        raise InputError("shapes must map names to shapes", hint='e.g. {"W": "C x D", "x": "D"}')
    return shapes


def derive(
    text: str,
    wrt: str,
    shapes: Mapping[str, str | Shape] | None = None,
    *,
    of: str | None = None,
    layout: str = "numerator",
    example: Mapping[str, int | tuple[int, ...]] | None = None,
    steps: bool | Iterable[str] | None = None,
) -> Derivation:
    """Differentiate the output of `text` (or the statement `of`) by the input `wrt`.

    `steps=False` computes the result alone; None plans every step that applies; a collection
    of step kinds keeps only those (component_formula and summary always stay). `example`
    chooses the worked components, e.g. {"y": (3,), "x": (7,)}.
    """
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}", hint="use 'numerator' or 'denominator'")
    shapes = _shapes(shapes)
    graph = lower(parse(text, set(shapes)), shapes, of)
    check_wrt(graph, wrt)
    d = derive_graph(graph, wrt, layout)
    if steps is False:
        return d
    only = None if steps is None or steps is True else tuple(steps)
    options = (dict(example) if example else None, only)
    return dataclasses.replace(d, plan_options=options)


def derive_graph(graph: ir.Graph, wrt: str, layout: str = "numerator") -> Derivation:
    """Differentiate a checked graph's output by the input `wrt`."""
    text = graph.source
    index = differentiate(graph, wrt)
    tgt = target(index, graph.shape_of(graph.output), graph.shape_of(wrt), layout)
    matrix = None
    if tgt is not None:
        try:
            matrix = recover(index, graph, tgt)
        except NoMatrixForm:
            matrix = None
    return Derivation(text, graph, wrt, layout, index, matrix, tgt if matrix is not None else None)
