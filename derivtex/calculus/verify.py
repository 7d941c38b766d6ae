"""Prove a derivative: exactly at small sizes, then by finite differences at random sizes."""

from __future__ import annotations

import numpy as np
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus.differences import Evaluate, finite_differences, numeric_check
from derivtex.calculus.exact import SYMBOLIC_WORK, exact_check, symbolic_work
from derivtex.calculus.problem import Problem, VerificationReport, symbolic_dims
from derivtex.calculus.sampling import random_values, sample

# tests/test_language_ops.py reads V._rational_zero
from derivtex.calculus.symbolic import rational_zero as _rational_zero
from derivtex.errors import UnsupportedError

__all__ = [
    "SYMBOLIC_WORK",
    "Problem",
    "VerificationReport",
    "_rational_zero",
    "exact_check",
    "finite_differences",
    "numeric_check",
    "random_values",
    "symbolic_dims",
    "symbolic_work",
    "verify",
]


def _exact(p: Problem, symbols: tuple[sympy.Symbol, ...], seed: int) -> N.Dims:
    """Run the exact check at sizes 2, 3, 2, ...; where that makes an inverse singular
    (X X^T with X 3 x 2), at 3, 2, 3, ... instead. Returns the sizes used."""
    dims = {d: 2 + n % 2 for n, d in enumerate(symbols)}
    try:
        exact_check(p, dims, seed=seed)
    except UnsupportedError as error:
        if "singular" not in str(error) or len(symbols) < 2:
            raise
        dims = {d: 3 - n % 2 for n, d in enumerate(symbols)}
        exact_check(p, dims, seed=seed)
    return dims


def verify(
    p: Problem, evaluate: Evaluate, *, seed: int = 0, trials: int = 2, tol: float = 1e-5
) -> VerificationReport:
    """Run the exact check at small sizes and the numerical check at random sizes."""
    symbols = symbolic_dims(p.graph)
    exact_dims = _exact(p, symbols, seed)
    rng = np.random.default_rng(seed)
    sizes, worst, conditions = [], 0.0, []
    # With no size to vary, one finite-difference point: the exact check tried two already.
    for _ in range(trials if symbols else min(trials, 1)):
        dims, values, cond = sample(p.graph, symbols, rng)
        worst = max(worst, numeric_check(p, evaluate, values, tol))
        sizes.append(tuple((str(k), v) for k, v in dims.items()))
        conditions += [cond] if cond is not None else []
    exact = tuple((str(k), v) for k, v in exact_dims.items())
    condition = max(conditions) if conditions else None
    return VerificationReport(True, exact, tuple(sizes), worst, tol, condition)
