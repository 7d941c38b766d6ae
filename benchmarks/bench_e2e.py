"""Issue #14's end-to-end figures, each a ratio against a baseline measured alternately in one run.

    PYTHONPATH=. python benchmarks/bench_e2e.py [--repeats 5] [--root CHECKOUT] [--only NAME]

1. derive: `python -m derivtex derive` per reference example / one bare pdflatex pass on the
   same .tex (target at most 4x).
2. reference: `derivtex build examples/reference.toml --force` / one bare pdflatex pass on the
   reference .tex (at most 4x).
3. parallel: 10 specs x 10 derivations, `build --jobs 2 --force` / bare one-pass pdflatex on the
   ten .tex one after another (at most 1.3x); --jobs 1 and CPU seconds beside it.
4. warm: re-derive and re-render each reference section in one process (under 50 ms each).
5. memory: peak RSS of one process building 100 derivations (--jobs 1; under 150 MiB).

Every derivtex command is a fresh `python -m derivtex` process of the checkout --root (default:
this one), so start-up and teardown count as a user sees them; its modules are byte-compiled
first, as `pip install` does. Wall times on a shared machine are noisy: the two sides of each
ratio alternate, and medians are reported.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_build import SPECS, spec_text  # the scripts' folder is first on sys.path

HERE = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "1 matrix-times-column": ("y = W x", {"W": "C x D", "x": "D"}, "x"),
    "2 row-times-matrix": ("y = x W", {"x": "1 x D", "W": "D x C"}, "x"),
    "3 by-a-matrix": ("y = x W", {"x": "1 x D", "W": "D x C"}, "W"),
    "4 data-points": ("Y = X W", {"X": "N x D", "W": "D x C"}, "X"),
    "5 chain-rule": ("y = V W x", {"V": "C x M", "W": "M x D", "x": "D"}, "x"),
}
PDFLATEX = ("pdflatex", "-interaction=nonstopmode", "-halt-on-error")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU of child processes) seconds of one call."""
    wall, cpu = time.perf_counter(), children_cpu()
    fn()
    return time.perf_counter() - wall, children_cpu() - cpu


