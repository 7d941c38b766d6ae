"""What became of each spec file, and how it is reported: lines, a progress bar, annotations."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from derivtex.errors import DerivtexError, InputError, SpecError
from derivtex.project.spec import DerivationSpec, Spec
from derivtex.tex.files import failed_pdf

if TYPE_CHECKING:
    from derivtex.tex.runner import Overfull

COLOURS = {
    "built": "green",
    "written": "green",
    "checked": "green",
    "unchanged": None,
    "removed": "yellow",  # the outputs of a spec file that is gone
    "failed": "red",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a spec: where, a one-line summary and indented detail lines."""

    path: str
    line: int | None
    summary: str
    details: tuple[str, ...] = ()
    level: str = "error"  # or "warning": reported, but the spec still builds
    code: int = 1  # the exit code it calls for: 2 for bad input, 1 for a failure of the build

    def text(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        prefix = "warning: " if self.level == "warning" else ""
        return "\n".join((f"{where}: {prefix}{self.summary}", *self.details))

    def annotation(self) -> str:
        """The GitHub Actions workflow command that marks this problem on the file's line."""
        where = f"file={_escape(self.path, True)}"
        where += f",line={self.line}" if self.line else ""
        return f"::{self.level} {where}::{_escape(self.summary)}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one spec file."""

    path: Path
    status: str  # built, written (--tex-only), unchanged, checked, removed or failed
    outputs: tuple[Path, ...] = ()
    seconds: float = 0.0
    problems: tuple[Problem, ...] = ()
    code: int = 0  # the exit code it asks for: 1 a derivation or TeX failed, 2 a malformed spec


# --- problems ---


def error_lines(exc: DerivtexError) -> tuple[str, tuple[str, ...]]:
    """An error's first line, and the rest of it (caret lines, hint) as indented lines."""
    first, *more = exc.message.splitlines() or [""]
    # str() of an InputError adds the source line and caret after the message; keep them.
    rest = str(exc).removeprefix("error: " if isinstance(exc, InputError) else "")
    rest = rest.removeprefix(exc.message)
    return first, tuple(f"  {line}" for line in (*more, *rest.splitlines()) if line.strip())


def derivation_problem(
    spec: Spec,
    dspec: DerivationSpec,
    summary: str,
    details: tuple[str, ...],
    key: str = "given",
    code: int = 1,
) -> Problem:
    """A failed derivation, at the line of the key at fault (its given, its title or intro)."""
    text = f"derivation '{dspec.name}': {summary}"
    return Problem(str(spec.path), dspec.line_of(key), text, details, code=code)


def failure_code(problems: Iterable[Problem]) -> int:
    """2 when every problem is bad input (a spec to fix), else 1 (a build that failed)."""
    return 2 if all(p.code == 2 for p in problems) else 1


def spec_failure(path: Path, exc: OSError | SpecError) -> Outcome:
    if isinstance(exc, OSError):
        problem = Problem(str(path), None, f"cannot read the spec file: {exc.strerror or exc}")
        return Outcome(path, "failed", problems=(problem,), code=2)
    line = exc.line if isinstance(exc, SpecError) else None
    summary, details = error_lines(exc)
    prefix = f"{path}:{line}: " if line else f"{path}: "
    problem = Problem(str(path), line, summary.removeprefix(prefix), details)
    return Outcome(path, "failed", problems=(problem,), code=exc.exit_code)


def warning_problem(spec_path: Path, pdf: Path, warning: str) -> Problem:
    return Problem(str(spec_path), None, f"{pdf.name}: TeX warning (--strict): {warning}")


def overfull_problem(spec_path: Path, pdf: Path, box: Overfull, strict: bool) -> Problem:
    """An overfull box: a warning, or with --strict an error (the PDF is kept as .failed.pdf)."""
    if not strict:
        return Problem(str(spec_path), None, f"{pdf.name}: {box.text()}", level="warning")
    kept = failed_pdf(pdf).name
    return Problem(str(spec_path), None, f"{pdf.name}: {box.text()} (--strict; see {kept})")


def is_failure(problems: Iterable[Problem]) -> bool:
    return any(problem.level == "error" for problem in problems)


def _escape(text: str, is_property: bool = False) -> str:
    """Escape text for a GitHub Actions workflow command (as @actions/core does)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if is_property else text


# --- reporting ---


def report(outcomes: Iterable[Outcome], total: int, label: str, counted: Sequence[str]) -> int:
    """Print a line per spec (or a progress bar on a terminal), then the counts; the exit code."""
    counts: Counter[str] = Counter()
    code = 0
    for outcome in _progress(outcomes, total, label):
        counts[outcome.status] += 1
        code = max(code, outcome.code)
        _echo(outcome)
    extra = [status for status in counts if status not in counted]  # "removed", when any
    click.echo(", ".join(f"{counts[status]} {status}" for status in (*counted, *extra)))
    return code


def _progress(outcomes: Iterable[Outcome], total: int, label: str) -> Iterable[Outcome]:
    if not sys.stdout.isatty():
        return outcomes
    # On a terminal, a bar while the work runs; the lines follow when it is done.
    with click.progressbar(outcomes, length=total, label=label, color=_colour()) as bar:
        return list(bar)


def _echo(outcome: Outcome) -> None:
    click.echo(f"{style(outcome.status)} {_what(outcome)}")
    for problem in outcome.problems:
        click.echo(problem.text(), err=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for problem in outcome.problems:
            click.echo(problem.annotation())


def _what(outcome: Outcome) -> str:
    if outcome.status in ("built", "written"):
        return f"{', '.join(p.name for p in outcome.outputs)} ({outcome.seconds:.1f} s)"
    if outcome.status == "unchanged":
        return outcome.path.stem
    if outcome.status == "removed":
        files = ", ".join(p.name for p in outcome.outputs) or "nothing"
        return f"{files} ({outcome.path} is gone)"
    return str(outcome.path)


def style(status: str) -> str:
    word = "FAILED" if status == "failed" else status
    return click.style(word, fg=COLOURS[status], bold=status == "failed") if _colour() else word


def _colour() -> bool:
    return not os.environ.get("NO_COLOR")  # https://no-color.org: set and not empty means no
