"""Compile a .tex file to PDF with pdflatex (or latexmk): locked down, time-limited, atomic."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from derivtex.errors import DerivtexError, TexError, TexNotFoundError, TexTimeoutError
from derivtex.tex import preamble, prestart
from derivtex.tex.files import failed_pdf, write_bytes_atomic
from derivtex.tex.log import (
    JOB,
    MINOR,
    Overfull,
    build_error,
    log_warnings,
    overfull_boxes,
    read_text,
)
from derivtex.tex.process import run, terminate_raises, timeout_error
from derivtex.tex.sandbox import check_no_file_reads, confine, sandbox_available, tex_env

__all__ = [
    "INSTALL_COMMAND",
    "MINOR",
    "CompileResult",
    "Overfull",
    "check_no_file_reads",
    "StrictError",
    "compile_pdf",
    "failed_pdf",
    "overfull_boxes",
    "sandbox_available",
    "tex_available",
]

INSTALL_COMMAND = (
    "apt-get install -y --no-install-recommends texlive-latex-base texlive-latex-recommended "
    "texlive-fonts-recommended texlive-pictures lmodern latexmk poppler-utils bubblewrap"
)

_TEX_TOOLS = ("latexmk", "pdflatex")
_ENGINES = ("pdflatex", "latexmk")
_MAX_PASSES = 3
# Log lines that mean the next pdflatex pass would typeset differently (references, labels).
_PAGE_PNG = r"-(\d+)\.png"
# What typesets from the .aux of the pass before: without it, "Label(s) may have changed" alone
# asks for a pass that would print the same pages (derive's equations are labelled, few cited).
_READS_AUX = re.compile(
    rb"\\(?:eq|page|auto|name|c|C)?ref\b|\\tableofcontents|\\listof|\\cite|\\lastpage"
)
_COMMENT = re.compile(rb"(?<!\\)%[^\n]*")
_ASKS = re.compile(r"Rerun to get (?!cross-references right)|There were undefined references")
_RERUN = re.compile(r"Rerun to get|Label\(s\) may have changed|There were undefined references")
_LATEXMK_ARGS = (
    "-norc",  # Debian's /etc/LatexMk sets $pdf_mode = 4 (lualatex); a user's rc could do anything
    "-pdf",
    "-interaction=nonstopmode",
    "-halt-on-error",
    "-file-line-error",
    "-no-shell-escape",
)
# One direct pdflatex pass: the same switches latexmk passes on, without its rc files or rules.
_PDFLATEX_ARGS = prestart.ARGS


@dataclass(frozen=True, slots=True)
class CompileResult:
    """A finished build: the PDF, TeX warnings worth showing, and page images if asked for."""

    pdf: Path
    warnings: tuple[str, ...]
    pngs: tuple[Path, ...] = ()
    passes: int = 1  # pdflatex runs (engine="pdflatex"); latexmk counts as one
    overfull: tuple[Overfull, ...] = ()  # the boxes that stick out, as read from the log


class StrictError(TexError):
    """--strict rejected a PDF for its overfull boxes or TeX warnings; it is kept for a look.

    `result` is the rejected build (its pdf is `failed_pdf(dest)`); the last good PDF stays.
    """

    def __init__(self, result: CompileResult, dest: Path) -> None:
        self.result, self.dest = result, dest
        problems = [box.text() for box in result.overfull] + list(strict_warnings(result))
        super().__init__(
            f"{dest.name}: {len(problems)} TeX problem{'s' * (len(problems) != 1)} (--strict):\n"
            + "\n".join(f"  {line}" for line in problems),
            hint=f"the rejected PDF is {result.pdf} (the last good {dest.name} is kept);"
            " drop --strict to accept it",
        )


def strict_warnings(result: CompileResult) -> tuple[str, ...]:
    """The warnings --strict fails on besides overfull boxes (underfull ones are minor)."""
    return tuple(w for w in result.warnings if not w.startswith((MINOR, "Overfull")))


def tex_available(engine: str = "pdflatex") -> bool:
    """True when the tools engine needs are on PATH: pdflatex, and latexmk for "latexmk"."""
    return all(shutil.which(tool) for tool in _tools(engine))


def _tools(engine: str) -> tuple[str, ...]:
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {', '.join(_ENGINES)}, not {engine!r}")
    return _TEX_TOOLS if engine == "latexmk" else ("pdflatex",)


def compile_pdf(
    tex_path: Path | str,
    *,
    output: Path | str | None = None,
    timeout: float = 60.0,
    png: bool = False,
    engine: str = "pdflatex",
    strict: bool = False,
) -> CompileResult:
    """Build tex_path into output (default: beside it, .pdf); on failure the old PDF stays.

    engine="pdflatex" (the default) runs pdflatex once, and again (at most 3 passes in all) only
    when the log asks for it; engine="latexmk" leaves the passes to latexmk. timeout bounds the
    whole build. strict=True rejects a PDF with an overfull box or a TeX warning: it goes to
    failed_pdf(output) instead, the old PDF stays, and StrictError says why. TeX runs in a
    bubblewrap sandbox when one works here; without one, .tex that reads files by means
    openin_any=p does not police is refused (check_no_file_reads).
    """
    tex = Path(tex_path)
    dest = Path(output) if output is not None else tex.with_suffix(".pdf")
    tools = _tools(engine)
    found = _require(*tools, *(("pdftoppm",) if png else ()))
    source = _read_source(tex)
    boxed = sandbox_available()
    if not boxed:
        check_no_file_reads(source.decode("utf-8", "replace"), name=tex.name)
    cut = preamble.split(source) if engine == "pdflatex" and preamble.enabled() else None
    key = cut.key(found[0], tex_env()["SOURCE_DATE_EPOCH"]) if cut is not None else None
    waiting = prestart.claim(key, found[0], boxed)  # a TeX started early on key's format
    with terminate_raises(), prestart.folder(waiting) as work:
        job = _Job(tex.name, work, boxed, timeout)
        if engine == "latexmk":
            (job.work / f"{JOB}.tex").write_bytes(source)
            log, passes = job.passes((found[0], *_LATEXMK_ARGS, f"{JOB}.tex"), source, rerun=False)
        else:
            log, passes = _pdflatex(job, found[0], source, cut, key, waiting)
        overfull = overfull_boxes(log, source.decode("utf-8", "replace"))
        warnings = log_warnings(log)
        if not _reads_aux(source):  # labels nothing cites: their moving changes no page
            warnings = tuple(w for w in warnings if "Label(s) may have changed" not in w)
        result = CompileResult(dest, warnings, (), passes, overfull)
        if strict and (overfull or strict_warnings(result)):
            _install(job.work / f"{JOB}.pdf", failed_pdf(dest))
            raise StrictError(replace(result, pdf=failed_pdf(dest)), dest)
        _install(job.work / f"{JOB}.pdf", dest)
    failed_pdf(dest).unlink(missing_ok=True)  # superseded by a PDF that was accepted
    pngs = _render_pngs(dest, timeout) if png else ()
    return CompileResult(dest, result.warnings, pngs, passes, overfull)


def _pdflatex(
    job: _Job,
    pdflatex: str,
    source: bytes,
    cut: preamble.Split | None,
    key: str | None,
    waiting: prestart.Waiting | None,
) -> tuple[str, int]:
    """pdflatex passes on source, from the cached preamble format where one can be had.

    The first pass is the waiting TeX's, when compile_pdf claimed one (it has cut's format). A
    build that fails on the format runs again without it, so errors read as they always do.
    """
    command = (pdflatex, *_PDFLATEX_ARGS, "-output-directory=.")
    if cut is not None and key is not None and (waiting or _format(job, pdflatex, cut, key)):
        (job.work / f"{JOB}.tex").write_bytes(cut.body)
        try:
            fmt = prestart.format_pass(pdflatex, f"{JOB}.tex")
            return job.passes(fmt, source, first=waiting)
        except TexTimeoutError:
            raise
        except TexError:
            for stale in job.work.glob(f"{JOB}.*"):
                stale.unlink()
    (job.work / f"{JOB}.tex").write_bytes(source)
    return job.passes((*command, f"{JOB}.tex"), source)


def _format(job: _Job, pdflatex: str, cut: preamble.Split, key: str) -> bool:
    """NAME.fmt in the job's folder, from the cache or dumped now (and cached); False if neither."""
    cache = preamble.cached(key)
    if cache is None or preamble.failed(cache):
        return False
    if preamble.fetch(cache, job.work):
        preamble.remember(cache)
        return True
    (job.work / f"{preamble.NAME}.tex").write_bytes(preamble.ini_source(cut.head))
    ini = (pdflatex, "-ini", f"-jobname={preamble.NAME}", *_PDFLATEX_ARGS[:3], "&pdflatex")
    status, _ = job.run((*ini, f"{preamble.NAME}.tex"))
    built = job.work / f"{preamble.NAME}.fmt"
    if status != 0 or not built.is_file():
        return preamble.failed(cache, mark=True) and False
    preamble.store(built, cache)
    preamble.remember(cache)
    return True


