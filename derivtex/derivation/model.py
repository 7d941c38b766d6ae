"""The Derivation record: a derivative with its verification report and its worked steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import IndexDerivative
from derivtex.calculus.matrixform import Target
from derivtex.calculus.second import Hessian
from derivtex.calculus.verify import VerificationReport
from derivtex.derivation.steps import Step
from derivtex.language import ir
from derivtex.language.shapes import Shape
from derivtex.options import Layout, VectorStyle


@dataclass(frozen=True, slots=True, eq=False)
class Derivation:
    """What derive() returns, complete: the derivative, its proof and its worked steps.

    `report` is None and `steps` empty when derive() was asked for the result alone.
    With `hessian` (order=2), the results below are the Hessian's; `derivative` is the gradient.
    """

    derivative: Derivative
    report: VerificationReport | None
    steps: tuple[Step, ...]
    hessian: Hessian | None = None

    @property
    def order(self) -> int:
        return 1 if self.hessian is None else 2

    @property
    def _final(self) -> Derivative | Hessian:
        return self.derivative if self.hessian is None else self.hessian

    # The derivative's fields, for readers of a Derivation.
    @property
    def text(self) -> str:
        return self.derivative.text

    @property
    def graph(self) -> ir.Graph:
        return self.derivative.graph

    @property
    def wrt(self) -> str:
        return self.derivative.wrt

    @property
    def layout(self) -> Layout:
        return self.derivative.layout

    @property
    def index(self) -> IndexDerivative:
        return self._final.index

    @property
    def matrix(self) -> sympy.Basic | None:
        return self._final.matrix

    @property
    def target(self) -> Target | None:
        return self._final.target

    @property
    def output(self) -> str:
        return self.derivative.output

    @property
    def out_shape(self) -> Shape:
        return self.derivative.out_shape

    @property
    def wrt_shape(self) -> Shape:
        return self.derivative.wrt_shape

    @property
    def index_result(self) -> sympy.Expr:
        """d out[i...] / d wrt[j...] in index form (Kronecker deltas where they remain)."""
        return self._final.index_result

    @property
    def result(self) -> sympy.Basic:
        """The matrix/tensor form, with the tool's own names put back; else the index form."""
        return self.derivative.answer if self.hessian is None else self.hessian.result

    @property
    def has_matrix_form(self) -> bool:
        return self._final.has_matrix_form

    def evaluate(self, values: Mapping[str, Any]) -> np.ndarray:
        """The derivative at `values`, shape out.shape + wrt.shape (numerator layout).

        A Hessian has shape wrt.shape + wrt.shape.
        """
        return self._final.evaluate(values)

    def verify(self, *, seed: int = 0, trials: int = 2) -> VerificationReport:
        """Run the exact and finite-difference checks again; raises VerificationError."""
        return self._final.verify(seed=seed, trials=trials)

    # Presentation, for notebooks: the printer lives in the rendering layer (see ARCHITECTURE.md).
    def latex(self, vectors: VectorStyle | str = VectorStyle.ARROW) -> str:
        """LaTeX of the final result."""
        from derivtex.rendering.printer import notation, to_latex

        return to_latex(self.result, notation(self.graph, vectors))

    def _repr_latex_(self) -> str:
        """The result's index form with its left side, for notebooks and nbconvert."""
        from derivtex.rendering.notebook import latex

        return latex(self)

    def _repr_markdown_(self) -> str:
        """The worked steps for Jupyter: a heading per step, its reason, its math as equations."""
        from derivtex.rendering.notebook import markdown

        return markdown(self)
