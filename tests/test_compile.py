"""Real TeX runs of derivtex.tex.runner: builds, errors, timeouts, lockdown, determinism, PNGs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derivtex.errors import TexError, TexNotFoundError, TexTimeoutError
from derivtex.tex import preamble, runner, sandbox
from derivtex.tex.runner import (
    INSTALL_COMMAND,
    MINOR,
    CompileResult,
    Overfull,
    check_no_file_reads,
    compile_pdf,
    overfull_boxes,
    sandbox_available,
    tex_available,
)

pytestmark = [
    pytest.mark.tex,
    pytest.mark.skipif(
        not (tex_available() and shutil.which("pdftotext") and shutil.which("pdftoppm")),
        reason="needs latexmk, pdflatex (TeX Live) and pdftotext, pdftoppm (poppler-utils) on PATH",
    ),
]

PASSWD_MARK = "root:x:0:0"  # first line of every Debian /etc/passwd


def write_tex(folder: Path, name: str, *body: str) -> Path:
    """A document whose body lines start at line 4 (class, \\pdftrailerid, \\begin{document})."""
    lines = (r"\documentclass{article}", r"\pdftrailerid{}", r"\begin{document}", *body)
    path = folder / name
    path.write_text("\n".join((*lines, r"\end{document}", "")), encoding="utf-8")
    return path


def pdf_text(pdf: Path) -> str:
    run = subprocess.run(("pdftotext", str(pdf), "-"), capture_output=True, text=True, check=True)
    return run.stdout


def test_good_build_reads_back_and_collects_warnings(tmp_path: Path) -> None:
    tex = write_tex(
        tmp_path,
        "handout.tex",
        r"The gradient of $\mathrm{tr}(AX)$ is $A^\top$.",
        r"\hbox to 1cm{overfulloverfulloverfull}",
        r"\hbox to 10cm{underfull box}",
        r"See \ref{nowhere}.",
    )
    result = compile_pdf(tex)
    assert result == CompileResult(
        pdf=tmp_path / "handout.pdf",
        warnings=result.warnings,
        passes=result.passes,
        overfull=result.overfull,
    )
    # The 1cm box holds about 3.4cm of text: reported with its source line (5: \\hbox to 1cm).
    assert any(box.line == 5 and 40 < box.points < 80 for box in result.overfull), result
    assert result.pdf.read_bytes().startswith(b"%PDF-")
    assert "The gradient of tr(AX) is A" in pdf_text(result.pdf)
    assert any(w.startswith("Overfull \\hbox") for w in result.warnings)
    # Underfull boxes are kept, but always marked minor.
    assert any(w.startswith(MINOR + "Underfull \\hbox") for w in result.warnings)
    assert not any(w.startswith("Underfull") for w in result.warnings)
    assert any(w.startswith("LaTeX Warning: Reference `nowhere'") for w in result.warnings)
    # Only the PDF appears beside the .tex: no aux, log or half-written temp files.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout.pdf", "handout.tex"]


def test_same_tex_gives_byte_identical_pdfs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    tex = write_tex(tmp_path, "a.tex", r"Same bytes every time, built \today.")
    renamed = tmp_path / "other name.tex"
    shutil.copy(tex, renamed)
    first = compile_pdf(tex).pdf
    second = compile_pdf(tex, output=tmp_path / "elsewhere" / "deeper" / "b.pdf").pdf
    third = compile_pdf(renamed, output=str(tmp_path / "c.pdf")).pdf
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()
    assert "January 1, 1970" in pdf_text(first)  # FORCE_SOURCE_DATE: \today is the epoch too


def test_callers_source_date_epoch_is_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(365 * 86400))
    tex = write_tex(tmp_path, "dated.tex", r"Built \today.")
    assert "January 1, 1971" in pdf_text(compile_pdf(tex).pdf)


def test_malformed_source_date_epoch_is_explained(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(TexError, match="SOURCE_DATE_EPOCH='yesterday' is not a whole number"):
        compile_pdf(write_tex(tmp_path, "x.tex", "Text."))


def test_file_name_does_not_reach_the_pdf(tmp_path: Path) -> None:
    # Without \pdftrailerid{} pdfTeX hashes the job name into /ID; the fixed job name keeps
    # even such a document independent of what the caller called the file.
    body = "\\documentclass{article}\n\\begin{document}\nNo trailer id.\n\\end{document}\n"
    (tmp_path / "one.tex").write_text(body, encoding="utf-8")
    (tmp_path / "two.tex").write_text(body, encoding="utf-8")
    one, two = compile_pdf(tmp_path / "one.tex").pdf, compile_pdf(tmp_path / "two.tex").pdf
    assert one.read_bytes() == two.read_bytes()


def test_tex_error_names_file_line_and_source_and_keeps_old_pdf(tmp_path: Path) -> None:
    output = tmp_path / "out" / "handout.pdf"
    good = compile_pdf(write_tex(tmp_path, "good.tex", "All fine."), output=output)
    old_bytes = good.pdf.read_bytes()
    broken = write_tex(tmp_path, "broken.tex", "Fine line.", r"  $\frac{a}{b}$ \nosuchmacro{x}  ")
    with pytest.raises(TexError) as caught:
        compile_pdf(broken, output=output)
    message = str(caught.value)
    assert message.splitlines() == [
        "broken.tex:5: Undefined control sequence.",
        r"    $\frac{a}{b}$ \nosuchmacro{x}",
    ]
    assert caught.value.exit_code == 1
    assert output.read_bytes() == old_bytes
    assert [p.name for p in output.parent.iterdir()] == ["handout.pdf"]  # no partial file left


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ((r"\begin{nosuchenv}x\end{nosuchenv}",), "bad.tex:4: LaTeX Error: Environment nosuchenv"),
        ((r"x", r"\input{missing-file}"), "bad.tex:5: LaTeX Error: File `missing-file.tex' not"),
    ],
)
def test_tex_error_messages(tmp_path: Path, body: tuple[str, ...], expected: str) -> None:
    with pytest.raises(TexError, match="^" + expected.replace("\\", "\\\\")):
        compile_pdf(write_tex(tmp_path, "bad.tex", *body))


def test_missing_end_document_is_explained(tmp_path: Path) -> None:
    tex = tmp_path / "cut.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\nCut short.\n", encoding="utf-8")
    with pytest.raises(TexError, match=r"^cut\.tex: .*\\end\{document\} missing"):
        compile_pdf(tex)
    assert not (tmp_path / "cut.pdf").exists()


def test_halt_on_error_stops_before_an_endless_loop(tmp_path: Path) -> None:
    # Without -halt-on-error nonstopmode would carry on past the error into the loop.
    tex = write_tex(tmp_path, "halt.tex", r"\nosuchmacro", r"\def\x{\x}\x")
    started = time.monotonic()
    with pytest.raises(TexError, match=r"^halt\.tex:4: Undefined control sequence") as caught:
        compile_pdf(tex, timeout=20)
    assert not isinstance(caught.value, TexTimeoutError)
    assert time.monotonic() - started < 10


def test_timeout_kills_an_endless_loop(tmp_path: Path) -> None:
    tex = write_tex(tmp_path, "loop.tex", r"\def\x{\x}\x")
    started = time.monotonic()
    with pytest.raises(TexTimeoutError, match=r"stopped after running 3\.\d s \(limit 3 s\)") as e:
        compile_pdf(tex, timeout=3)
    # compile_pdf returns only once the output pipe closes, and pdflatex (latexmk's child)
    # holds it too: returning this soon means the whole process group was killed.
    assert time.monotonic() - started < 3 + 5
    assert "timeout=" in str(e.value)
    assert not (tmp_path / "loop.pdf").exists()


needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="needs a working bwrap")


@pytest.mark.parametrize("line", [r"\input{/etc/passwd}", r"\makeatletter\@@input /etc/passwd "])
def test_input_of_absolute_path_fails_without_leaking(tmp_path: Path, line: str) -> None:
    with pytest.raises(TexError) as caught:
        compile_pdf(write_tex(tmp_path, "hostile.tex", "Before.", line))
    message = str(caught.value)
    assert message.startswith("hostile.tex:5: ")
    assert (
        "File `/etc/passwd.tex' not found" in message
        or "can't find file `/etc/passwd'" in message
        or (not sandbox_available() and "no sandbox is available" in message)
    )
    assert PASSWD_MARK not in message
    assert not (tmp_path / "hostile.pdf").exists()


@needs_sandbox  # without one, \openin is refused before TeX runs (tested below)
def test_openin_of_absolute_path_reads_nothing(tmp_path: Path) -> None:
    tex = write_tex(
        tmp_path,
        "peek.tex",
        r"\newread\peek\openin\peek=/etc/passwd",
        r"\ifeof\peek NOTREAD\else\read\peek to\line \detokenize\expandafter{\line}\fi",
    )
    text = pdf_text(compile_pdf(tex).pdf)
    assert "NOTREAD" in text
    assert "root" not in text


@needs_sandbox
def test_callers_tex_variables_cannot_widen_access(tmp_path: Path, monkeypatch) -> None:
    # TEXMFOUTPUT=/etc would let openin_any=p read /etc/passwd; TEXINPUTS adds search folders.
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    (shelf / "shelved.tex").write_text("SHELVED", encoding="utf-8")
    monkeypatch.setenv("TEXMFOUTPUT", "/etc")
    monkeypatch.setenv("TEXINPUTS", f"{shelf}:")
    peek = write_tex(
        tmp_path, "peek.tex", r"\newread\peek\openin\peek=/etc/passwd", r"\ifeof\peek NOTREAD\fi"
    )
    assert "NOTREAD" in pdf_text(compile_pdf(peek).pdf)
    with pytest.raises(
        TexError, match=r"^shelf\.tex:4: LaTeX Error: File `shelved\.tex' not found"
    ):
        compile_pdf(write_tex(tmp_path, "shelf.tex", r"\input{shelved}"))


def test_write18_runs_nothing(tmp_path: Path) -> None:
    now, later = tmp_path / "pwned-immediate", tmp_path / "pwned-shipout"
    tex = write_tex(
        tmp_path,
        "shell.tex",
        rf"\immediate\write18{{touch {now}}}",
        rf"Text.\write18{{touch {later}}}",
    )
    compile_pdf(tex)
    assert not now.exists()
    assert not later.exists()


def test_openout_to_absolute_path_fails(tmp_path: Path) -> None:
    target = tmp_path / "planted.txt"
    tex = write_tex(
        tmp_path, "plant.tex", rf"\newwrite\out\immediate\openout\out={target}", "Text."
    )
    with pytest.raises(TexError, match=r"^plant\.tex:4: I can't write on file"):
        compile_pdf(tex)
    assert not target.exists()


def test_no_tex_on_path_names_the_debian_packages(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    tex = write_tex(tmp_path, "x.tex", "Text.")
    assert not tex_available()
    with pytest.raises(TexNotFoundError) as caught:
        compile_pdf(tex)
    assert "pdflatex not found" in str(caught.value)
    assert INSTALL_COMMAND in str(caught.value)
    assert INSTALL_COMMAND.startswith(
        "apt-get install -y --no-install-recommends texlive-latex-base"
    )
    assert caught.value.exit_code == 1
    assert not (tmp_path / "x.pdf").exists()


def test_png_pages_beside_the_pdf_replace_older_ones(tmp_path: Path) -> None:
    output = tmp_path / "pages" / "deck.pdf"
    two = compile_pdf(
        write_tex(tmp_path, "two.tex", "One.", r"\newpage", "Two."), output=output, png=True
    )
    assert two.pngs == (output.parent / "deck-1.png", output.parent / "deck-2.png")
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in two.pngs)
    one = compile_pdf(write_tex(tmp_path, "one.tex", "Only."), output=output, png=True)
    assert one.pngs == (output.parent / "deck-1.png",)
    assert sorted(p.name for p in output.parent.iterdir()) == ["deck-1.png", "deck.pdf"]


def hostname() -> str:
    return Path("/etc/hostname").read_text(encoding="utf-8").strip()


@pytest.fixture
def no_sandbox(monkeypatch: pytest.MonkeyPatch):
    """compile_pdf as on a machine without bubblewrap: the probe finds no bwrap on PATH."""
    monkeypatch.setattr(sandbox, "_BWRAP", "bwrap-not-installed-here")
    runner.sandbox_available.cache_clear()
    yield
    runner.sandbox_available.cache_clear()


@needs_sandbox
@pytest.mark.parametrize(
    "line",
    [
        r"\immediate\pdfobj stream file {/etc/hostname}",
        r"\pdfximage{/etc/hostname}",
        r"\pdffiledump length 100 {/etc/hostname}",
    ],
)
def test_sandboxed_tex_cannot_embed_files_outside_the_build(tmp_path: Path, line: str) -> None:
    # \pdfobj file ignores openin_any=p: without the sandbox this PDF holds /etc/hostname.
    secret = hostname()
    assert secret
    tex = tmp_path / "leak.tex"
    tex.write_text(
        "\n".join(
            (
                r"\pdfcompresslevel=0 \pdfobjcompresslevel=0",
                r"\documentclass{article}",
                r"\begin{document}",
                line,
                "x",
                r"\end{document}",
                "",
            )
        ),
        encoding="utf-8",
    )
    try:
        result = compile_pdf(tex)
    except TexError as exc:
        assert "/etc/hostname" in str(exc)
        assert not (tmp_path / "leak.pdf").exists()
    else:
        raw = result.pdf.read_bytes()
        assert secret.encode() not in raw


@needs_sandbox
def test_sandboxed_input_of_absolute_path_fails(tmp_path: Path) -> None:
    with pytest.raises(TexError) as caught:
        compile_pdf(write_tex(tmp_path, "in.tex", r"\input{/etc/hostname}"))
    assert hostname() not in str(caught.value).replace("/etc/hostname", "")


@pytest.mark.parametrize(
    "text",
    [
        r"\immediate\pdfobj stream file {/etc/passwd}",
        r"\pdfximage{/etc/passwd}",
        r"\pdffiledump length 10 {x}",
        r"\pdffilemoddate{/etc/passwd}",
        r"\pdffilesize{/etc/passwd}",
        r"\pdfmdfivesum file {/etc/passwd}",
        r"\newread\r \openin\r=/etc/passwd",
        r"\input{/etc/passwd}",
        r"\input /etc/passwd",
        r"\include{../../secret}",
        r"\InputIfFileExists{/etc/passwd}{}{}",
        r"\input{sub/../../x}",
        r"^^5cinput",
    ],
)
def test_without_a_sandbox_file_reads_are_refused(text: str) -> None:
    with pytest.raises(TexError, match="no sandbox is available") as caught:
        check_no_file_reads("\\documentclass{article}\n" + text, name="evil.tex")
    assert str(caught.value).startswith("evil.tex:2: refusing")
    assert "bubblewrap" in str(caught.value)


@pytest.mark.parametrize(
    "text", [r"\input{steps}", r"\include{chapter1}", r"\pdftrailerid{}", r"$x^2$ \readme"]
)
def test_without_a_sandbox_ordinary_tex_passes_the_check(text: str) -> None:
    check_no_file_reads(text)


def test_without_a_sandbox_compile_pdf_refuses_before_running_tex(
    tmp_path: Path, no_sandbox
) -> None:
    assert not sandbox_available()
    tex = write_tex(tmp_path, "leak.tex", r"\immediate\pdfobj stream file {/etc/hostname}")
    with pytest.raises(TexError, match="no sandbox is available"):
        compile_pdf(tex)
    assert not (tmp_path / "leak.pdf").exists()
    # An ordinary document still builds without the sandbox.
    assert compile_pdf(write_tex(tmp_path, "ok.tex", "fine")).pdf.is_file()


_RUN_LOOP = """
import sys
from derivtex.tex import preamble, runner, sandbox
if sys.argv[2] == "no-sandbox":
    sandbox._BWRAP = "bwrap-not-installed-here"
