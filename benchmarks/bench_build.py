"""Time `derivtex build` on 10 specs of 10 derivations against bare latexmk on the same .tex.

    PYTHONPATH=. python benchmarks/bench_build.py

Targets: --jobs 1 at most 1.3x bare latexmk, --jobs 2 faster than --jobs 1, and an unchanged
rebuild under 5% of the full build. Every build runs as a fresh `python -m derivtex` process, so
the times include start-up, as a user sees them.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPECS = 10
ROOT = Path(__file__).resolve().parent.parent

# (given, wrt, shapes, example): the reference's cases and the neural-network ones.
CASES = (
    ("y = W x", "x", {"W": "C x D", "x": "D"}, "y = {a}, x = {b}"),
    ("y = x W", "x", {"x": "1 x D", "W": "D x C"}, "y = {a}, x = {b}"),
    ("y = x W", "W", {"x": "1 x D", "W": "D x C"}, "y = {a}, W = [{b}, {a}]"),
    ("Y = X W", "X", {"X": "N x D", "W": "D x C"}, ""),
    ("y = V W x", "x", {"V": "C x M", "W": "M x D", "x": "D"}, "y = {a}, x = {b}"),
    ("y = sigmoid(W x + b)", "x", {"W": "C x D", "x": "D", "b": "C"}, "y = {a}, x = {b}"),
    ("y = tanh(W x)", "x", {"W": "C x D", "x": "D"}, ""),
    ("y = relu(W x + b)", "b", {"W": "C x D", "x": "D", "b": "C"}, "y = {a}, b = {a}"),
    ("L = norm(W x - t)^2", "W", {"W": "C x D", "x": "D", "t": "C"}, "W = [{a}, {b}]"),
    ("L = norm(W x - t)^2", "x", {"W": "C x D", "x": "D", "t": "C"}, ""),
    ("L = sum(exp(W x))", "x", {"W": "C x D", "x": "D"}, ""),
    ("y = softplus(W x)", "x", {"W": "C x D", "x": "D"}, "y = {a}, x = {b}"),
    ("Y = X W", "W", {"X": "N x D", "W": "D x C"}, ""),
    ("h = tanh(W1 x); y = W2 h", "W1", {"W1": "M x D", "x": "D", "W2": "C x M"}, ""),
    ("L = tr(X W)", "W", {"X": "C x D", "W": "D x C"}, ""),
)
# Each spec renames the sizes, so no two specs print the same document.
SIZES = ("CDMN", "PQRS", "ABKT", "CDMN", "HJKL", "PQRS", "CDMN", "ABKT", "HJKL", "CDMN")


def spec_text(k: int) -> str:
    """Spec number k: 10 of the cases, starting at case k, in alternating layouts."""
    rename = str.maketrans("CDMN", SIZES[k])
    lines = [f'title = "Benchmark handout {k}"', ""]
    for n in range(10):
        given, wrt, shapes, example = CASES[(k + n) % len(CASES)]
        layout = ("numerator", "denominator")[(k + n) % 2]
        table = ", ".join(f'{name} = "{shape.translate(rename)}"' for name, shape in shapes.items())
        lines += ["[[derivation]]", f'name = "case-{n}"', f'given = "{given}"']
        lines += [f"shapes = {{ {table} }}", f'wrt = "{wrt}"', f'layout = "{layout}"']
        if example:
            lines.append(f"example = {{ {example.format(a=1 + (k + n) % 2, b=2 + k % 2)} }}")
        lines.append("")
    return "\n".join(lines)


class Timer:
    """Wall-clock seconds, and CPU seconds of the child processes (less sensitive to load)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), _children_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, _children_cpu() - self.cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def derivtex(*args: str | Path) -> Timer:
    """One `python -m derivtex` run; it must succeed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GITHUB_ACTIONS": ""}
    command = (sys.executable, "-m", "derivtex", *map(str, args))
    with Timer() as timer:
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return timer


def bare_latexmk(tex_files: list[Path], work: Path) -> Timer:
    """Plain `latexmk -pdf`, one file after another, each in a fresh folder."""
    for tex in tex_files:
        (work / tex.stem).mkdir(parents=True)
        shutil.copy(tex, work / tex.stem)
    with Timer() as timer:
        for tex in tex_files:
            command = ("latexmk", "-pdf", "-interaction=nonstopmode", tex.name)
            subprocess.run(command, cwd=work / tex.stem, check=True, capture_output=True)
    return timer


def row(label: str, timer: Timer, base: Timer, versus: str) -> str:
    ratios = f"{timer.wall / base.wall:5.2f}x / {timer.cpu / base.cpu:5.2f}x {versus}"
    return f"{label:<32}{timer.wall:6.2f} s {timer.cpu:6.2f} s   {ratios}"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="derivtex-bench-") as tmp:
        root = Path(tmp)
        specs = root / "specs"
        specs.mkdir()
        for k in range(SPECS):
            (specs / f"handout-{k}.toml").write_text(spec_text(k), encoding="utf-8")
        # Untimed: fails early on a bad case, writes the .tex files for latexmk, warms caches.
        derivtex("build", specs, "-o", root / "warm-up")
        bare = bare_latexmk(sorted((root / "warm-up").glob("*.tex")), root / "bare")
        one = derivtex("build", specs, "-o", root / "out", "--jobs", "1")
        two = derivtex("build", specs, "-o", root / "out", "--jobs", "2", "--force")
        unchanged = derivtex("build", specs, "-o", root / "out")

    print(f"{SPECS} specs x 10 derivations, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"{'':<32}{'wall':>8} {'cpu':>8}   wall / cpu ratio")
    print(row("bare latexmk -pdf, sequential", bare, bare, "bare latexmk"))
    print(row("derivtex build --jobs 1", one, bare, "bare latexmk"))
    print(row("derivtex build --jobs 2", two, bare, "bare latexmk"))
    print(row("  --jobs 2 against --jobs 1", two, one, "--jobs 1"))
    print(row("unchanged rebuild", unchanged, one, "--jobs 1"))


if __name__ == "__main__":
    main()
