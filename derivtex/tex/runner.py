"""Compile a .tex file to PDF with pdflatex (or latexmk): locked down, time-limited, atomic."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from derivtex.errors import DerivtexError, TexError, TexNotFoundError, TexTimeoutError
from derivtex.tex.files import write_bytes_atomic

INSTALL_COMMAND = (
    "apt-get install -y --no-install-recommends texlive-latex-base texlive-latex-recommended "
    "texlive-fonts-recommended texlive-pictures lmodern latexmk poppler-utils bubblewrap"
)
MINOR = "minor: "  # prefix of warnings that rarely matter (underfull boxes)

_TEX_TOOLS = ("latexmk", "pdflatex")
_ENGINES = ("pdflatex", "latexmk")
_MAX_PASSES = 3
# Log lines that mean the next pdflatex pass would typeset differently (references, labels).
_RERUN = re.compile(r"Rerun to get|Label\(s\) may have changed|There were undefined references")
# A fixed job name: the PDF /ID (when \pdftrailerid{} is absent) hashes the job name, and
# odd file names (spaces, non-ASCII) never reach TeX.
_JOB = "document"
_LATEXMK_ARGS = (
    "-norc",  # Debian's /etc/LatexMk sets $pdf_mode = 4 (lualatex); a user's rc could do anything
    "-pdf",
    "-interaction=nonstopmode",
    "-halt-on-error",
    "-file-line-error",
    "-no-shell-escape",
)
# One direct pdflatex pass: the same switches latexmk passes on, without its rc files or rules.
_PDFLATEX_ARGS = (
    "-interaction=nonstopmode",
    "-halt-on-error",
    "-no-shell-escape",
    "-file-line-error",
)
# A caller's TEXINPUTS could shadow standard packages and TEXMFOUTPUT widens what openin_any=p
# lets TeX read. latexmk (4.79) itself sets TEXMFOUTPUT=. and prepends . to TEXINPUTS; dropping
# the caller's values keeps that true whatever latexmk does.
_DROPPED_ENV = ("TEXINPUTS", "TEXMFOUTPUT", "TEXMF_OUTPUT_DIRECTORY")
_LOCKED_ENV = {
    "openin_any": "p",  # no absolute paths, no .., no dot files
    "openout_any": "p",
    "shell_escape": "f",
    "FORCE_SOURCE_DATE": "1",  # \today and file dates follow SOURCE_DATE_EPOCH too
    "max_print_line": "10000",  # one log line per message, so the parsers below see it whole
}
_DEFAULT_EPOCH = "0"
# The sandbox. openin_any=p stops \input and \openin at absolute paths, but pdfTeX's own file
# primitives (\pdfobj file, \pdfximage, \pdffiledump, ...) ignore it and would embed any file
# the user can read. So latexmk runs inside bubblewrap: it needs no root (unprivileged user
# namespaces), kills everything inside when derivtex dies (--die-with-parent plus a PID
# namespace), and is one Debian package (bubblewrap) that Flatpak relies on. Inside, only the
# system tree (/usr, TeX's config and font caches) is visible, read-only, and the build folder
# read-write; no network, no other files, a cleared environment.
_BWRAP = "bwrap"
_RO_BINDS = ("/usr", "/etc/texmf", "/var/lib/texmf", "/etc/alternatives")
_ROOT_LINKS = ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")  # usr-merged symlinks
_SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_SANDBOX_KEEP_ENV = ("TEXMFHOME", "TEXMFVAR", "TEXMFCONFIG", "LANG", "LC_ALL")
# Without the sandbox, .tex that reads files by means openin_any=p does not police is refused.
_FILE_READS = (
    (
        re.compile(r"\\pdf(obj|ximage|refximage|filedump|filemoddate|filesize|mdfivesum)\b"),
        "a pdfTeX primitive that reads files",
    ),
    (re.compile(r"\\(openin|readline|read)\b"), "\\openin/\\read"),
    (re.compile(r"\^\^"), "a ^^ character escape"),
    (
        re.compile(
            r"\\(input|include|InputIfFileExists|IfFileExists|includegraphics|"
            r"lstinputlisting|verbatiminput)\b\s*(\[[^\]]*\]\s*)?\{?\s*(/|~|[^}\s]*\.\.)"
        ),
        "an input of an absolute or .. path",
    ),
)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LOG_TAIL = 10
_FILE_LINE = re.compile(r"^(?P<file>\S+?):(?P<line>\d+): (?P<msg>.*)$")
_CONTEXT_LINE = re.compile(r"^l\.(?P<line>\d+) ")
_CONSEQUENCES = ("Emergency stop.", "==> Fatal error occurred")
_WARNING_STARTS = ("Overfull \\hbox", "Overfull \\vbox", "Underfull \\hbox", "LaTeX Warning:")
_PAGE_PNG = r"-(\d+)\.png"
_OVERFULL = re.compile(
    r"^Overfull \\[hv]box \((?P<points>[0-9.]+)pt too (?:wide|high)\)"
    r"(?: in paragraph at lines (?P<first>\d+)--\d+| detected at line (?P<at>\d+)"
    r"| has occurred while \\output is active)?"
)
_SECTION = re.compile(r"^\\section\*?\{(?P<title>.*)\}\s*$")


@dataclass(frozen=True, slots=True)
class CompileResult:
    """A finished build: the PDF, TeX warnings worth showing, and page images if asked for."""

    pdf: Path
    warnings: tuple[str, ...]
    pngs: tuple[Path, ...] = ()
    passes: int = 1  # pdflatex runs (engine="pdflatex"); latexmk counts as one
    overfull: tuple[Overfull, ...] = ()  # the boxes that stick out, as read from the log


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
) -> CompileResult:
    """Build tex_path into output (default: beside it, .pdf); on failure the old PDF stays.

    engine="pdflatex" (the default) runs pdflatex once, and again (at most 3 passes in all) only
    when the log asks for it; engine="latexmk" leaves the passes to latexmk. timeout bounds the
    whole build. TeX runs in a bubblewrap sandbox when one works here; without one, .tex that
    reads files by means openin_any=p does not police is refused (check_no_file_reads).
    """
    tex = Path(tex_path)
    dest = Path(output) if output is not None else tex.with_suffix(".pdf")
    tools = _tools(engine)
    found = _require(*tools, *(("pdftoppm",) if png else ()))
    source = _read_source(tex)
    sandboxed = sandbox_available()
    if not sandboxed:
        check_no_file_reads(source.decode("utf-8", "replace"), name=tex.name)
    with _terminate_raises(), tempfile.TemporaryDirectory(prefix="derivtex-tex-") as tmp:
        work = Path(tmp).resolve()
        (work / f"{_JOB}.tex").write_bytes(source)
        command: tuple[str, ...]
        if engine == "latexmk":
            command = (found[0], *_LATEXMK_ARGS, f"{_JOB}.tex")
        else:
            command = (found[0], *_PDFLATEX_ARGS, "-output-directory=.", f"{_JOB}.tex")
        env = _tex_env()
        if sandboxed:
            command, env = _sandboxed(command, env, work)
        started = time.monotonic()
        passes, aux = 0, b""
        while True:
            passes += 1
            remaining = timeout - (time.monotonic() - started)
            try:
                if remaining <= 0:
                    raise subprocess.TimeoutExpired(command, timeout)
                status, out = _run(
                    command,
                    cwd=work,
                    timeout=remaining,
                    what=f"TeX on {tex.name}",
                    env=env,
                    die_with_parent=not sandboxed,
                    raw_timeout=True,
                )
            except subprocess.TimeoutExpired:
                raise _timeout_error(
                    f"TeX on {tex.name}", time.monotonic() - started, timeout
                ) from None
            log = _read_text(work / f"{_JOB}.log")
            built = work / f"{_JOB}.pdf"
            if status != 0 or not built.is_file():
                raise _build_error(tex.name, source, log or out)
            previous, aux = aux, _read_bytes(work / f"{_JOB}.aux")
            if engine == "latexmk" or not _wants_rerun(log, aux, previous, passes):
                break
        _install(built, dest)
    pngs = _render_pngs(dest, timeout) if png else ()
    overfull = overfull_boxes(log, source.decode("utf-8", "replace"))
    return CompileResult(dest, _warnings(log), pngs, passes, overfull)


def _wants_rerun(log: str, aux: bytes, previous: bytes, passes: int) -> bool:
    """Another pdflatex pass: the log asks for one, the .aux moved since the last, and passes < 3.

    An undefined \\ref stays undefined however often TeX runs; when the .aux did not change,
    another pass would typeset the same, so it is skipped.
    """
    if passes >= _MAX_PASSES or not _RERUN.search(log):
        return False
    return passes == 1 or aux != previous


def _read_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""


def check_no_file_reads(tex_text: str, *, name: str = "document") -> None:
    """TexError if tex_text reads files by means that openin_any=p does not stop.

    The fallback when no sandbox runs TeX: a textual check, so it refuses some harmless documents
    (any \\pdfobj, any ^^ escape) and cannot see through macros that build control sequence
    names (\\csname); the sandbox is the real protection.
    """
    for pattern, what in _FILE_READS:
        match = pattern.search(tex_text)
        if match:
            line = tex_text.count("\n", 0, match.start()) + 1
            raise TexError(
                f"{name}:{line}: refusing to run TeX on {what} ({match[0].strip()!r}):"
                " no sandbox is available to stop it reading files outside the build folder",
                hint="install bubblewrap (apt-get install bubblewrap) so that TeX runs sandboxed",
            )


@functools.cache
def sandbox_available() -> bool:
    """True when bubblewrap is on PATH and can start a sandbox here (probed once)."""
    bwrap = shutil.which(_BWRAP)
    if bwrap is None:
        return False
    with tempfile.TemporaryDirectory(prefix="derivtex-probe-") as tmp:
        command, env = _sandboxed(("true",), {"PATH": _SANDBOX_PATH}, Path(tmp).resolve())
        try:
            probe = subprocess.run(
                command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0


def _sandboxed(
    command: Sequence[str], env: dict[str, str], work: Path
) -> tuple[tuple[str, ...], dict[str, str]]:
    """command wrapped in bwrap: read-only system tree, work read-write, nothing else."""
    args = [str(shutil.which(_BWRAP) or _BWRAP)]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for folder in _RO_BINDS:
        if os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for link in _ROOT_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    args += ["--bind", str(work), str(work), "--chdir", str(work)]
    inner = {key: env[key] for key in _SANDBOX_KEEP_ENV if key in env}
    inner.update(_LOCKED_ENV)
    inner.update(PATH=_SANDBOX_PATH, HOME=str(work), TMPDIR="/tmp")
    if "SOURCE_DATE_EPOCH" in env:
        inner["SOURCE_DATE_EPOCH"] = env["SOURCE_DATE_EPOCH"]
    for key, value in sorted(inner.items()):
        args += ["--setenv", key, value]
    return (*args, "--", *command), {"PATH": env.get("PATH", _SANDBOX_PATH)}


@contextlib.contextmanager
def _terminate_raises() -> Iterator[None]:
    """While TeX runs, SIGTERM unwinds like Ctrl-C, so the TeX group and temp folder go too."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; its own handler covers the others
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield  # the application chose what SIGTERM does
        return

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@functools.cache
def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when derivtex dies, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def set_pdeathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return set_pdeathsig


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


