"""derivtex init: a starter spec, a project config and a GitHub Actions workflow that builds it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from derivtex import __version__
from derivtex.errors import DerivtexError
from derivtex.project.config import CONFIG_NAME
from derivtex.tex.runner import INSTALL_COMMAND

DEFAULT_SOURCE = f"derivtex=={__version__}"  # the derivtex that wrote the workflow
WORKFLOW_PATH = ".github/workflows/derivtex.yml"
SPEC_NAME, REQUIREMENTS_NAME, OUTPUT = "derivations.toml", "requirements.txt", "build"
# The current major versions; bump them together with the tests that pin them.
ACTIONS = {
    "checkout": "actions/checkout@v5",
    "setup-python": "actions/setup-python@v6",
    "cache": "actions/cache@v5",
    "upload-artifact": "actions/upload-artifact@v6",
    "upload-pages-artifact": "actions/upload-pages-artifact@v4",
    "deploy-pages": "actions/deploy-pages@v4",
}


@dataclass(frozen=True, slots=True)
class Project:
    """What init wrote, and what to tell the user."""

    files: tuple[Path, ...]
    root: Path | None  # the git repository's top folder; None: not in one
    directory: Path


def init_project(
    directory: Path, *, source: str = DEFAULT_SOURCE, pages: bool = False, force: bool = False
) -> Project:
    """Write a starter spec, derivtex.toml and requirements.txt into `directory`, and the workflow.

    The workflow goes into .github/workflows of the git repository that holds `directory`
    (GitHub reads workflows only there), else of `directory` itself. It installs derivtex from
    requirements.txt, which holds `source` (any pip requirement: a version, a git URL). Nothing
    is written if any file exists, unless `force`.
    """
    _check_source(source)
    directory = Path(directory)
    root = git_root(directory)
    files = {
        directory / SPEC_NAME: STARTER_SPEC,
        directory / CONFIG_NAME: STARTER_CONFIG,
        directory / REQUIREMENTS_NAME: REQUIREMENTS.format(source=source),
        (root or directory) / WORKFLOW_PATH: workflow_text(
            _relative(directory, root or directory), pages=pages
        ),
    }
    existing = [str(path) for path in files if path.exists()]
    if existing and not force:
        raise DerivtexError(
            f"refusing to overwrite {', '.join(existing)}",
            hint="pass --force to replace them (all of them), or start the project in a folder"
            " of its own: derivtex init handouts/",
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        # "x" unless forced: a file made meanwhile survives.
        with path.open("w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    return Project(tuple(files), root, directory)


def _check_source(source: str) -> None:
    if not source.strip() or "\n" in source or source.lstrip().startswith("-"):
        raise DerivtexError(
            f"--source {source!r} is not a pip requirement",
            hint=f'e.g. "{DEFAULT_SOURCE}" or "derivtex @ git+https://github.com/OWNER/derivtex"',
        )


def git_root(directory: Path) -> Path | None:
    """The top folder of the git repository that holds directory (made or not yet), or None."""
    here = Path(directory).absolute()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():  # a folder, or a file in a worktree or submodule
            return folder if Path(directory).is_absolute() else Path(os.path.relpath(folder))
    return None


def _relative(directory: Path, root: Path) -> str:
    """directory as a POSIX path relative to root: where the workflow's commands run."""
    return Path(os.path.relpath(Path(directory).absolute(), Path(root).absolute())).as_posix()


def workflow_text(folder: str, *, pages: bool = False) -> str:
    """The workflow: install TeX and derivtex, check and build the project in `folder`."""
    inside = "" if folder == "." else f"{folder}/"
    values = {
        "version": __version__,
        "working_directory": WORKING_DIRECTORY.format(folder=_quoted(folder)) if inside else "",
        "requirements": _quoted(f"{inside}{REQUIREMENTS_NAME}"),
        "tex_key": hashlib.sha256(INSTALL_COMMAND.encode()).hexdigest()[:16],
        "install_tex": INSTALL_COMMAND.replace(
            "apt-get install", 'apt-get install -o Dir::Cache::Archives="$HOME/.cache/derivtex-apt"'
        ),
        "output": _quoted(f"{inside}{OUTPUT}"),
        "output_here": OUTPUT,
        "pdfs": _quoted(f"{inside}{OUTPUT}/*.pdf"),
        "site": _quoted(f"{inside}_site"),
        **{key.replace("-", "_"): value for key, value in ACTIONS.items()},
    }
    text = WORKFLOW + (PAGES_STEPS + PAGES_JOB if pages else "")
    if pages:
        text = text.replace("permissions:\n  contents: read\n", PAGES_PERMISSIONS)
    return _fill(text, values)


def _quoted(text: str) -> str:
    """A YAML single-quoted scalar: nothing in it is special but the quote itself."""
    return "'" + text.replace("'", "''") + "'"


