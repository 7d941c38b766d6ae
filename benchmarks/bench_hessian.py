"""Time Hessians (order=2) beside sympy in the same run.

For each case: derivtex's Hessian alone (steps=False), the whole derivation (verified, planned),
sympy's matrix-level `.diff` taken twice on MatrixSymbols (what it returns, or why not), and
`sympy.hessian` of the expanded scalar at an explicit size n (what the exact check does at n = 2-3).

    PYTHONPATH=. python benchmarks/bench_hessian.py [--repeats 5] [--n 6]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import sympy
from sympy import MatrixSymbol

import derivtex

D, C, N = sympy.symbols("D C N", integer=True, positive=True)
CASES = [
    ("x^T A x", "L = x^T A x", "x", {"A": "D x D", "x": "D"}),
    ("norm(W x - t)^2", "L = norm(W x - t)^2", "x", {"W": "C x D", "x": "D", "t": "C"}),
    ("logsumexp(x)", "L = logsumexp(x)", "x", {"x": "D"}),
    ("logistic", "L = sum(softplus(-t .* (X w)))", "w", {"X": "N x D", "w": "D", "t": "N"}),
    ("norm(W x - t)^2 by W", "L = norm(W x - t)^2", "W", {"W": "C x D", "x": "D", "t": "C"}),
]


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def sympy_matrix_diff(name: str) -> Callable[[], object] | None:
    """sympy's own matrix calculus, twice, where it can express the expression."""
    x, A = MatrixSymbol("x", D, 1), MatrixSymbol("A", D, D)
    W, t = MatrixSymbol("W", C, D), MatrixSymbol("t", C, 1)
    exprs = {
        "x^T A x": lambda: (x.T * A * x).diff(x).diff(x),
        "norm(W x - t)^2": lambda: ((W * x - t).T * (W * x - t)).diff(x).diff(x),
    }
    return exprs.get(name)


def sympy_explicit(name: str, n: int) -> Callable[[], object]:
    """sympy.hessian of the scalar written out over explicit n-sized symbols."""
    xs = sympy.Matrix(sympy.symbols(f"x:{n}"))
    A = sympy.Matrix(n, n, sympy.symbols(f"a:{n * n}"))
    W = sympy.Matrix(n, n, sympy.symbols(f"w:{n * n}"))
    t = sympy.Matrix(sympy.symbols(f"t:{n}"))
    scalars = {
        "x^T A x": lambda: (xs.T * A * xs)[0],
        "norm(W x - t)^2": lambda: ((W * xs - t).T * (W * xs - t))[0],
        "logsumexp(x)": lambda: sympy.log(sum(sympy.exp(v) for v in xs)),
        "logistic": lambda: sum(sympy.log(1 + sympy.exp(-t[k] * (W * xs)[k])) for k in range(n)),
        "norm(W x - t)^2 by W": lambda: ((W * xs - t).T * (W * xs - t))[0],
    }
    variables = list(W) if name.endswith("by W") else list(xs)
    return lambda: sympy.hessian(scalars[name](), variables)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=6, help="explicit size for sympy.hessian")
    args = parser.parse_args()
    print(f"{'case':24} {'hessian':>9} {'verified':>9} {'sympy .diff':>22} {'hessian n':>10}")
    for name, text, wrt, shapes in CASES:
        problem = (text, wrt, shapes)
        alone = median_ms(lambda p=problem: derivtex.derive(*p, order=2, steps=False), 5)
        full = median_ms(lambda p=problem: derivtex.derive(*p, order=2), args.repeats)
        matrix_diff = sympy_matrix_diff(name)
        if matrix_diff is None:
            sympy_text = "n/a (not expressible)"
        else:
            try:
                ms = median_ms(matrix_diff, args.repeats)
                sympy_text = f"{ms:.1f} ms: {str(matrix_diff())[:10]}"
            except Exception as exc:  # noqa: BLE001 - report what sympy did
                sympy_text = f"fails ({type(exc).__name__})"
        explicit = median_ms(sympy_explicit(name, args.n), max(1, args.repeats // 2))
        print(f"{name:24} {alone:7.1f}ms {full:7.0f}ms {sympy_text:>22} {explicit:8.0f}ms")
    print()
    for name, *problem in CASES[:2]:
        twice = sympy_matrix_diff(name)
        assert twice is not None
        d = derivtex.derive(*problem, order=2)
        print(f"{name}: derivtex {d.result}, sympy twice {twice()}")


if __name__ == "__main__":
    main()