class _Job:
    """One build folder: TeX commands run in it, sandboxed when they can be, within one timeout."""

    def __init__(self, name: str, work: Path, boxed: bool, timeout: float) -> None:
        self.name, self.work, self.boxed, self.timeout = name, work, boxed, timeout
        self.started = time.monotonic()

    def run(
        self, command: tuple[str, ...], waiting: prestart.Waiting | None = None
    ) -> tuple[int, str]:
        """(status, output) of command (the waiting TeX's pass where one is given and still
        there); TexTimeoutError once the whole build's time is up."""
        command, env = confine(command, self.work, self.boxed)
        what = f"TeX on {self.name}"
        remaining = self.timeout - (time.monotonic() - self.started)
        try:
            if remaining <= 0:
                raise subprocess.TimeoutExpired(command, self.timeout)
            done = waiting.go(remaining, what) if waiting is not None else None
            if done is not None:
                return done
            return run(
                command,
                cwd=self.work,
                timeout=remaining,
                what=what,
                env=env,
                die_with_parent=not self.boxed,
                raw_timeout=True,
            )
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - self.started
            raise timeout_error(what, elapsed, self.timeout) from None

    def passes(
        self,
        command: tuple[str, ...],
        source: bytes,
        *,
        rerun: bool = True,
        first: prestart.Waiting | None = None,
    ) -> tuple[str, int]:
        """(log, passes): command once, and again while the log asks for it (when rerun); the
        first pass is the waiting TeX's where one is given."""
        passes, aux = 0, b""
        while True:
            passes += 1
            status, out = self.run(command, first if passes == 1 else None)
            log = read_text(self.work / f"{JOB}.log")
            if status != 0 or not (self.work / f"{JOB}.pdf").is_file():
                raise build_error(self.name, source, log or out)
            previous, aux = aux, _read_bytes(self.work / f"{JOB}.aux")
            if not rerun or not _wants_rerun(log, aux, previous, passes, source):
                return log, passes