class Runner:
    """`python -m derivtex` of one checkout, and bare pdflatex."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {**os.environ, "PYTHONPATH": str(root), "GITHUB_ACTIONS": ""}
        self.env.setdefault("SOURCE_DATE_EPOCH", "0")

    def derivtex(self, *args: str | Path, **env: str) -> None:
        command = (sys.executable, "-m", "derivtex", *map(str, args))
        done = subprocess.run(command, env={**self.env, **env}, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)}: exit {done.returncode}\n{done.stdout}{done.stderr}")

    def pdflatex(self, *tex_files: Path) -> None:
        """One pass per file, each in a fresh folder, one after another."""
        for tex in tex_files:
            work = Path(tempfile.mkdtemp(prefix="bare-"))
            shutil.copy(tex, work / "document.tex")
            subprocess.run(
                (*PDFLATEX, "document.tex"),
                cwd=work,
                check=True,
                capture_output=True,
                stdin=subprocess.DEVNULL,
            )
            shutil.rmtree(work)


def alternate(*fns: Callable[[], object], repeats: int):
    """Medians of (wall, cpu) for each of fns, run in turn: a, b, a, b, ..."""
    rows: list[list[tuple[float, float]]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, row in zip(fns, rows, strict=True):
            row.append(timed(fn))
    return tuple(tuple(statistics.median(c) for c in zip(*row, strict=True)) for row in rows)


def verdict(ratio: float, target: float) -> str:
    return f"{'ok' if ratio <= target else 'MISSED'} (<= {target:g}x)"


def bench_derive(run: Runner, tmp: Path, repeats: int, missed: list[str]) -> None:
    print("1. derivtex derive (whole command) / one bare pdflatex pass on the same .tex")
    print("   (no fmt: DERIVTEX_TEX_FORMAT=0, without the cached preamble format, in the same run;")
    print("   TeX inside bubblewrap is not reaped by derivtex, so derivtex's CPU omits it there)")
    print(
        f"{'example':24} {'derive s':>9} {'pdflatex s':>11} {'wall ratio':>11} {'cpu ratio':>10}"
        f" {'no fmt wall':>12} {'cpu':>6} {'fmt gain cpu':>13}"
    )
    walls, cpus, gains, plain_walls = [], [], [], []
    for name, (text, shapes, wrt) in EXAMPLES.items():
        out = tmp / f"derive-{name[0]}"
        args = ["derive", text, "--wrt", wrt, "-o", out, "--name", "d"]
        for var, shape in shapes.items():
            args += ["-s", f"{var}={shape}"]
        run.derivtex(*args)  # warm-up, and the .tex for bare TeX
        ours, bare, plain = alternate(
            lambda args=args: run.derivtex(*args),
            lambda out=out: run.pdflatex(out / "d.tex"),
            lambda args=args: run.derivtex(*args, DERIVTEX_TEX_FORMAT="0"),
            repeats=repeats,
        )
        walls.append(ours[0] / bare[0])
        cpus.append(ours[1] / bare[1])
        gains.append(plain[1] / ours[1])
        plain_walls.append(plain[0] / ours[0])
        print(
            f"{name:24} {ours[0]:9.3f} {bare[0]:11.3f} {walls[-1]:10.2f}x {cpus[-1]:9.2f}x"
            f" {plain[0] / bare[0]:11.2f}x {plain[1] / bare[1]:5.2f}x {gains[-1]:12.2f}x"
            f"  {verdict(walls[-1], 4)}"
        )
        if walls[-1] > 4:
            missed.append(f"derive {name}")
    geo = statistics.geometric_mean
    print(
        f"geometric mean: wall {geo(walls):.2f}x, cpu {geo(cpus):.2f}x;"
        f" without the format / with it: wall {geo(plain_walls):.2f}x, cpu {geo(gains):.2f}x\n"
    )


def bench_reference(run: Runner, tmp: Path, repeats: int, missed: list[str]) -> None:
    out = tmp / "reference"
    spec = run.root / "examples" / "reference.toml"
    run.derivtex("build", spec, "-o", out, "--force")
    ours, bare = alternate(
        lambda: run.derivtex("build", spec, "-o", out, "--force"),
        lambda: run.pdflatex(out / "reference.tex"),
        repeats=repeats,
    )
    wall, cpu = ours[0] / bare[0], ours[1] / bare[1]
    print("2. derivtex build examples/reference.toml --force / one bare pdflatex pass")
    print(f"   wall {ours[0]:.3f} s / {bare[0]:.3f} s = {wall:.2f}x  {verdict(wall, 4)}")
    print(f"   cpu  {ours[1]:.3f} s / {bare[1]:.3f} s = {cpu:.2f}x\n")
    if wall > 4:
        missed.append("reference build")


def bench_parallel(run: Runner, tmp: Path, repeats: int, missed: list[str]) -> None:
    specs = tmp / "specs"
    specs.mkdir()
    for k in range(SPECS):
        (specs / f"handout-{k}.toml").write_text(spec_text(k), encoding="utf-8")
    out = tmp / "parallel"
    run.derivtex("build", specs, "-o", out)
    tex_files = sorted(out.glob("*.tex"))
    rows: dict[str, list[tuple[float, float]]] = {"jobs 2": [], "jobs 1": [], "bare": []}
    for _ in range(repeats):
        rows["jobs 2"].append(
            timed(lambda: run.derivtex("build", specs, "-o", out, "-j", "2", "--force"))
        )
        rows["bare"].append(timed(lambda: run.pdflatex(*tex_files)))
        rows["jobs 1"].append(
            timed(lambda: run.derivtex("build", specs, "-o", out, "-j", "1", "--force"))
        )
    med = {k: tuple(statistics.median(c) for c in zip(*v, strict=True)) for k, v in rows.items()}
    base_wall, base_cpu = med["bare"]
    print(
        f"3. {SPECS} specs x 10 derivations / bare one-pass pdflatex on the {len(tex_files)} .tex"
    )
    print(f"{'':14} {'wall s':>8} {'cpu s':>8} {'wall ratio':>11} {'cpu ratio':>10}")
    for name, (wall, cpu) in med.items():
        print(f"{name:14} {wall:8.2f} {cpu:8.2f} {wall / base_wall:10.2f}x {cpu / base_cpu:9.2f}x")
    two, one = med["jobs 2"], med["jobs 1"]
    ratio = two[0] / base_wall
    print(
        f"--jobs 2 / bare: {ratio:.2f}x  {verdict(ratio, 1.3)}; CPU --jobs 2 / --jobs 1:"
        f" {two[1] / one[1]:.2f}x\n"
    )
    if ratio > 1.3:
        missed.append("parallel build")


WARM = """
import statistics, sys, time, tomllib
from derivtex.api import derive
from derivtex.rendering.document import render, section
spec = tomllib.load(open(sys.argv[1], "rb"))
for d in spec["derivation"]:
    def once():
        dv = derive(d["given"], d["wrt"], d["shapes"], of=d.get("of"),
                    layout=d.get("layout", "numerator"), example=d.get("example"))
        return render([section(dv, title=d.get("title"))], title="t")
    once()
    times = []
    for _ in range(int(sys.argv[2])):
        start = time.perf_counter(); once(); times.append(time.perf_counter() - start)
    print(d.get("name", d["given"]), 1000 * statistics.median(times))
