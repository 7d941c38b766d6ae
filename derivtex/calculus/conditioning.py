"""Well-conditioned samples for inverses and determinants, and their condition numbers.

Finite differences of X^{-1} or det X mean something only where X is far from singular: square
inputs that are inverted are sampled diagonally dominant (so invertible, with a positive
determinant), those under a log-determinant positive definite, M M^T / n + I.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from derivtex.calculus import numeric as N
from derivtex.calculus.backends import Matrix
from derivtex.errors import UnsupportedError
from derivtex.language import ir

MAX_CONDITION = 1e4  # past this, a sample is drawn again: differences would lose 4+ digits


def _inverted(graph: ir.Graph) -> list[ir.Inverse | ir.Det]:
    return [
        o for d in graph.definitions for o in ir.walk(d.op) if isinstance(o, ir.Inverse | ir.Det)
    ]


def has_inverse(graph: ir.Graph) -> bool:
    return bool(_inverted(graph))


def square_kinds(graph: ir.Graph) -> dict[str, str]:
    """Each input inverted directly: 'pd' under a log-determinant, else 'dominant'."""
    kinds: dict[str, str] = {}
    for op in _inverted(graph):
        if isinstance(op.arg, ir.Leaf):
            log = isinstance(op, ir.Det) and op.log
            if kinds.get(op.arg.name) != "pd":
                kinds[op.arg.name] = "pd" if log else "dominant"
    return kinds


def sample(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """An n x n matrix: diagonally dominant with a positive diagonal, or positive definite."""
    m = rng.normal(0, 0.7, (n, n))
    if kind == "pd":
        return m @ m.T / n + np.eye(n)
    return m + np.diag(np.abs(m).sum(axis=1) + 0.5)


def condition(graph: ir.Graph, env: Mapping[str, Matrix]) -> float:
    """The largest 2-norm condition number of a matrix inverted (or det'd) at these values."""
    worst = 1.0
    for op in _inverted(graph):
        with np.errstate(all="ignore"):
            worst = max(worst, float(np.linalg.cond(np.asarray(env[op.arg.name], dtype=float))))
    return worst if np.isfinite(worst) else float("inf")


def conditioned(graph: ir.Graph, env: Mapping[str, Matrix]) -> bool:
    return condition(graph, env) <= MAX_CONDITION


def env_or_none(graph: ir.Graph, values: N.Values) -> N.Env | None:
    """Every value at these inputs; None where a matrix to invert is singular."""
    arrays, _ = N.bind(graph, values)
    with np.errstate(all="ignore"):
        try:
            return N.eval_graph(graph, arrays)
        except np.linalg.LinAlgError:
            return None


def singular(dims: N.Dims | None = None) -> UnsupportedError:
    """What is inverted is singular at every size the checks try (X^T X with fewer rows)."""
    at = ", ".join(f"{k}={v}" for k, v in (dims or {}).items())
    return UnsupportedError(
        "derivtex cannot verify this expression: the matrix it inverts is singular"
        + (f" at the sizes of the exact check ({at})" if at else " at every sampled size"),
        hint="check the shapes: X^T X with X N x D is invertible only when N >= D",
    )
