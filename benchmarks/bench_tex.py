"""Time compile_pdf (one pdflatex pass, sandboxed) beside bare pdflatex and bare latexmk.

All build the same reference handout (example 5, the chain rule) in one run, alternating, and
the medians of --repeats runs (wall and the CPU of child processes) are printed with their
ratios; "compile_pdf, no fmt" is compile_pdf without the cached preamble format
(DERIVTEX_TEX_FORMAT=0), so the format's gain is measured in the same run. TeX run inside
bubblewrap is not reaped by this process, so its CPU does not show in compile_pdf's CPU column
where the sandbox works: compare walls then (or run on a machine without bwrap).

    python benchmarks/bench_tex.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
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


def without_format(run: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        os.environ["DERIVTEX_TEX_FORMAT"] = "0"
        try:
            return run()
        finally:
            del os.environ["DERIVTEX_TEX_FORMAT"]

    return call


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
            "compile_pdf, no fmt": without_format(
                lambda: compile_pdf(tex, output=Path(tmp) / "out.pdf")
            ),
            "bare pdflatex": lambda: bare(
                tex, ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
            ),
            "bare latexmk": lambda: bare(
                tex, ["latexmk", "-norc", "-pdf", "-interaction=nonstopmode", "-halt-on-error"]
            ),
        }
        os.environ.pop("DERIVTEX_TEX_FORMAT", None)
        runs["compile_pdf"]()  # warm-up: the format is dumped once and cached
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpus: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                start, cpu = time.perf_counter(), children_cpu()
                run()
                times[name].append(time.perf_counter() - start)
                cpus[name].append(children_cpu() - cpu)
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
    for name, value in medians.items():
        print(f"{name:20} {value * 1000:8.1f} ms wall {cpu_medians[name] * 1000:8.1f} ms cpu")
    for name in ("compile_pdf, no fmt", "compile_pdf"):
        wall = medians[name] / medians["bare pdflatex"]
        cpu = cpu_medians[name] / cpu_medians["bare pdflatex"]
        print(f"{name + ' / bare pdflatex:':36} wall {wall:.2f}x  cpu {cpu:.2f}x")
    base = medians["compile_pdf"]
    print(f"compile_pdf / bare latexmk:          wall {base / medians['bare latexmk']:.2f}x")
    walls = medians["compile_pdf, no fmt"] / medians["compile_pdf"]
    cpus_ = cpu_medians["compile_pdf, no fmt"] / cpu_medians["compile_pdf"]
    print(f"the preamble format: without / with it: wall {walls:.2f}x, cpu {cpus_:.2f}x")


if __name__ == "__main__":
    main()
