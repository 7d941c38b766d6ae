"""derivtex init: a starter spec and a GitHub Actions workflow that builds it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from derivtex.errors import DerivtexError
from derivtex.tex.runner import INSTALL_COMMAND

DEFAULT_SOURCE = "derivtex"  # a pip requirement; set it to where your derivtex comes from
WORKFLOW_PATH = ".github/workflows/derivtex.yml"


def init_project(directory: Path, *, source: str = DEFAULT_SOURCE) -> tuple[Path, ...]:
    """Write a starter spec and a GitHub Actions workflow that builds it; never overwrite.

    The spec goes into `directory`; the workflow into .github/workflows of the git repository
    that holds `directory` (GitHub reads workflows only there), else of `directory` itself. The
    workflow installs derivtex with `pip install <source>`, `source` being any pip requirement
    (a version, a git URL, a wheel's URL).
    """
    if not source.strip() or "\n" in source:
        raise DerivtexError(
            f"--source {source!r} is not a pip requirement",
            hint='e.g. "derivtex==0.2.0" or "derivtex @ git+https://github.com/OWNER/derivtex"',
        )
    directory = Path(directory)
    root = git_root(directory) or directory
    specs = _relative(directory, root)
    files = {
        directory / "derivations.toml": STARTER_SPEC,
        root / WORKFLOW_PATH: workflow_text(source, specs),
    }
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


def git_root(directory: Path) -> Path | None:
    """The top folder of the git repository that holds directory (made or not yet), or None."""
    here = Path(directory).absolute()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():  # a folder, or a file in a worktree or submodule
            return folder if Path(directory).is_absolute() else Path(os.path.relpath(folder))
    return None


def _relative(directory: Path, root: Path) -> str:
    """directory as a POSIX path relative to root: what the workflow, run at root, builds."""
    return Path(os.path.relpath(Path(directory).absolute(), Path(root).absolute())).as_posix()


def workflow_text(source: str, specs: str) -> str:
    """The workflow: install TeX and derivtex, check and build the spec folder, keep the PDFs."""
    out = "build" if specs == "." else f"{specs}/build"
    return WORKFLOW.format(
        install=INSTALL_COMMAND,
        source=json.dumps(source),  # a JSON string is a YAML double-quoted string
        specs=json.dumps(specs),
        out=json.dumps(out),
        workflow=WORKFLOW_PATH,
    )


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
# Checks and builds the derivtex handouts on every push; keeps the PDFs as a workflow artifact.
name: derivtex
on:
  push:
  pull_request:
  workflow_dispatch:
env:
  # The pip requirement derivtex is installed from: a version ("derivtex==0.2.0"), a git URL
  # ("derivtex @ git+https://github.com/OWNER/derivtex@v0.2.0") or a wheel's URL.
  DERIVTEX: {source}
  SPECS: {specs}  # the folder of spec files (every *.toml in it), relative to the repository
  OUT: {out}  # the output folder: PDFs, .tex files and the .derivtex build stamps
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - uses: actions/cache@v4
        with:
          path: ~/.cache/pip
          key: derivtex-pip-${{{{ runner.os }}}}-${{{{ hashFiles('{workflow}') }}}}
          restore-keys: derivtex-pip-${{{{ runner.os }}}}-
      - uses: actions/cache@v4
        with:
          # The last build's output: its stamps let unchanged specs skip TeX.
          path: ${{{{ env.OUT }}}}
          key: derivtex-build-${{{{ runner.os }}}}-${{{{ github.sha }}}}
          restore-keys: derivtex-build-${{{{ runner.os }}}}-
      - name: Install TeX
        run: sudo apt-get update && sudo {install}
      - name: Install derivtex
        run: pip install "$DERIVTEX"
      - name: Check the specs
        run: derivtex check "$SPECS"
      - name: Build the PDFs
        run: derivtex build "$SPECS" -o "$OUT" --mode both
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: derivtex-pdfs
          path: ${{{{ env.OUT }}}}/*.pdf
"""