"""


def bench_warm(run: Runner, repeats: int, missed: list[str]) -> None:
    spec = run.root / "examples" / "reference.toml"
    command = (sys.executable, "-c", WARM, str(spec), str(max(5, repeats)))
    lines = subprocess.run(command, env=run.env, check=True, capture_output=True, text=True)
    print("4. warm re-derive + re-render of each reference section, one process (median ms)")
    for line in lines.stdout.splitlines():
        name, ms = line.rsplit(" ", 1)
        ok = float(ms) < 50
        print(f"   {name:36} {float(ms):7.1f} ms  {'ok' if ok else 'MISSED'} (< 50 ms)")
        if not ok:
            missed.append(f"warm {name}")
    print()


MEMORY = """
import resource, sys
from derivtex.project.build import build_specs
build_specs([sys.argv[1]], sys.argv[2], jobs=1, force=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bench_memory(run: Runner, tmp: Path, missed: list[str]) -> None:
    specs = tmp / "specs"
    if not specs.exists():
        specs.mkdir()
        for k in range(SPECS):
            (specs / f"handout-{k}.toml").write_text(spec_text(k), encoding="utf-8")
    command = (sys.executable, "-c", MEMORY, str(specs), str(tmp / "memory"))
    done = subprocess.run(command, env=run.env, check=True, capture_output=True, text=True)
    mib = float(done.stdout.split()[-1])
    print(f"5. peak RSS of one process building {SPECS * 10} derivations (--jobs 1, TeX excluded)")
    print(f"   {mib:.0f} MiB  {'ok' if mib < 150 else 'MISSED'} (< 150 MiB)\n")
    if mib >= 150:
        missed.append("memory")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--root", type=Path, default=HERE, help="the checkout to run")
    parser.add_argument("--only", choices=["derive", "reference", "parallel", "warm", "memory"])
    args = parser.parse_args()
    run = Runner(args.root.resolve())
    compileall.compile_dir(run.root / "derivtex", quiet=1)
    load = os.getloadavg()[0]
    print(
        f"checkout {run.root}, {os.cpu_count()} cores, load {load:.1f}, medians of {args.repeats}\n"
    )
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="derivtex-e2e-") as name:
        tmp = Path(name)
        jobs = {
            "derive": lambda: bench_derive(run, tmp, args.repeats, missed),
            "reference": lambda: bench_reference(run, tmp, args.repeats, missed),
            "parallel": lambda: bench_parallel(run, tmp, max(1, args.repeats // 2), missed),
            "warm": lambda: bench_warm(run, args.repeats, missed),
            "memory": lambda: bench_memory(run, tmp, missed),
        }
        for key, job in jobs.items():
            if args.only in (None, key):
                job()
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    if missed:
        print("missed: " + "; ".join(missed))
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
