"""Time compile_pdf (one pdflatex pass, sandboxed) beside bare pdflatex and bare latexmk.

All three build the same reference handout (example 5, the chain rule) in one run, alternating,
and the medians of --repeats runs are printed with their ratios.

    python benchmarks/bench_tex.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import derivtex
from derivtex.rendering.document import render
from derivtex.tex.runner import compile_pdf


def bare(tex: Path, command: list[str]) -> None:
    work = Path(tempfile.mkdtemp())
    shutil.copy(tex, work / "document.tex")
    subprocess.run(
        [*command, "document.tex"],
        cwd=work,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    shutil.rmtree(work)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as tmp:
        tex = Path(tmp) / "handout.tex"
        d = derivtex.derive("y = V W x", "x", {"V": "C x M", "W": "M x D", "x": "D"})
        tex.write_text(render(d), encoding="utf-8")
        runs: dict[str, Callable[[], object]] = {
            "compile_pdf": lambda: compile_pdf(tex, output=Path(tmp) / "out.pdf"),
            "bare pdflatex": lambda: bare(
                tex, ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
            ),
            "bare latexmk": lambda: bare(
                tex, ["latexmk", "-norc", "-pdf", "-interaction=nonstopmode", "-halt-on-error"]
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:14} {value * 1000:8.1f} ms")
    base = medians["compile_pdf"]
    print(f"compile_pdf / bare pdflatex: {base / medians['bare pdflatex']:.2f}x")
    print(f"compile_pdf / bare latexmk:  {base / medians['bare latexmk']:.2f}x")


if __name__ == "__main__":
    main()
