"""Reading a TeX log: the first error with its file and line, warnings, overfull boxes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from derivtex.errors import TexError

MINOR = "minor: "  # prefix of warnings that rarely matter (underfull boxes)
# A fixed job name: the PDF /ID (when \pdftrailerid{} is absent) hashes the job name, and
# odd file names (spaces, non-ASCII) never reach TeX.
JOB = "document"
_LOG_TAIL = 10
_FILE_LINE = re.compile(r"^(?P<file>\S+?):(?P<line>\d+): (?P<msg>.*)$")
_CONTEXT_LINE = re.compile(r"^l\.(?P<line>\d+) ")
_CONSEQUENCES = ("Emergency stop.", "==> Fatal error occurred")
_WARNING_STARTS = ("Overfull \\hbox", "Overfull \\vbox", "Underfull \\hbox", "LaTeX Warning:")
_OVERFULL = re.compile(
    r"^Overfull \\[hv]box \((?P<points>[0-9.]+)pt too (?:wide|high)\)"
    r"(?: in paragraph at lines (?P<first>\d+)--\d+| detected at line (?P<at>\d+)"
    r"| has occurred while \\output is active)?"
)
_SECTION = re.compile(r"^\\section\*?\{(?P<title>.*)\}\s*$")


@dataclass(frozen=True, slots=True)
class Overfull:
    """A box TeX could not fit: how far it sticks out, the source line, the section it is in."""

    points: float
    line: int | None = None
    section: str | None = None

    def text(self) -> str:
        where = f" at line {self.line}" if self.line is not None else ""
        within = f" in section '{self.section}'" if self.section else ""
        return f"overfull box, {self.points:g}pt too wide{where}{within}"


def overfull_boxes(log: str, source: str = "") -> tuple[Overfull, ...]:
    """The overfull boxes a TeX log reports, each placed in the \\section of source it is in."""
    sections = _sections(source)
    found = []
    for line in log.splitlines():
        match = _OVERFULL.match(line)
        if match is None:
            continue
        at = match["first"] or match["at"]
        number = int(at) if at else None
        found.append(Overfull(float(match["points"]), number, _section_at(sections, number)))
    return tuple(found)


def _sections(source: str) -> tuple[tuple[int, str], ...]:
    lines = enumerate(source.splitlines(), start=1)
    found = ((n, _SECTION.match(text.strip())) for n, text in lines)
    return tuple((n, m["title"].replace("{-}", "-")) for n, m in found if m)


def _section_at(sections: Sequence[tuple[int, str]], line: int | None) -> str | None:
    if line is None:
        return None
    return next((title for start, title in reversed(sections) if start <= line), None)


@dataclass(frozen=True, slots=True)
class _Failure:
    """Where and why TeX stopped, as read from its log."""

    message: str
    file: str | None = None
    line: int | None = None


def read_text(path: Path) -> str:
    # TeX logs are bytes in whatever encoding the input had; never fail on decoding.
    return path.read_bytes().decode("utf-8", "replace") if path.is_file() else ""


def build_error(name: str, source: bytes, log: str) -> TexError:
    """A TexError naming file, line, TeX's message and the offending source line."""
    lines = log.splitlines()
    failure = _first_failure(lines)
    if failure is None:
        tail = "\n".join(lines[-_LOG_TAIL:])
        return TexError(f"{name}: TeX failed; the end of its log:\n{tail}")
    if failure.file not in (None, f"./{JOB}.tex", f"{JOB}.tex"):
        return TexError(f"{failure.file}:{failure.line}: {failure.message} (building {name})")
    where = name if failure.line is None else f"{name}:{failure.line}"
    snippet = _source_line(source, failure.line)
    return TexError(f"{where}: {failure.message}" + (f"\n    {snippet}" if snippet else ""))


def _first_failure(lines: Sequence[str]) -> _Failure | None:
    """The first real error in the log; 'Emergency stop' and 'Fatal error' only follow one."""
    for index, text in enumerate(lines):
        match = _FILE_LINE.match(text)
        if match and not match["msg"].strip().startswith(_CONSEQUENCES):
            return _Failure(match["msg"].strip(), match["file"], int(match["line"]))
        if text.startswith("! ") and not text[2:].strip().startswith(_CONSEQUENCES):
            return _locate(text[2:].strip(), lines[index + 1 :])
    return _end_of_input(lines)


def _locate(message: str, after: Sequence[str]) -> _Failure:
    """File and line of a '! message' error, from the next file:line: or l.N line after it."""
    for text in after:
        if match := _FILE_LINE.match(text):
            return _Failure(message, match["file"], int(match["line"]))
        if match := _CONTEXT_LINE.match(text):
            return _Failure(message, f"./{JOB}.tex", int(match["line"]))
    return _Failure(message)


def _end_of_input(lines: Sequence[str]) -> _Failure | None:
    # In nonstopmode TeX stops with a bare "Emergency stop." and a "<*>" context when the file
    # ends before \end{document}: it wanted to ask the terminal for more input.
    for index, text in enumerate(lines[:-1]):
        if text == "! Emergency stop." and lines[index + 1].startswith("<*>"):
            return _Failure("TeX reached the end of the file; is \\end{document} missing?")
    return None


def _source_line(source: bytes, line: int | None) -> str:
    text = source.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    return lines[line - 1].strip() if line is not None and 1 <= line <= len(lines) else ""


def log_warnings(log: str) -> tuple[str, ...]:
    """Overfull/underfull hbox and LaTeX warnings from the log; underfull ones marked MINOR."""
    found = (line for line in log.splitlines() if line.startswith(_WARNING_STARTS))
    return tuple(MINOR + line if line.startswith("Underfull") else line for line in found)
