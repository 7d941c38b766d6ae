"""Prove a Hessian: sympy's diff twice on explicit matrices, finite differences, symmetry."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus import symbolic as S
from derivtex.calculus.backends import SYMPY, Matrix
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import IndexDerivative
from derivtex.calculus.problem import VerificationReport, symbolic_dims
from derivtex.calculus.sampling import random_values
from derivtex.errors import VerificationError
from derivtex.language import ir
from derivtex.language.shapes import Shape


class Hessian(Protocol):
    """What the checks read of a Hessian (derivtex.calculus.second.Hessian)."""

    @property
    def gradient(self) -> Derivative: ...
    @property
    def index(self) -> IndexDerivative: ...
    @property
    def matrix(self) -> sympy.Basic | None: ...
    @property
    def graph(self) -> ir.Graph: ...
    @property
    def wrt(self) -> str: ...
    @property
    def wrt_shape(self) -> Shape: ...
    def evaluate(self, values: Mapping[str, Any]) -> np.ndarray: ...


H_STEP = 1e-6


def exact_check(h: Hessian, dims: N.Dims) -> None:
    """Every entry against sympy's own derivative taken twice; the matrix form too."""
    graph = h.graph
    env = {name: S.explicit_input(name, s, dims) for name, s in graph.inputs}
    env = N.eval_graph(graph, env, SYMPY)
    out, wrt = env[graph.output][0, 0], list(env[h.wrt])
    first = [sympy.diff(out, w) for w in wrt]
    want = [[sympy.diff(g, w) for w in wrt] for g in first]
    index_env = S.index_env(graph, env)
    positions = list(_positions(h, dims))
    for (a, ia), (b, ib) in itertools.product(positions, positions):
        got = S.index_value(h.index, ia + ib, index_env, dims)
        S.same(got, want[a][b], f"d2{graph.output}/d{h.wrt}{ia}d{h.wrt}{ib}")
        S.same(want[a][b], want[b][a], f"the symmetry of entry {ia}, {ib}")
    if h.matrix is not None:
        got_matrix = N.eval_matrix(h.matrix, env, dims, SYMPY)
        n = len(wrt)
        for r, c in itertools.product(range(n), range(n)):
            _same_entry(got_matrix, r, c, want[r][c])


def _same_entry(matrix: Matrix, r: int, c: int, want: sympy.Expr) -> None:
    S.same(matrix[r, c], want, f"entry ({r + 1}, {c + 1}) of the matrix form")


def _positions(h: Hessian, dims: N.Dims) -> Iterator[tuple[int, tuple[int, ...]]]:
    """(flat position, 1-based indices) of every entry of wrt, in row-major order."""
    shape = h.wrt_shape
    rows, cols = N.dim_value(shape.rows, dims), N.dim_value(shape.cols, dims)
    for flat, (r, c) in enumerate(itertools.product(range(rows), range(cols))):
        yield flat, tuple(i + 1 for i, d in ((r, shape.rows), (c, shape.cols)) if d != 1)


def numeric_check(h: Hessian, values: N.Values, tol: float) -> float:
    """Largest relative difference from central differences of the (verified) gradient."""
    base = np.asarray(values[h.wrt], dtype=float)
    n = base.size
    fd = np.zeros((n, n))
    for k in range(n):
        step = np.zeros(n)
        step[k] = H_STEP
        plus = h.gradient.evaluate({**values, h.wrt: base + step.reshape(base.shape)})
        minus = h.gradient.evaluate({**values, h.wrt: base - step.reshape(base.shape)})
        fd[:, k] = (plus - minus).reshape(n) / (2 * H_STEP)
    got = h.evaluate(values).reshape(n, n)
    scale = max(1.0, float(np.max(np.abs(fd))))
    err = float(np.max(np.abs(got - fd))) / scale
    err = max(err, float(np.max(np.abs(got - got.T))) / scale)
    if h.matrix is not None:
        arrays, dims = N.bind(h.graph, values)
        env = N.eval_graph(h.graph, arrays)
        matrix = np.asarray(N.eval_matrix(h.matrix, env, dims), dtype=float).reshape(n, n)
        err = max(err, float(np.max(np.abs(matrix - fd))) / scale)
    if not err <= tol:
        raise VerificationError(
            f"the Hessian disagrees with finite differences of the gradient (or is not "
            f"symmetric) by {err:.2e} (tolerance {tol:.0e})",
            hint="this is a bug in derivtex; please report the expression",
        )
    return err


def verify_hessian(
    h: Hessian, *, seed: int = 0, trials: int = 2, tol: float = 1e-5
) -> VerificationReport:
    """The exact check at small sizes, then finite differences at random sizes."""
    symbols = symbolic_dims(h.graph)
    exact_dims = {d: 2 + n % 2 for n, d in enumerate(symbols)}
    exact_check(h, exact_dims)
    rng = np.random.default_rng(seed)
    sizes, worst = [], 0.0
    for _ in range(trials if symbols else min(trials, 1)):
        dims = {d: int(rng.integers(2, 6)) for d in symbols}
        with np.errstate(all="ignore"):
            worst = max(worst, numeric_check(h, random_values(h.graph, dims, rng), tol))
        sizes.append(tuple((str(k), v) for k, v in dims.items()))
    return VerificationReport(
        True, tuple((str(k), v) for k, v in exact_dims.items()), tuple(sizes), worst, tol
    )
