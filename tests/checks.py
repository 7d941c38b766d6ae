"""What several test files share: an independent finite-difference checker, and sympy names.

Independent on purpose: the tests check derivtex against these, never against derivtex's own
verify module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import sympy

Values = Mapping[str, np.ndarray]


def central_differences(
    f: Callable[[Values], np.ndarray], values: Values, wrt: str, h: float = 1e-6
) -> np.ndarray:
    """d f / d values[wrt] by central differences, shape f.shape + wrt.shape."""
    base = np.asarray(values[wrt], dtype=float)
    out = np.asarray(f(values), dtype=float)
    jac = np.zeros(out.shape + base.shape)
    for pos in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[pos] = h
        plus = np.asarray(f({**values, wrt: base + step}))
        minus = np.asarray(f({**values, wrt: base - step}))
        jac[(..., *pos)] = (plus - minus) / (2 * h)
    return jac


def dim(name: str) -> sympy.Symbol:
    """A size, as derivtex declares it."""
    return sympy.Symbol(name, positive=True, integer=True)


def idx(name: str) -> sympy.Symbol:
    """An index, as derivtex names it."""
    return sympy.Symbol(name, integer=True)
