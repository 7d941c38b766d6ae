"""Two checkouts against one bare pdflatex pass, alternating in one run: before/after ratios.

    python benchmarks/bench_ab.py BEFORE_CHECKOUT [--after CHECKOUT] [--repeats 5]

For `derive` of reference examples 1 and 5 and the reference build: medians of wall and of CPU
(user + sys of the child processes) for each checkout, each divided by bare pdflatex on the same
.tex, the three sides run one after another in each round. Both checkouts use this interpreter
and the same template cache folder (warm after the first run, as on a user's machine).
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_e2e import EXAMPLES, HERE, Runner, timed  # the scripts' folder is first on sys.path


def rounds(sides: dict[str, object], repeats: int) -> dict[str, tuple[float, float]]:
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            rows[name].append(timed(fn))  # type: ignore[arg-type]
    return {k: tuple(statistics.median(c) for c in zip(*v, strict=True)) for k, v in rows.items()}  # type: ignore[misc]


def report(title: str, med: dict[str, tuple[float, float]]) -> None:
    bare_wall, bare_cpu = med["bare"]
    print(title)
    for name in ("before", "after"):
        wall, cpu = med[name]
        print(f"   {name:7} wall {wall / bare_wall:5.2f}x  cpu {cpu / bare_cpu:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("--after", type=Path, default=HERE)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs = {"before": Runner(args.before.resolve()), "after": Runner(args.after.resolve())}
    for run in runs.values():
        compileall.compile_dir(run.root / "derivtex", quiet=1)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, medians of {args.repeats}")
    with tempfile.TemporaryDirectory(prefix="derivtex-ab-") as name:
        tmp = Path(name)
        for key in ("1 matrix-times-column", "5 chain-rule"):
            text, shapes, wrt = EXAMPLES[key]
            shape_args = [a for v, s in shapes.items() for a in ("-s", f"{v}={s}")]
            sides = {}
            for side, run in runs.items():
                out = tmp / f"{side}-{key[0]}"
                argv = ["derive", text, "--wrt", wrt, "-o", out, "--name", "d", *shape_args]
                run.derivtex(*argv)
                sides[side] = lambda run=run, argv=argv: run.derivtex(*argv)
            tex = tmp / f"after-{key[0]}" / "d.tex"
            sides["bare"] = lambda tex=tex: runs["after"].pdflatex(tex)
            report(f"derive {key}", rounds(sides, args.repeats))
        spec = HERE / "examples" / "reference.toml"
        sides = {}
        for side, run in runs.items():
            argv = ["build", spec, "-o", tmp / f"ref-{side}", "--force"]
            run.derivtex(*argv)
            sides[side] = lambda run=run, argv=argv: run.derivtex(*argv)
        sides["bare"] = lambda: runs["after"].pdflatex(tmp / "ref-after" / "reference.tex")
        report("build examples/reference.toml", rounds(sides, args.repeats))
    print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
