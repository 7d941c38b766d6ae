"""Time planning (steps and verification) against the result alone, per reference example.

    PYTHONPATH=. python benchmarks/bench_planner.py [--repeats 9]

For each case: `derive(...).steps` (plan the worked steps, verifying first) beside
`derive(..., steps=False)` (the result alone), both warm (after a warm-up run of each), the median
of several repeats, in the same process. Target: planning under 50 ms per reference example.
Every repeat builds a fresh Derivation, since a Derivation caches its steps. The column "of which
verify" is `Derivation.verify()` alone (the exact and finite-difference checks planning runs first).
Exit status 1 when a reference example misses the target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import derivtex

TARGET_MS = 50.0

NET = {"W1": "H x D", "x": "D", "b1": "H", "W2": "C x H", "b2": "C", "t": "C"}

# (label, text, wrt, shapes, example, reference?)
CASES = (
    ("1. y = W x, d/dx", "y = W x", "x", {"W": "C x D", "x": "D"}, {"y": 3, "x": 7}, True),
    ("2. y = x W (row), d/dx", "y = x W", "x", {"x": "1 x D", "W": "D x C"}, None, True),
    ("3. y = x W, d/dW", "y = x W", "W", {"x": "1 x D", "W": "D x C"}, {"W": (7, 8)}, True),
    ("4. Y = X W, d/dX", "Y = X W", "X", {"X": "N x D", "W": "D x C"}, None, True),
    ("5. y = V W x, d/dx", "y = V W x", "x", {"V": "C x M", "W": "M x D", "x": "D"}, None, True),
    (
        "net loss, d/dW1",
        "h = sigmoid(W1 x + b1); y = W2 h + b2; L = norm(y - t)^2",
        "W1",
        NET,
        None,
        False,
    ),
)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    print(f"derivtex {derivtex.__version__}, median of {args.repeats} warm repeats\n")
    header = (
        f"{'case':26} {'steps':>6} {'plan ms':>9} {'result ms':>10} {'ratio':>7}"
        f" {'of which verify':>16}  target"
    )
    print(header)
    print("-" * len(header))
    failed = []
    for label, text, wrt, shapes, example, reference in CASES:

        def planned(text=text, wrt=wrt, shapes=shapes, example=example) -> tuple:
            return derivtex.derive(text, wrt, shapes, example=example).steps

        def result_only(text=text, wrt=wrt, shapes=shapes) -> object:
            return derivtex.derive(text, wrt, shapes, steps=False).result

        def verify_only(text=text, wrt=wrt, shapes=shapes) -> object:
            return derivtex.derive(text, wrt, shapes, steps=False).verify()

        n_steps = len(planned())
        plan_ms = median_ms(planned, args.repeats)
        result_ms = median_ms(result_only, args.repeats)
        verify_ms = median_ms(verify_only, args.repeats) - result_ms
        verdict = "-"
        if reference:
            ok = plan_ms < TARGET_MS
            verdict = f"{'ok' if ok else 'SLOW'} (< {TARGET_MS:.0f} ms)"
            if not ok:
                failed.append(label)
        ratio = plan_ms / result_ms if result_ms else float("inf")
        print(
            f"{label:26} {n_steps:>6} {plan_ms:>9.1f} {result_ms:>10.1f} {ratio:>6.1f}x"
            f" {verify_ms:>13.1f} ms  {verdict}"
        )
    print()
    if failed:
        print(f"over the {TARGET_MS:.0f} ms target: {', '.join(failed)}")
        return 1
    print(f"every reference example plans in under {TARGET_MS:.0f} ms warm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
