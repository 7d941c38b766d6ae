"""TeX started before its document (tex/prestart.py): the same PDFs, errors and limits, no leaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derivtex.errors import TexError, TexTimeoutError
from derivtex.tex import preamble, prestart
from derivtex.tex.runner import compile_pdf, tex_available

pytestmark = [
    pytest.mark.tex,
    pytest.mark.skipif(
        not (tex_available() and shutil.which("pdftotext") and sys.platform.startswith("linux")),
        reason="needs pdflatex and pdftotext on PATH, and Linux (named pipes, FIONREAD)",
    ),
]

HEAD = (
    r"\documentclass{article}",
    r"\pdftrailerid{}",
    r"\usepackage{amsmath}",
    r"\begin{document}",
)


def document(folder: Path, name: str, *body: str, end: bool = True) -> Path:
    path = folder / name
    lines = (*HEAD, *body, *((r"\end{document}",) if end else ()))
    path.write_text("\n".join((*lines, "")), encoding="utf-8")
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh format cache in which HEAD's format was built and used last."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(preamble.CACHE_ENV, str(folder))
    monkeypatch.delenv(preamble.SWITCH_ENV, raising=False)
    compile_pdf(document(tmp_path, "warm.tex", "warm"), output=tmp_path / "warm.pdf")
    assert preamble.last() is not None
    return folder


def pending() -> prestart.Waiting:
    (waiting,) = prestart._pending
    return waiting


def pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ("pdftotext", str(pdf), "-"), capture_output=True, text=True, check=True
    ).stdout


def test_no_format_used_before_means_nothing_starts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(preamble.CACHE_ENV, str(tmp_path / "empty"))
    with prestart.early():
        assert prestart._pending == []
    monkeypatch.setenv(preamble.SWITCH_ENV, "0")
    with prestart.early():
        assert prestart._pending == []


def test_the_waiting_tex_builds_the_same_pdf_bytes(tmp_path: Path, cache: Path) -> None:
    tex = document(tmp_path, "doc.tex", r"Some $\alpha^2$ math \hbox to 1cm{overfulloverfull}")
    with prestart.early():
        waiting = pending()
        early = compile_pdf(tex, output=tmp_path / "early.pdf")
        assert waiting.ran and waiting.proc.returncode == 0  # the pass was the waiting TeX's
        assert prestart._pending == []
    assert not waiting.work.exists()
    normal = compile_pdf(tex, output=tmp_path / "normal.pdf")
    assert early.pdf.read_bytes() == normal.pdf.read_bytes()
    assert (early.passes, early.warnings, early.overfull) == (
        normal.passes,
        normal.warnings,
        normal.overfull,
    )
    assert early.overfull[0].line == 5  # the source's own line numbers
    assert "Some" in pdf_text(early.pdf)


def test_a_rerun_after_the_waiting_pass_resolves_references(tmp_path: Path, cache: Path) -> None:
    tex = document(tmp_path, "refs.tex", r"\section{One}\label{s}", r"See \ref{s}.")
    with prestart.early():
        result = compile_pdf(tex)
    assert result.passes == 2
    assert "See 1." in pdf_text(result.pdf)


@pytest.mark.parametrize(
    ("body", "end", "message"),
    [
        ((r"fine", r"\undefinedcontrolsequence"), True, r"^doc\.tex:6: Undefined control sequence"),
        ((r"no end",), False, r"\\end\{document\}"),
    ],
)
def test_errors_read_as_without_it_and_nothing_waits(
    tmp_path: Path, cache: Path, body: tuple[str, ...], end: bool, message: str
) -> None:
    """A document without \\end{document} meets the end of its main file at once."""
    tex = document(tmp_path, "doc.tex", *body, end=end)
    with pytest.raises(TexError, match=message) as normal:
        compile_pdf(tex, timeout=30)
    with prestart.early(), pytest.raises(TexError, match=message) as early:
        compile_pdf(tex, timeout=30)
    assert not isinstance(early.value, TexTimeoutError)
    assert str(early.value) == str(normal.value)
    assert not (tmp_path / "doc.pdf").exists()


def test_the_timeout_still_bounds_the_waiting_pass(tmp_path: Path, cache: Path) -> None:
    tex = document(tmp_path, "loop.tex", r"\def\x{\x}\x")
    with prestart.early(), pytest.raises(TexTimeoutError):
        waiting = pending()
        compile_pdf(tex, timeout=2)
    assert waiting.proc.returncode is not None
    assert not waiting.work.exists()


def test_another_preamble_discards_it_and_builds_as_before(tmp_path: Path, cache: Path) -> None:
    other = tmp_path / "other.tex"
    other.write_text(
        "\\documentclass{article}\n\\usepackage{amssymb}\n\\begin{document}\n"
        "$\\mathbb{R}$\n\\end{document}\n",
        encoding="utf-8",
    )
    with prestart.early():
        waiting = pending()
        result = compile_pdf(other)
        assert not waiting.ran and waiting.proc.returncode == 0  # told to end, unused
    assert not waiting.work.exists()
    assert "R" in pdf_text(result.pdf)


def test_unclaimed_it_ends_and_leaves_no_process_or_folder(cache: Path) -> None:
    """Discarded at once, while bubblewrap may still be setting up: TeX is told to end, since
    a sandbox killed that early can leave TeX running outside the killed group."""
    for _ in range(10):
        with prestart.early():
            waiting = pending()
        assert waiting.proc.returncode == 0  # it ended by itself
        assert not waiting.work.exists()
        assert _processes_in(waiting.work) == []
    with prestart.early():
        waiting = pending()
        time.sleep(1)  # TeX has loaded its format and waits on the pipe
    assert waiting.proc.returncode == 0
    assert _processes_in(waiting.work) == []


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working folder is folder (TeX runs in its job folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd").startswith(str(folder)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_forked_worker_holds_no_copy_of_the_pipe(cache: Path) -> None:
    with prestart.early():
        pipe = pending()._pipe
        assert pipe is not None
        child = os.fork()
        if child == 0:  # pragma: no cover - the child's result is its exit status
            try:
                os.fstat(pipe)
                code = 1  # still open here
            except OSError:
                code = 0 if prestart._pending == [] else 2
            os._exit(code)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_command_line_uses_it_and_the_pdf_is_unchanged(tmp_path: Path, cache: Path) -> None:
    """derive, twice: the first run records its format, the second starts TeX on it early."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    command = (sys.executable, "-m", "derivtex", "derive", "y = W x")
    command += ("-s", "W=C x D", "-s", "x=D", "--wrt", "x", "-o", str(tmp_path / "out"))
    runs = [
        subprocess.run((*command, "--name", name), capture_output=True, text=True, env=env)
        for name in ("a", "b")
    ]
    assert [(run.returncode, run.stderr) for run in runs] == [(0, ""), (0, "")]
    out = tmp_path / "out"
    assert (out / "a.pdf").read_bytes() == (out / "b.pdf").read_bytes()
    assert list(temp.iterdir()) == []  # no job folder, pipe or TeX left behind


def test_sigterm_while_tex_waits_leaves_nothing(tmp_path: Path, cache: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    script = (
        "import sys, time\n"
        "from derivtex.tex import prestart\n"
        "with prestart.early():\n"
        "    print(prestart._pending[0].proc.pid, flush=True)\n"
        "    time.sleep(60)\n"
    )
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen((sys.executable, "-c", script), env=env, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        tex = int(proc.stdout.readline())
        proc.terminate()
        assert proc.wait(timeout=20) == 128 + 15
        assert list(temp.iterdir()) == []  # the job folder went
        with pytest.raises(ProcessLookupError):
            os.kill(tex, 0)  # and TeX with it (reaped by its parent's exit)
    finally:
        proc.kill()
        proc.communicate()  # reaps it and closes its stdout
