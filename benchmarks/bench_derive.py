"""Time `derivtex derive` end to end beside a bare latexmk run on the same .tex, in one run.

Prints, per reference example: the whole command (Python start-up included), the in-process
pipeline (derive, plan and verify, render, compile), the in-process pipeline without TeX, and bare
latexmk on the very .tex derivtex wrote; then the ratios against bare TeX.
Targets: at most 2.0x bare TeX end to end, at most 1.2x in process.

    python benchmarks/bench_derive.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from bench_tex import bare  # the scripts' folder is first on sys.path

import derivtex
from derivtex.rendering.document import render
from derivtex.tex.runner import compile_pdf

EXAMPLES = {
    "1 matrix-times-column": ("y = W x", {"W": "C x D", "x": "D"}, "x"),
    "2 row-times-matrix": ("y = x W", {"x": "1 x D", "W": "D x C"}, "x"),
    "3 by-a-matrix": ("y = x W", {"x": "1 x D", "W": "D x C"}, "W"),
    "4 data-points": ("Y = X W", {"X": "N x D", "W": "D x C"}, "X"),
    "5 chain-rule": ("y = V W x", {"V": "C x M", "W": "M x D", "x": "D"}, "x"),
}


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli(text: str, shapes: dict, wrt: str, out: Path) -> None:
    args = [sys.executable, "-m", "derivtex", "derive", text, "--wrt", wrt, "-o", str(out)]
    for name, shape in shapes.items():
        args += ["-s", f"{name}={shape}"]
    subprocess.run(args, check=True, capture_output=True)


def in_process(text: str, shapes: dict, wrt: str, out: Path, tex: bool = True) -> Path:
    d = derivtex.derive(text, wrt, shapes)
    path = out / "inproc.tex"
    path.write_text(render(d))
    if tex:
        compile_pdf(path)
    return path


def bare_latexmk(tex: Path) -> None:
    bare(tex, ["latexmk", "-norc", "-pdf", "-interaction=nonstopmode", "-halt-on-error"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name, (text, shapes, wrt) in EXAMPLES.items():
            tex = in_process(text, shapes, wrt, out)  # warm-up, and the .tex bare TeX gets
            job = (text, shapes, wrt, out)
            rows.append(
                (
                    name,
                    timed(partial(cli, *job), repeats),
                    timed(partial(in_process, *job), repeats),
                    timed(partial(in_process, *job, tex=False), repeats),
                    timed(partial(bare_latexmk, tex), repeats),
                )
            )
    print(
        f"{'example':24} {'cli':>8} {'in-proc':>8} {'no-TeX':>8} {'latexmk':>8} "
        f"{'cli/TeX':>8} {'proc/TeX':>8}"
    )
    for name, c, p, n, b in rows:
        print(f"{name:24} {c:8.3f} {p:8.3f} {n:8.3f} {b:8.3f} {c / b:8.2f}x {p / b:8.2f}x")
    print(f"targets: cli/TeX <= 2.0x, proc/TeX <= 1.2x (seconds are medians of {repeats} runs)")


if __name__ == "__main__":
    main()