runner.compile_pdf(sys.argv[1], timeout=120)
"""


def _tex_processes(marker: str) -> list[int]:
    """Processes (other than this one) whose command line or folder names marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in cmdline or marker in cwd:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("mode", ["sandbox", "no-sandbox"])
def test_sigterm_leaves_no_tex_running_and_no_temp_folder(tmp_path: Path, mode: str) -> None:
    if mode == "sandbox" and not sandbox_available():
        pytest.skip("needs a working bwrap")
    temp = tmp_path / "tmp"
    temp.mkdir()
    tex = write_tex(tmp_path, "loop.tex", r"\def\x{\x}\x")
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen((sys.executable, "-c", _RUN_LOOP, str(tex), mode), env=env)
    try:
        deadline = time.monotonic() + 20
        while not _tex_processes(str(temp)) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        assert _tex_processes(str(temp)), "TeX never started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 5
        while _tex_processes(str(temp)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _tex_processes(str(temp)) == []
        assert list(temp.iterdir()) == []  # the build folder went too
    finally:
        proc.kill()
        proc.wait()


@needs_sandbox
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_derivtex_takes_sandboxed_tex_with_it(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    tex = write_tex(tmp_path, "loop.tex", r"\def\x{\x}\x")
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen((sys.executable, "-c", _RUN_LOOP, str(tex), "sandbox"), env=env)
    try:
        deadline = time.monotonic() + 20
        while not _tex_processes(str(temp)) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        assert _tex_processes(str(temp)), "TeX never started"
        proc.kill()  # no handler runs: only the kernel and bwrap can clean up
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _tex_processes(str(temp)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _tex_processes(str(temp)) == []
    finally:
        proc.kill()
        proc.wait()


def test_references_resolve_by_a_rerun(tmp_path: Path) -> None:
    tex = write_tex(
        tmp_path, "refs.tex", r"\section{First}\label{sec:first}", r"See section \ref{sec:first}."
    )
    result = compile_pdf(tex)
    assert result.passes == 2
    text = pdf_text(result.pdf)
    assert "See section 1." in text
    assert "??" not in text


def test_plain_document_takes_one_pass(tmp_path: Path) -> None:
    assert compile_pdf(write_tex(tmp_path, "plain.tex", "Just text.")).passes == 1


def test_latexmk_engine_still_builds(tmp_path: Path) -> None:
    result = compile_pdf(write_tex(tmp_path, "mk.tex", "Via latexmk."), engine="latexmk")
    assert "Via latexmk." in pdf_text(result.pdf)


OVERFULL_LOG = r"""
Overfull \hbox (72.5pt too wide) in paragraph at lines 12--14
Overfull \hbox (3.0pt too wide) detected at line 30
Overfull \vbox (1.5pt too high) has occurred while \output is active
Underfull \hbox (badness 10000) in paragraph at lines 5--6
"""


def test_overfull_boxes_are_read_from_the_log_with_their_section() -> None:
    source = "\n".join(["x"] * 10 + [r"\section{First}"] + ["y"] * 15 + [r"\section{Two{-}part}"])
    boxes = overfull_boxes(OVERFULL_LOG, source)
    assert boxes == (
        Overfull(72.5, 12, "First"),
        Overfull(3.0, 30, "Two-part"),
        Overfull(1.5, None, None),
    )
    assert boxes[0].text() == "overfull box, 72.5pt too wide at line 12 in section 'First'"


PACKAGED = (
    r"\documentclass{article}",
    r"\ifdefined\pdftrailerid\pdftrailerid{}\fi",
    r"\usepackage{amsmath}",
    r"\usepackage[margin=2cm]{geometry}",
    r"\newcommand{\grad}{\nabla}",
    r"\begin{document}",
)


def packaged(folder: Path, name: str, *body: str) -> Path:
    """A document with packages (so a preamble format applies); its body starts at line 7."""
    path = folder / name
    path.write_text("\n".join((*PACKAGED, *body, r"\end{document}", "")), encoding="utf-8")
    return path


def formats(cache: Path) -> list[str]:
    folder = cache / "tex-formats"
    found = folder.iterdir() if folder.is_dir() else ()
    return sorted(p.suffix for p in found if p.name != preamble.LAST)


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv(preamble.CACHE_ENV, str(cache))
    monkeypatch.delenv(preamble.SWITCH_ENV, raising=False)
    return cache


def test_the_preamble_format_is_cached_and_changes_nothing_a_reader_sees(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tex = packaged(tmp_path, "doc.tex", r"Gradient $\grad f$ \hbox to 1cm{overfulloverfull}")
    first = compile_pdf(tex, output=tmp_path / "first.pdf")
    assert formats(fresh_cache) == [".fmt"]  # dumped once, then reused
    second = compile_pdf(tex, output=tmp_path / "second.pdf")
    assert formats(fresh_cache) == [".fmt"]
    assert first.pdf.read_bytes() == second.pdf.read_bytes()
    monkeypatch.setenv(preamble.SWITCH_ENV, "0")
    plain = compile_pdf(tex, output=tmp_path / "plain.pdf")
    assert pdf_text(first.pdf) == pdf_text(plain.pdf)
    assert [(b.line, b.points) for b in first.overfull] == [
        (b.line, b.points) for b in plain.overfull
    ]
    assert first.overfull[0].line == 7  # the source's own line numbers


def test_errors_under_the_format_read_as_without_it(tmp_path: Path, fresh_cache: Path) -> None:
    tex = packaged(tmp_path, "bad.tex", "fine", r"\undefinedcontrolsequence")
    with pytest.raises(TexError, match=r"^bad\.tex:8: Undefined control sequence"):
        compile_pdf(tex)
    assert not (tmp_path / "bad.pdf").exists()


def test_tex_cannot_rewrite_the_cached_format(tmp_path: Path, fresh_cache: Path) -> None:
    tex = packaged(tmp_path, "doc.tex", "x")
    compile_pdf(tex)
    (cached,) = (fresh_cache / "tex-formats").glob("*.fmt")
    before = cached.read_bytes()
    evil = packaged(tmp_path, "evil.tex", r"\immediate\openout1=dtxfmt.fmt\immediate\closeout1 x")
    compile_pdf(evil)
    assert cached.read_bytes() == before


def test_no_format_without_a_private_cache_or_when_switched_off(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(preamble.SWITCH_ENV, "0")
    assert compile_pdf(packaged(tmp_path, "a.tex", "x")).pdf.is_file()
    assert formats(fresh_cache) == []
    monkeypatch.setenv(preamble.SWITCH_ENV, "1")
    monkeypatch.setenv(preamble.CACHE_ENV, "")
    assert compile_pdf(packaged(tmp_path, "b.tex", "x")).pdf.is_file()
    assert not fresh_cache.exists()


@pytest.mark.parametrize(
    ("source", "why"),
    [
        (b"\\relax\n\\documentclass{article}\n\\begin{document}x\\end{document}\n", "not line 1"),
        (b"\\documentclass{article}\n\\usepackage[a\n]{geometry}\n\\begin{document}\n", "open ["),
        (b"\\documentclass{article}\n\\usepackage{x}\n", "no \\begin{document}"),
    ],
)
def test_no_format_for_a_preamble_it_cannot_cut(source: bytes, why: str) -> None:
    assert preamble.split(source) is None, why


def test_the_cut_keeps_line_numbers_and_pdf_settings() -> None:
    source = "\n".join((*PACKAGED, "body", r"\end{document}", "")).encode()
    cut = preamble.split(source)
    assert cut is not None
    assert cut.head.decode().splitlines() == list(PACKAGED[:4])
    body = cut.body.decode().split("\n")
    assert len(body) == len(source.decode().split("\n"))
    assert body[:5] == ["", PACKAGED[1], "", "", PACKAGED[4]]


def test_the_format_cache_keeps_the_most_recently_used(tmp_path: Path) -> None:
    built = tmp_path / "built.fmt"
    built.write_bytes(b"format")
    folder = tmp_path / "cache"
    folder.mkdir()
    for k in range(preamble.KEEP + 3):
        preamble.store(built, folder / f"{k:02}.fmt")
        os.utime(folder / f"{k:02}.fmt", (k, k))
    assert preamble.fetch(folder / "00.fmt", tmp_path) is False  # pruned
    preamble.store(built, folder / "new.fmt")
    kept = sorted(p.name for p in folder.glob("*.fmt"))
    assert len(kept) == preamble.KEEP
    assert "new.fmt" in kept
    assert "02.fmt" not in kept
    assert preamble.fetch(folder / "new.fmt", tmp_path)
    assert (tmp_path / f"{preamble.NAME}.fmt").read_bytes() == b"format"


def test_labels_that_nothing_cites_take_one_pass(tmp_path: Path) -> None:
    """'Label(s) may have changed' alone, with no \\ref in the text (one in a comment does not
    count), asks for a pass that would print the same pages: derive's labelled equations."""
    body = r"\begin{equation}\label{eq:one} x = 1 \end{equation} % cited by \eqref{eq:one}"
    result = compile_pdf(write_tex(tmp_path, "labels.tex", r"\section{First}\label{s}", body))
    assert result.passes == 1
    assert "(1)" in pdf_text(result.pdf)


def test_a_handout_from_derive_takes_one_pass(tmp_path: Path) -> None:
    import derivtex
    from derivtex.rendering.document import render

    d = derivtex.derive("m = W x; y = V m", "x", {"W": "M x D", "x": "D", "V": "C x M"})
    tex = tmp_path / "chain.tex"
    tex.write_text(render(d))
    result = compile_pdf(tex)
    assert result.passes == 1
    assert "(C1)" in pdf_text(result.pdf)
