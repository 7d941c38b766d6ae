"""The numeric check: the derivative against central finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus.backends import FloatArray
from derivtex.calculus.problem import Problem
from derivtex.errors import UnsupportedError, VerificationError
from derivtex.language import ir

# A derivative's Jacobian at given inputs (Derivative.evaluate)
Evaluate: TypeAlias = Callable[[N.Values], FloatArray]
H = 1e-6  # the central differences' step


def finite_differences(
    graph: ir.Graph,
    wrt: str,
    values: N.Values,
    h: float = H,
    directions: FloatArray | None = None,
) -> FloatArray:
    """Central differences: an array of shape out.shape + wrt.shape (numerator layout).

    With `directions` (shape (k,) + wrt.shape), the k directional derivatives instead: an
    array of shape out.shape + (k,).
    """
    out_shape = graph.shape_of(graph.output)

    def f(v: N.Values) -> FloatArray:
        arrays, _ = N.bind(graph, v)
        return N.to_numpy_shape(N.eval_graph(graph, arrays)[graph.output], out_shape)

    base = np.asarray(values[wrt], dtype=float)
    if directions is None:
        directions = np.eye(base.size).reshape((base.size, *base.shape))
        shape = base.shape
    else:
        shape = directions.shape[:1]
    jac = np.zeros(f(values).shape + (len(directions),))
    for n, step in enumerate(directions):
        plus, minus = f({**values, wrt: base + h * step}), f({**values, wrt: base - h * step})
        jac[..., n] = (plus - minus) / (2 * h)
    return jac.reshape(jac.shape[:-1] + shape)


def numeric_check(p: Problem, evaluate: Evaluate, values: N.Values, tol: float) -> float:
    """Largest difference between the derived Jacobian and finite differences."""
    with np.errstate(all="ignore"):  # a value that is not real becomes nan, reported below
        return _numeric_check(p, evaluate, values, tol)


FULL_FD = 36  # up to this many entries of wrt, difference along each; else along DIRECTIONS
DIRECTIONS = 8


def _numeric_check(p: Problem, evaluate: Evaluate, values: N.Values, tol: float) -> float:
    arrays, dims = N.bind(p.graph, values)
    n_wrt = int(np.asarray(values[p.wrt]).size)
    # (n_wrt, k): the directions as columns; the identity compares every partial
    along = np.eye(n_wrt) if n_wrt <= FULL_FD else _directions(n_wrt)
    shaped = along.T.reshape((along.shape[1], *np.asarray(values[p.wrt]).shape))
    fd = finite_differences(p.graph, p.wrt, values, directions=shaped)
    out_size = int(fd.size // along.shape[1]) if along.shape[1] else 0
    fd = fd.reshape(out_size, along.shape[1])
    got = evaluate(values).reshape(out_size, n_wrt) @ along
    scale = max(1.0, float(np.max(np.abs(fd)))) if fd.size else 1.0
    err = float(np.max(np.abs(got - fd))) / scale if fd.size else 0.0
    env = N.eval_graph(p.graph, arrays)
    # Central differences lose about eps |f| / h to rounding: at y = t - 10^12 that is more than
    # the derivative itself, and only the exact check (which passed) can tell.
    out = np.abs(np.asarray(env[p.graph.output], dtype=float))
    rounding = 4 * np.finfo(float).eps * float(np.max(out, initial=0.0)) / H / scale
    tol = tol + rounding
    if p.matrix is not None and p.target is not None:
        matrix = N.eval_matrix(p.matrix, env, dims)
        jac = _unarrange(np.asarray(matrix, dtype=float), p, out_size, n_wrt)
        err = max(err, float(np.max(np.abs(jac @ along - fd))) / scale)
    if np.isnan(err):
        raise UnsupportedError(
            "derivtex cannot verify this expression: it is not real-valued at the numeric "
            "sample point (a log, sqrt or fractional power of a negative value?)",
            hint="derive with steps=False to skip verification, or rewrite the expression so "
            "such arguments stay positive",
        )
    if not err <= tol:
        raise VerificationError(
            f"the derivative disagrees with finite differences by {err:.2e} (tolerance {tol:.0e})",
            hint="this is a bug in derivtex; please report the expression",
        )
    return err


def _directions(n: int) -> FloatArray:
    """DIRECTIONS random unit vectors as columns (a wrong Jacobian moves all but a null set)."""
    v = np.random.default_rng(n).normal(size=(n, DIRECTIONS))
    unit: FloatArray = v / np.linalg.norm(v, axis=0)
    return unit


def _unarrange(matrix: FloatArray, p: Problem, out_size: int, n_wrt: int) -> FloatArray:
    """The matrix form back as the Jacobian (rows: output entries, columns: wrt entries)."""
    both = len(p.index.out_idx) == 1 and len(p.index.wrt_idx) == 1
    if both and p.layout == "denominator":
        return matrix.reshape(n_wrt, out_size).T
    return matrix.reshape(out_size, n_wrt)


def printed_form_error(
    graph: ir.Graph, derived: sympy.Basic, printed: sympy.Basic, values: N.Values, tol: float
) -> float:
    """Largest difference between the checked matrix form and the form the handout prints
    (the tool's names put back and simplified again) at `values`; raises past `tol`."""
    arrays, dims = N.bind(graph, values)
    env = N.eval_graph(graph, arrays)
    with np.errstate(all="ignore"):
        want = np.asarray(N.eval_matrix(derived, env, dims), dtype=float)
        got = np.asarray(N.eval_matrix(printed, env, dims), dtype=float)
    if want.size != got.size:
        raise VerificationError(
            f"the printed result has {got.size} entries where the derivative has {want.size}",
            hint="this is a bug in derivtex's simplifier; please report the expression",
        )
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    err = float(np.max(np.abs(got.reshape(want.shape) - want))) / scale if want.size else 0.0
    if not err <= tol:  # nan included
        raise VerificationError(
            f"the printed result differs from the checked derivative by {err:.2e} "
            f"(tolerance {tol:.0e})",
            hint="this is a bug in derivtex's simplifier; please report the expression",
        )
    return err