def _read_text(path: Path) -> str:
    # TeX logs are bytes in whatever encoding the input had; never fail on decoding.
    return path.read_bytes().decode("utf-8", "replace") if path.is_file() else ""


def _tex_env() -> dict[str, str]:
    """The caller's environment with TeX's file access, shell escape and dates locked down."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env.update(_LOCKED_ENV)
    env["SOURCE_DATE_EPOCH"] = _source_date_epoch()
    return env


def _source_date_epoch() -> str:
    # pdflatex dies without a log on a malformed value; say why instead.
    value = os.environ.get("SOURCE_DATE_EPOCH") or _DEFAULT_EPOCH
    if not re.fullmatch(r"[0-9]+", value):
        raise TexError(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds since 1970",
            hint="unset it (documents are then dated 1 January 1970) or set it to $(date +%s)",
        )
    return value


def _run(
    command: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    what: str,
    env: dict[str, str] | None = None,
    die_with_parent: bool = True,
    raw_timeout: bool = False,
) -> tuple[int, str]:
    """Run command in its own process group; kill the whole group if it outlives timeout.

    The group is killed too when this unwinds (Ctrl-C, SIGTERM); if derivtex is killed outright,
    the child gets SIGKILL from the kernel (PR_SET_PDEATHSIG; bwrap's --die-with-parent when
    sandboxed, which then takes its whole PID namespace with it).
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=_tex_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # latexmk's pdflatex child (and bwrap's) must die with it
        preexec_fn=_die_with_parent() if die_with_parent else None,  # noqa: PLW1509
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException as exc:  # also Ctrl-C: the new session does not get the terminal's SIGINT
        _kill_group(proc)
        if isinstance(exc, subprocess.TimeoutExpired) and not raw_timeout:
            raise _timeout_error(what, time.monotonic() - started, timeout) from None
        raise
    return proc.returncode, out.decode("utf-8", "replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()  # reap it and close the pipe


def _timeout_error(what: str, elapsed: float, timeout: float) -> TexTimeoutError:
    return TexTimeoutError(
        f"{what} was stopped after running {elapsed:.1f} s (limit {timeout:g} s)",
        hint="a big document may need longer: raise the limit with"
        " compile_pdf(..., timeout=SECONDS); a macro that expands itself forever also ends up here",
    )


def _build_error(name: str, source: bytes, log: str) -> TexError:
    """A TexError naming file, line, TeX's message and the offending source line."""
    lines = log.splitlines()
    failure = _first_failure(lines)
    if failure is None:
        tail = "\n".join(lines[-_LOG_TAIL:])
        return TexError(f"{name}: TeX failed; the end of its log:\n{tail}")
    if failure.file not in (None, f"./{_JOB}.tex", f"{_JOB}.tex"):
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
            return _Failure(message, f"./{_JOB}.tex", int(match["line"]))
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


def _warnings(log: str) -> tuple[str, ...]:
    """Overfull/underfull hbox and LaTeX warnings from the log; underfull ones marked MINOR."""
    found = (line for line in log.splitlines() if line.startswith(_WARNING_STARTS))
    return tuple(MINOR + line if line.startswith("Underfull") else line for line in found)


def _install(built: Path, dest: Path) -> None:
    """Copy built next to dest under a temporary name, then rename: no one sees half a file."""
    write_bytes_atomic(dest, built.read_bytes())


def _render_pngs(pdf: Path, timeout: float) -> tuple[Path, ...]:
    """Render each page to <stem>-<page>.png beside pdf; drop page images of an older build."""
    pdftoppm = _require("pdftoppm")[0]
    with tempfile.TemporaryDirectory(prefix="derivtex-png-") as tmp:
        command = (pdftoppm, "-png", "-r", "100", str(pdf.resolve()), pdf.stem)
        status, out = _run(command, cwd=Path(tmp), timeout=timeout, what=f"pdftoppm on {pdf.name}")
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