def _fill(template: str, values: dict[str, str]) -> str:
    """Replace each <<name>>: the workflow's own ${{ }} and $VARS stay as they are."""
    for key, value in values.items():
        template = template.replace(f"<<{key}>>", value)
    assert "<<" not in template, template
    return template


REQUIREMENTS = """\
# What the derivtex workflow installs (pip install -r requirements.txt): the derivtex that wrote
# it. Point it elsewhere if you like, e.g. derivtex @ git+https://github.com/OWNER/derivtex@v0.2.0
{source}
"""

STARTER_CONFIG = f"""\
# derivtex's settings for this folder and all below it; command-line flags win over them.
specs = ["{SPEC_NAME}"]  # spec files or folders of them, relative to this file
output = "{OUTPUT}"      # the PDFs, .tex files and build stamps (the workflow caches this folder)
mode = "both"            # "solutions", "exercises" or "both"
# strict = true          # fail on TeX warnings (the workflow passes --strict)
# jobs = 2               # parallel builds (default: the number of cores)
# templates = "templates"  # your templates; derivtex templates export templates/ writes them

[defaults]               # under each spec's own [defaults]
layout = "numerator"     # or "denominator"
vectors = "arrow"        # or "bold"
"""

STARTER_SPEC = """\
# A derivtex spec: one handout, with a worked derivation for each [[derivation]] table.
#   derivtex check      # plan and verify every spec of derivtex.toml, no TeX needed
#   derivtex build      # build/derivations.pdf and build/derivations-exercises.pdf
title = "Matrix derivatives, step by step"
author = "Your name"
intro = "Each section works out one derivative component by component."

[defaults]
shapes = { W = "C x D", x = "D" }  # merged into every derivation's own shapes

[givens]  # texts that several derivations share, by name
loss = "L = norm(W x - t)^2"

[[derivation]]
name = "linear-map"
title = "A matrix times a vector"
given = "y = W x"
wrt = "x"
example = { y = 3, x = 7 }  # the components worked out by hand

[[derivation]]
name = "squared-loss"
title = "A squared loss"
given = "loss"
shapes = { t = "C" }
wrt = ["W", "x"]  # one section for each
# steps = ["sum_expansion", "term_partial"]  # keep only these of the optional steps
"""

WORKING_DIRECTORY = """\
    defaults:
      run:
        working-directory: {folder}
"""

WORKFLOW = """\
# Written by derivtex <<version>> (derivtex init): checks the specs and builds the handouts on
# every push, keeps the PDFs as an artifact. Edit freely; derivtex init --force rewrites it.
name: derivtex
on:
  push:
  pull_request:
  workflow_dispatch:
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
<<working_directory>>    steps:
      - uses: <<checkout>>
      - uses: <<setup_python>>
        with:
          python-version: "3.12"
          cache: pip
          cache-dependency-path: <<requirements>>
      - name: Restore the TeX packages
        uses: <<cache>>
        with:
          path: ~/.cache/derivtex-apt
          key: derivtex-tex-${{ runner.os }}-<<tex_key>>
      - name: Install TeX
        run: |
          mkdir -p ~/.cache/derivtex-apt/partial
          sudo apt-get update -qq
          sudo <<install_tex>>
          sudo chown -R "$(id -u)" ~/.cache/derivtex-apt
      - name: Install derivtex
        run: pip install -r requirements.txt
      - name: Check the specs
        run: derivtex check
      - name: Restore the last build (its stamps let unchanged specs skip TeX)
        uses: <<cache>>
        with:
          path: <<output>>
          key: derivtex-build-${{ runner.os }}-${{ github.sha }}
          restore-keys: derivtex-build-${{ runner.os }}-
      - name: Build the PDFs
        run: derivtex build --strict
      - uses: <<upload_artifact>>
        if: success() || failure()
        with:
          name: handouts
          path: <<pdfs>>
          if-no-files-found: warn
"""

PAGES_PERMISSIONS = """\
permissions:
  contents: read
  pages: write
  id-token: write
concurrency:
  group: pages
  cancel-in-progress: false
"""

PAGES_STEPS = """\
      - name: Make the site
        run: |
          mkdir -p _site
          cp <<output_here>>/*.pdf _site/
          {
            echo '<!doctype html><meta charset="utf-8"><title>Handouts</title><ul>'
            for pdf in _site/*.pdf; do
              name=$(basename "$pdf")
              echo "<li><a href=\\"$name\\">$name</a></li>"
            done
            echo '</ul>'
          } > _site/index.html
      - uses: <<upload_pages_artifact>>
        with:
          path: <<site>>
"""

PAGES_JOB = """\
  deploy:
    if: github.ref == format('refs/heads/{0}', github.event.repository.default_branch)
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{ steps.deployment.outputs.page_url }}
    steps:
      - id: deployment
        uses: <<deploy_pages>>
"""
