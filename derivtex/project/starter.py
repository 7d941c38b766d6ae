"""derivtex init: a starter spec and a GitHub Actions workflow that builds it."""

from __future__ import annotations

from pathlib import Path

from derivtex.errors import DerivtexError
from derivtex.tex.runner import INSTALL_COMMAND


def init_project(directory: Path) -> tuple[Path, ...]:
    """Write a starter spec and a GitHub Actions workflow that builds it; never overwrite."""
    files = {Path(directory, name): text for name, text in _starter_files().items()}
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise DerivtexError(
            f"refusing to overwrite {', '.join(existing)}", hint="move them away or pick a folder"
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": a file made meanwhile survives
            handle.write(text)
    return tuple(files)


STARTER_SPEC = """\
# A derivtex spec: one handout, with a worked derivation for each [[derivation]] table.
#   derivtex check derivations.toml            # plan and verify, no TeX needed
#   derivtex build derivations.toml -o build   # build/derivations.pdf
#   derivtex build derivations.toml --mode both  # also build/derivations-exercises.pdf
title = "Matrix derivatives, step by step"
author = "Your name"
intro = "Each section works out one derivative component by component."

[defaults]
layout = "numerator"  # or "denominator"
vectors = "arrow"     # or "bold"

[[derivation]]
name = "linear-map"
title = "A matrix times a vector"
given = "y = W x"
shapes = { W = "C x D", x = "D" }
wrt = "x"
example = { y = 3, x = 7 }  # the components worked out by hand

[[derivation]]
name = "squared-loss"
title = "A squared loss, by the weights"
given = "L = norm(W x - t)^2"
shapes = { W = "C x D", x = "D", t = "C" }
wrt = "W"
"""

WORKFLOW = """\
# Builds the derivtex handouts on every push and keeps the PDFs as a workflow artifact.
name: derivtex
on:
  push:
  pull_request:
  workflow_dispatch:
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install TeX
        run: sudo apt-get update && sudo {install}
      - name: Install derivtex
        # From PyPI; in a checkout of derivtex itself use `pip install .` instead.
        run: pip install derivtex
      - name: Build the PDFs
        run: derivtex build {spec} -o build --mode both
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: derivtex-pdfs
          path: build/*.pdf
"""


def _starter_files() -> dict[str, str]:
    spec = "derivations.toml"
    workflow = WORKFLOW.format(install=INSTALL_COMMAND, spec=spec)
    return {spec: STARTER_SPEC, ".github/workflows/derivtex.yml": workflow}
