"""Symmetric matrices: X^T = X in the matrix form, the gradient by a symmetric X, and its checks.

The index calculus treats every entry of a matrix as its own variable, so by a symmetric X it
gives G, the derivative as if X_{k,l} and X_{l,k} were independent. Of the two forms the Matrix
Cookbook (section 2.8.2) offers, derivtex reports the gradient: the symmetric matrix sym(G) =
(G + G^T)/2, the only symmetric matrix with df = tr(sym(G)^T dX) for every symmetric change dX.
The cookbook's G + G^T - diag(G) holds the partials by the distinct entries X_{k,l}, k <= l; it is
not a gradient (used as one, it counts each off-diagonal change twice), so derivtex states it as
those partials only. Both are checked at symmetric points.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus.backends import FloatArray
from derivtex.calculus.differences import finite_differences
from derivtex.errors import VerificationError
from derivtex.language import ir


class SymmetricSymbol(sympy.MatrixSymbol):
    """A declared symmetric matrix: its transpose is itself (sympy then turns X^{-T} to X^{-1})."""

    def _eval_transpose(self) -> SymmetricSymbol:
        return self


def names(graph: ir.Graph) -> frozenset[str]:
    """The declared inputs that are symmetric matrices."""
    return frozenset(name for name, shape in graph.inputs if shape.symmetric)


def assume(expr: sympy.Basic, graph: ir.Graph) -> sympy.Basic:
    """expr with X^T = X for every symmetric input X (A + A^T becomes 2 A)."""
    mapping = {
        sympy.MatrixSymbol(n, s.rows, s.cols): SymmetricSymbol(n, s.rows, s.cols)
        for n, s in graph.inputs
        if s.symmetric
    }
    if not mapping:
        return expr
    return expr.xreplace(mapping).doit(deep=True)


def gradient(matrix: sympy.Basic, graph: ir.Graph, wrt: str) -> sympy.Basic:
    """sym(G) = (G + G^T)/2 of the entrywise gradient G, simplified with X^T = X."""
    g = assume(matrix, graph)
    if not isinstance(g, sympy.MatrixExpr):
        return g
    if _is_zero((g - assume(g.T, graph)).expand().doit()):
        return g  # G is symmetric already: sym(G) = G
    return sympy.MatMul(sympy.Rational(1, 2), sympy.MatAdd(g, assume(g.T, graph)))


def _is_zero(expr: sympy.Basic) -> bool:
    return isinstance(expr, sympy.ZeroMatrix) or expr == 0


def sample(graph: ir.Graph, values: N.Values) -> dict[str, npt.ArrayLike]:
    """values with every symmetric input replaced by its symmetric part."""
    out = dict(values)
    for name in names(graph):
        m = np.asarray(values[name], dtype=float)
        out[name] = (m + m.T) / 2
    return out


def check(
    graph: ir.Graph, wrt: str, form: sympy.Basic, values: N.Values, tol: float, layout: str
) -> float:
    """The form against central differences at a symmetric point, changing X_{k,l} and X_{l,k}
    together when wrt is symmetric; returns the largest relative difference."""
    values = sample(graph, values)
    arrays, dims = N.bind(graph, values)
    env = N.eval_graph(graph, arrays)
    got = np.atleast_1d(np.asarray(N.eval_matrix(form, env, dims), dtype=float))
    want = _differences(graph, wrt, values)
    if wrt in names(graph):  # the gradient S: a symmetric change E moves f by <S, E>
        asymmetry = float(np.max(np.abs(got - got.T)))
        got = 2 * got - np.diag(np.diag(got))  # S's partials by the distinct entries k <= l
        if asymmetry > tol * max(1.0, float(np.max(np.abs(got)))):
            raise VerificationError(
                f"the gradient by the symmetric {wrt} is not symmetric (by {asymmetry:.2e})",
                hint="this is a bug in derivtex; please report the expression",
            )
    elif layout == "denominator" and _vector_by_vector(graph, wrt):
        got = got.T
    got = got.reshape(want.shape)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    err = float(np.max(np.abs(got - want))) / scale if want.size else 0.0
    if not err <= tol:
        raise VerificationError(
            f"the result for symmetric {', '.join(sorted(names(graph)))} disagrees with finite "
            f"differences by {err:.2e} (tolerance {tol:.0e})",
            hint="this is a bug in derivtex; please report the expression",
        )
    return err


def _vector_by_vector(graph: ir.Graph, wrt: str) -> bool:
    """Whether the derivative is a matrix whose layout decides its arrangement."""
    out, by = graph.shape_of(graph.output), graph.shape_of(wrt)
    return len(out.free_dims) == 1 and len(by.free_dims) == 1


def _differences(graph: ir.Graph, wrt: str, values: N.Values) -> FloatArray:
    """d out / d wrt by central differences; by a symmetric wrt, X_{k,l} and X_{l,k} together."""
    base = np.asarray(values[wrt], dtype=float)
    steps = np.eye(base.size).reshape((base.size, *base.shape))
    if wrt in names(graph):  # each step also moves the mirrored entry
        steps = np.maximum(steps, np.swapaxes(steps, 1, 2))
    fd = finite_differences(graph, wrt, values, directions=steps)
    return fd.reshape(fd.shape[:-1] + base.shape)
