"""What the checks are given (a Problem) and what they report (a VerificationReport)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus.backends import Matrix
from derivtex.calculus.engine import IndexDerivative
from derivtex.calculus.matrixform import Target
from derivtex.language import ir
from derivtex.language.shapes import Shape


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What was checked and how well it held."""

    exact: bool
    exact_sizes: tuple[tuple[str, int], ...]
    numeric_sizes: tuple[tuple[tuple[str, int], ...], ...]
    max_error: float
    tolerance: float
    condition: float | None = None  # largest condition number of a matrix inverted in the samples

    def sizes_text(self) -> str:
        def one(sizes: tuple[tuple[str, int], ...]) -> str:
            return ", ".join(f"{k}={v}" for k, v in sizes) or "fixed sizes"

        text = "; ".join(one(s) for s in self.numeric_sizes)
        return text + (f" ({self.condition_text()})" if self.condition is not None else "")

    def condition_text(self) -> str:
        """The samples' conditioning in words, for the summary ('' when nothing is inverted)."""
        if self.condition is None:
            return ""
        return f"inverted matrices with condition number at most {self.condition:.3g}"


@dataclass(frozen=True, slots=True)
class Problem:
    """Everything the checks need about one derivative."""

    graph: ir.Graph
    wrt: str
    index: IndexDerivative
    matrix: sympy.Basic | None
    target: Target | None
    layout: str


def symbolic_dims(graph: ir.Graph) -> tuple[sympy.Symbol, ...]:
    dims = {d for _, s in graph.inputs for d in (s.rows, s.cols) if not d.is_Integer}
    return tuple(sorted(dims, key=str))


def entries(shape: Shape, dims: N.Dims) -> int:
    return N.dim_value(shape.rows, dims) * N.dim_value(shape.cols, dims)


def rows_cols(shape: Shape, dims: N.Dims) -> tuple[int, int]:
    return N.dim_value(shape.rows, dims), N.dim_value(shape.cols, dims)


def arrange(jac: Matrix, p: Problem, dims: N.Dims) -> Matrix:
    """The Jacobian (rows: output entries, columns: wrt entries) in the matrix form's layout."""
    tgt = p.target
    assert tgt is not None
    both = len(p.index.out_idx) == 1 and len(p.index.wrt_idx) == 1
    flat = jac.T if both and p.layout == "denominator" else jac
    return flat.reshape(N.dim_value(tgt.rows, dims), N.dim_value(tgt.cols, dims))
