"""Time plan + verify against growth: chains of products, tanh networks, integer sizes.

    PYTHONPATH=. python benchmarks/bench_verify.py [--repeats 3] [--quick]

For each case: `derive(...)` with its steps (differentiate, verify, plan), warm, beside
`derive(..., steps=False)` (the result alone) measured alternately in the same run, and
`Derivation.verify()` alone. Targets (issue #14): every chain W_L ... W_1 x for L = 1..32 and
every tanh network of depth 1..8 under 2 s, growing at most quadratically (the exponent of a
least-squares fit of log time against log n, at most 2); y = W x at integer sizes no slower
than at symbolic ones. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable

import derivtex

TARGET_S = 2.0


def chain(length: int) -> tuple[str, dict[str, str]]:
    """y = W_L ... W_1 x as statements of at most 12 factors (the language allows 24)."""
    shapes = {f"W{n}": f"D{n} x D{n - 1}" for n in range(1, length + 1)}
    shapes["x"] = "D0"
    names = [f"W{n}" for n in range(1, length + 1)]
    statements, prev = [], "x"
    for start in range(0, length, 12):
        out = "y" if start + 12 >= length else f"m{start}"
        statements.append(f"{out} = {' '.join(reversed(names[start : start + 12]))} {prev}")
        prev = out
    return "; ".join(statements), shapes


def tanh_net(depth: int) -> tuple[str, dict[str, str]]:
    shapes = {"x": "D0", **{f"W{n}": f"D{n} x D{n - 1}" for n in range(1, depth + 1)}}
    layers = [f"h{n} = tanh(W{n} {'x' if n == 1 else f'h{n - 1}'})" for n in range(1, depth + 1)]
    return "; ".join(layers), shapes


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(text: str, wrt: str, shapes: dict[str, str], repeats: int) -> tuple[float, ...]:
    """Medians (s) of derive with steps, verify alone and derive(steps=False), alternating."""
    full = lambda: derivtex.derive(text, wrt, shapes, timeout=None).steps  # noqa: E731
    bare = lambda: derivtex.derive(text, wrt, shapes, steps=False, timeout=None)  # noqa: E731
    d = bare()
    full()  # warm-up
    rows = [(timed(full), timed(d.verify), timed(bare)) for _ in range(repeats)]
    return tuple(statistics.median(col) for col in zip(*rows, strict=True))


def exponent(points: list[tuple[int, float]]) -> float:
    """The least-squares slope of log(time) against log(n): 1 linear, 2 quadratic."""
    xs, ys = [math.log(n) for n, _ in points], [math.log(t) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def table(title: str, sizes, make, wrt: str, repeats: int, failed: list[str]) -> None:
    print(f"\n{title}, d/d{wrt} (warm medians of {repeats}, ms)")
    print(f"{'n':>4} {'plan+verify':>12} {'verify':>9} {'result':>9} {'/ first':>8}  target")
    points = []
    for n in sizes:
        text, shapes = make(n)
        full, verify, bare = measure(text, wrt, shapes, repeats)
        ok = full < TARGET_S
        if not ok:
            failed.append(f"{title} n={n}")
        points.append((n, full))
        print(
            f"{n:4} {full * 1e3:12.1f} {verify * 1e3:9.1f} {bare * 1e3:9.1f}"
            f" {full / points[0][1]:7.1f}x  {'ok' if ok else 'SLOW'} (< {TARGET_S:g} s)"
        )
    slope = exponent(points)
    verdict = "ok, at most" if slope <= 2 else "FASTER than"
    print(f"fitted growth: time ~ n^{slope:.2f} ({verdict} n^2)")
    if slope > 2:
        failed.append(f"{title} d/d{wrt} grows faster than n^2")


def integer_sizes(repeats: int, failed: list[str]) -> None:
    print(f"\ny = W x: integer sizes beside symbolic C x D (warm medians of {repeats}, ms)")
    print(f"{'shapes':>16} {'wrt':>4} {'plan+verify':>12} {'symbolic':>9} {'ratio':>7}")
    for wrt in ("x", "W"):
        for size in (4, 16, 32, 64):
            ints = {"W": f"{size} x {size}", "x": f"{size}"}
            t_int, t_sym = [], []
            for _ in range(repeats):  # alternate, so load on the machine hits both alike
                t_int.append(measure("y = W x", wrt, ints, 1)[0])
                t_sym.append(measure("y = W x", wrt, {"W": "C x D", "x": "D"}, 1)[0])
            a, b = statistics.median(t_int), statistics.median(t_sym)
            print(f"{size:>7} x {size:<6} {wrt:>4} {a * 1e3:12.1f} {b * 1e3:9.1f} {a / b:6.2f}x")
            if size <= 32 and a / b > 1.5:  # 1.5: noise on a shared machine
                failed.append(f"integer size {size} d/d{wrt} slower than symbolic")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer sizes")
    args = parser.parse_args()
    lengths = (1, 2, 4, 8, 16) if args.quick else (1, 2, 4, 8, 12, 16, 24, 32)
    depths = (1, 2, 4, 8) if args.quick else (1, 2, 3, 4, 5, 6, 7, 8)
    print(f"derivtex {derivtex.__version__}")
    failed: list[str] = []
    for wrt in ("x", "W1"):
        table("chain W_L ... W_1 x", lengths, chain, wrt, args.repeats, failed)
        table("tanh network", depths, tanh_net, wrt, args.repeats, failed)
    integer_sizes(args.repeats, failed)
    print()
    if failed:
        print("missed: " + "; ".join(failed))
        return 1
    print(f"every case plans and verifies in under {TARGET_S:g} s, growing at most quadratically")
    return 0


if __name__ == "__main__":
    sys.exit(main())
