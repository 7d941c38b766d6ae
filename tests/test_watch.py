"""derivtex watch: a real watcher process, edits of a spec, a broken spec, Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from derivtex.project.watch import Settings, watch
from derivtex.tex.runner import tex_available

SPEC = """\
title = "Watched"
[[derivation]]
name = "linear"
title = "First title"
given = "y = W x"
shapes = { W = "C x D", x = "D" }
wrt = "x"
"""


def test_each_batch_of_changes_is_one_line_and_settings_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    seen: list[Settings] = []

    def settings() -> Settings:
        seen.append(Settings((spec,), tmp_path / "out", {"tex_only": True, "jobs": 1}))
        return seen[-1]

    def changes(roots, out):
        assert roots == (tmp_path.resolve(),) and out == tmp_path / "out"
        yield "a change that touched nothing"
        spec.write_text(SPEC.replace("y = W x", "y = W x +"))
        yield "a broken spec"

    lines: list[str] = []
    watch(settings, changes=changes, echo=lines.append)
    assert len(seen) == 3  # before the first build and before each rebuild
    assert lines[0].endswith(" s") and " built s.tex in " in lines[0]
    assert lines[1] == f"watching {tmp_path.resolve()} (Ctrl-C to stop)"
    assert " built s.tex in " in lines[2]  # --tex-only writes every time
    first, *problems = lines[3].splitlines()
    assert " FAILED " in first and first.endswith("s (the last good PDF stays)")
    assert problems[0].startswith(f"{spec}:5: derivation 'linear': ")


def _reader(stream, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


def _wait_for(lines: queue.Queue[str], text: str, seen: list[str]) -> str:
    while True:
        try:
            line = lines.get(timeout=120)  # no timing claim: only so that a hang fails the test
        except queue.Empty:
            pytest.fail(f"no line with {text!r}; got {seen}")
        seen.append(line)
        if text in line:
            return line


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(("pdftotext", str(pdf), "-"), capture_output=True, text=True).stdout


@pytest.mark.tex
@pytest.mark.slow
@pytest.mark.skipif(not tex_available(), reason="needs latexmk/pdflatex")
def test_watch_rebuilds_on_edits_keeps_the_last_good_pdf_and_exits_130(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    spec = tmp_path / "lecture.toml"
    spec.write_text(SPEC)
    (tmp_path / "derivtex.toml").write_text('specs = ["lecture.toml"]\noutput = "build"\n')
    env = {**os.environ, "NO_COLOR": "1", "GITHUB_ACTIONS": ""}
    process = subprocess.Popen(
        (sys.executable, "-m", "derivtex", "watch"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        assert " built lecture.pdf in " in _wait_for(lines, " in ", seen)
        _wait_for(lines, "watching", seen)
        pdf = tmp_path / "build/lecture.pdf"
        assert "First title" in _pdf_text(pdf)
        spec.write_text(SPEC.replace("First title", "Second title"))
        assert " built lecture.pdf in " in _wait_for(lines, " in ", seen)
        assert "Second title" in _pdf_text(pdf)
        spec.write_text(SPEC.replace('wrt = "x"', 'wrt = "q"'))
        failed = _wait_for(lines, " FAILED ", seen)
        assert failed.endswith("(the last good PDF stays)")
        assert "cannot differentiate by 'q'" in _wait_for(lines, "lecture.toml:5:", seen)
        assert "Second title" in _pdf_text(pdf)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    reader.join(timeout=60)
    if process.stdout:
        process.stdout.close()
    rest = "\n".join(lines.get() for _ in range(lines.qsize()))
    assert code == 130
    assert "interrupted" in rest and "Traceback" not in rest + "\n".join(seen)


def test_the_watched_folders_include_template_folders_and_the_config(tmp_path: Path) -> None:
    from derivtex.project.watch import _roots

    (tmp_path / "specs").mkdir()
    (tmp_path / "look").mkdir()
    spec = tmp_path / "specs/s.toml"
    spec.write_text(
        SPEC.replace("[[derivation]]", '[defaults]\ntemplates = "../look"\n[[derivation]]')
    )
    config = tmp_path / "derivtex.toml"
    config.write_text("")
    roots = _roots(Settings((tmp_path / "specs",), tmp_path / "out", {}, (config,)))
    assert roots == tuple(
        sorted(p.absolute() for p in (tmp_path, tmp_path / "specs", tmp_path / "look"))
    )
