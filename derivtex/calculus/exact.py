"""The exact check: the derivative against forward-mode derivatives at random exact points."""

from __future__ import annotations

import mpmath
import numpy as np

from derivtex.calculus import numeric as N
from derivtex.calculus import points as P
from derivtex.calculus.backends import Array, Matrix
from derivtex.calculus.contraction import Env, contract_terms
from derivtex.calculus.pointbackend import PointBackend, random_table, values_of
from derivtex.calculus.problem import Problem, arrange, entries, rows_cols
from derivtex.calculus.sampling import needs_positive
from derivtex.calculus.symbolic import symbolic_check, symbolic_check_or_singular
from derivtex.errors import VerificationError
from derivtex.language import ir

SYMBOLIC_WORK = 500  # past this many monomials (entries x summands), never expand symbolically


def exact_check(p: Problem, dims: N.Dims, *, seed: int = 0, points: int = 2) -> None:
    """Compare with forward-mode derivatives at random exact points; raise on a mismatch.

    Exact rationals where the graph stays rational: a wrong polynomial formula agrees with the
    right one at a random point of the 2^21-wide grid with probability below degree / 2^21, and
    two independent points are tried. 60-digit floats that must agree to 35 digits where a
    function or a root makes values irrational. The symbolic expansion of every entry runs only
    to name the wrong entry of a small failing check, or where points cannot be evaluated.
    """
    try:
        try:
            point_check(p, dims, P.RationalField(), np.random.default_rng(seed), points)
        except P.Irrational:
            with mpmath.workdps(P.DIGITS):
                point_check(p, dims, P.FloatField(), np.random.default_rng(seed), points)
    except (P.NoPoint, ZeroDivisionError):  # what points cannot evaluate: expand, as before
        # (a divisor that is always zero then reaches the numeric check)
        symbolic_check_or_singular(p, dims)
    except VerificationError:
        if symbolic_work(p, dims) <= SYMBOLIC_WORK:
            symbolic_check(p, dims)  # names the entry that differs
        raise


def symbolic_work(p: Problem, dims: N.Dims) -> float:
    """Monomials the symbolic check would expand: Jacobian entries times summands per entry."""
    if any(isinstance(d.op, ir.Apply) for d in p.graph.definitions):
        return float("inf")
    n_entries = entries(p.graph.shape_of(p.graph.output), dims) * entries(
        p.graph.shape_of(p.wrt), dims
    )
    summands = sum(int(np.prod([N.dim_value(d, dims) for _, d in t.sums])) for t in p.index.terms)
    return float(n_entries * max(1, summands))


def point_check(
    p: Problem, dims: N.Dims, field: P.Field, rng: np.random.Generator, points: int
) -> None:
    graph, backend = p.graph, PointBackend(field)
    positive = any(needs_positive(d.op) for d in graph.definitions)
    out_shape, wrt_shape = graph.shape_of(graph.output), graph.shape_of(p.wrt)
    for n in range(points):
        inputs = {
            name: random_table(rows_cols(s, dims), rng, field, positive) for name, s in graph.inputs
        }
        direction = random_table(rows_cols(wrt_shape, dims), rng, field, False)
        weight = random_table(rows_cols(out_shape, dims), rng, field, False)
        duals = {
            name: _duals(value, direction if name == p.wrt else None, field)
            for name, value in inputs.items()
        }
        env_dual = N.eval_graph(graph, duals, backend)
        want = _total(weight * P.TANGENT(env_dual[graph.output]))
        env = values_of(env_dual)
        got = _projected_index_form(p, env, dims, field, weight, direction)
        _agree(field, got, want, "the index form", n)
        if p.matrix is not None and p.target is not None:
            matrix = N.eval_matrix(p.matrix, env, dims, backend)
            arranged = arrange(np.outer(weight.reshape(-1), direction.reshape(-1)), p, dims)
            _agree(field, _total(matrix * arranged), want, "the matrix form", n)


def _duals(value: Array, tangent: Array | None, field: P.Field) -> Array:
    """Dual numbers along tangent; without one, plain values (what does not depend on wrt)."""
    if tangent is None:
        return value
    out = np.empty(value.shape, dtype=object)
    for pos in np.ndindex(value.shape):
        out[pos] = P.Dual(value[pos], tangent[pos], field)
    return out


def _total(table: Matrix) -> P.Element:
    return sum(np.asarray(table, dtype=object).reshape(-1).tolist(), 0)


def _projected_index_form(
    p: Problem, env: Env, dims: N.Dims, field: P.Field, weight: Array, direction: Array
) -> P.Element:
    """sum over (i, j) of weight_i d out_i / d wrt_j direction_j, from the index form."""
    d = p.index
    out_sizes = tuple(N.dim_value(x, dims) for x in d.out_dims)
    wrt_sizes = tuple(N.dim_value(x, dims) for x in d.wrt_dims)
    weights = [(d.out_idx, weight.reshape(out_sizes)), (d.wrt_idx, direction.reshape(wrt_sizes))]
    free = dict(zip(d.out_idx + d.wrt_idx, out_sizes + wrt_sizes, strict=True))
    return contract_terms(d.terms, weights, free, env, dims, field)


def _agree(field: P.Field, got: P.Element, want: P.Element, what: str, n: int) -> None:
    if field.same(got, want):
        return
    kind = "exact rational" if field.exact else f"{P.DIGITS}-digit"
    raise VerificationError(
        f"the exact check failed: at random {kind} point {n + 1}, {what} projected on random "
        f"weights gives {_short(got)}, forward-mode differentiation gives {_short(want)}",
        hint="this is a bug in derivtex; please report the expression",
    )


def _short(x: P.Element) -> str:
    text = mpmath.nstr(x, 12) if isinstance(x, mpmath.mpf | mpmath.mpc) else str(x)
    return text if len(text) <= 60 else text[:57] + "..."
