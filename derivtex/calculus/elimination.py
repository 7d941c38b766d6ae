"""Gauss-Jordan elimination on object arrays: inverse and determinant in any field.

The exact check evaluates inv and det on exact rationals, 60-digit floats and dual numbers with
the field's own + - * /, so its forward-mode derivative of X^{-1} or det X comes from elimination,
independently of the closed forms -X^{-1} dX X^{-1} and det(X) X^{-T} that the engine uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Reciprocal = Callable[[Any], Any]


def _pivot_row(work: np.ndarray, col: int, is_zero: Callable[[Any], bool]) -> int | None:
    for row in range(col, work.shape[0]):
        if not is_zero(work[row, col]):
            return row
    return None


def eliminate(
    a: np.ndarray, reciprocal: Reciprocal, is_zero: Callable[[Any], bool]
) -> tuple[np.ndarray | None, Any]:
    """(a^{-1}, det a) by Gauss-Jordan with row swaps; (None, 0) when a is singular."""
    n = a.shape[0]
    work = np.empty((n, 2 * n), dtype=object)
    work[:, :n] = a
    work[:, n:] = 0
    for k in range(n):
        work[k, n + k] = 1
    det: Any = 1
    for col in range(n):
        row = _pivot_row(work, col, is_zero)
        if row is None:
            return None, 0
        if row != col:
            work[[col, row]] = work[[row, col]]
            det = -det
        pivot = work[col, col]
        det = det * pivot
        work[col] = work[col] * reciprocal(pivot)
        for other in range(n):
            if other != col and not is_zero(work[other, col]):
                work[other] = work[other] - work[other, col] * work[col]
    return work[:, n:], det