def _wants_rerun(log: str, aux: bytes, previous: bytes, passes: int, source: bytes) -> bool:
    """Another pdflatex pass: the log asks for one, the .aux moved since the last, and passes < 3.

    An undefined \\ref stays undefined however often TeX runs; when the .aux did not change,
    another pass would typeset the same, so it is skipped.
    """
    if passes >= _MAX_PASSES or not _RERUN.search(log):
        return False
    if not _reads_aux(source) and not _ASKS.search(log):
        return False  # labels were written, but nothing reads them back: the same pages again
    return passes == 1 or aux != previous


def _reads_aux(source: bytes) -> bool:
    """Whether the document typesets anything from the .aux (comments aside)."""
    return _READS_AUX.search(_COMMENT.sub(b"", source)) is not None


def _read_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""


def _require(*tools: str) -> tuple[str, ...]:
    """Full paths of tools, or TexNotFoundError naming the missing ones and how to install them."""
    found = {tool: shutil.which(tool) for tool in tools}
    missing = tuple(tool for tool, path in found.items() if path is None)
    if missing:
        raise TexNotFoundError(
            f"{', '.join(missing)} not found on PATH; building PDFs needs TeX and poppler",
            hint=f"on Debian/Ubuntu: {INSTALL_COMMAND}",
        )
    return tuple(str(found[tool]) for tool in tools)


def _read_source(tex: Path) -> bytes:
    try:
        return tex.read_bytes()
    except OSError as exc:
        raise DerivtexError(f"cannot read {tex}: {exc.strerror}") from None


def _install(built: Path, dest: Path) -> None:
    """Copy built next to dest under a temporary name, then rename: no one sees half a file."""
    write_bytes_atomic(dest, built.read_bytes())


def _render_pngs(pdf: Path, timeout: float) -> tuple[Path, ...]:
    """Render each page to <stem>-<page>.png beside pdf; drop page images of an older build."""
    pdftoppm = _require("pdftoppm")[0]
    with tempfile.TemporaryDirectory(prefix="derivtex-png-") as tmp:
        command = (pdftoppm, "-png", "-r", "100", str(pdf.resolve()), pdf.stem)
        status, out = run(command, cwd=Path(tmp), timeout=timeout, what=f"pdftoppm on {pdf.name}")
        if status != 0:
            raise TexError(f"pdftoppm could not render {pdf}:\n{out.strip()}")
        pages = _page_images(Path(tmp), pdf.stem)
        for stale in _page_images(pdf.parent, pdf.stem):
            stale.unlink(missing_ok=True)
        for page in pages:
            _install(page, pdf.parent / page.name)
    return tuple(pdf.parent / page.name for page in pages)


def _page_images(folder: Path, stem: str) -> tuple[Path, ...]:
    """<stem>-<n>.png files in folder, in page order (pdftoppm pads n to equal width)."""
    pattern = re.compile(re.escape(stem) + _PAGE_PNG)  # not glob: the stem may contain [ or *
    numbered = ((pattern.fullmatch(path.name), path) for path in folder.iterdir())
    return tuple(path for _, path in sorted((int(m[1]), path) for m, path in numbered if m))
