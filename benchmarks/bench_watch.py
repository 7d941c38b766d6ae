"""Time a watch rebuild after a one-line spec change beside one bare pdflatex pass of its .tex.

Three measurements of the same one-derivation spec (y = V W x, as in bench_tex.py), alternating,
medians of --repeats:
- warm rebuild: the spec's title line edited, then derivtex.project.watch.rebuild() in this
  process (what `derivtex watch` runs on a change: derive, render, one pdflatex pass);
- watch, end to end: a real `derivtex watch` process, from writing the spec to its "built" line
  (adds the file watcher's latency: it waits for 50 ms without further changes);
- bare pdflatex: one pass over the .tex that the rebuild wrote.

    python benchmarks/bench_watch.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_tex import bare

from derivtex.project.watch import Settings, rebuild

SPEC = """\
title = "Bench {n}"
[[derivation]]
name = "chain"
given = "y = V W x"
shapes = {{ V = "C x M", W = "M x D", x = "D" }}
wrt = "x"
"""
PDFLATEX = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]


def warm(spec: Path, settings: Settings, n: int) -> float:
    spec.write_text(SPEC.format(n=n), encoding="utf-8")
    start = time.perf_counter()
    line = rebuild(settings)
    assert " built " in line, line
    return time.perf_counter() - start


def end_to_end(spec: Path, process: subprocess.Popen[str], n: int) -> float:
    assert process.stdout is not None
    spec.write_text(SPEC.format(n=n), encoding="utf-8")
    start = time.perf_counter()
    while " built " not in (line := process.stdout.readline()):
        assert line, "derivtex watch ended"
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    os.environ["NO_COLOR"] = "1"  # plain report lines
    times: dict[str, list[float]] = {
        "warm rebuild": [],
        "watch, end to end": [],
        "bare pdflatex": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        here, there = Path(tmp, "warm"), Path(tmp, "watched")
        for folder in (here, there):
            (folder / ".git").mkdir(parents=True)
            (folder / "s.toml").write_text(SPEC.format(n=0), encoding="utf-8")
        settings = Settings((here / "s.toml",), here / "out", {"jobs": 1})
        rebuild(settings)  # the first build: sympy, the templates and TeX's files get loaded
        env = {**os.environ, "NO_COLOR": "1", "GITHUB_ACTIONS": ""}
        command = (sys.executable, "-m", "derivtex", "watch", "s.toml", "-o", "out")
        with subprocess.Popen(
            command, cwd=there, stdout=subprocess.PIPE, text=True, env=env
        ) as process:
            try:
                assert process.stdout is not None
                while "watching" not in process.stdout.readline():
                    pass
                for n in range(1, repeats + 1):
                    times["warm rebuild"].append(warm(here / "s.toml", settings, n))
                    times["watch, end to end"].append(end_to_end(there / "s.toml", process, n))
                    start = time.perf_counter()
                    bare(here / "out/s.tex", PDFLATEX)
                    times["bare pdflatex"].append(time.perf_counter() - start)
            finally:
                process.terminate()
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:18} {value * 1000:8.1f} ms")
    base = medians["bare pdflatex"]
    print(f"warm rebuild / bare pdflatex:      {medians['warm rebuild'] / base:.2f}x")
    print(f"watch end to end / bare pdflatex:  {medians['watch, end to end'] / base:.2f}x")


if __name__ == "__main__":
    main()
