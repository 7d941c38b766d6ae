"""A build removes the outputs of spec files that are gone: only what derivtex wrote, said aloud."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from derivtex.cli import main
from derivtex.project.build import build_outcomes

SPEC = """
title = "{title}"

[[derivation]]
name = "linear"
given = "y = W x"
shapes = {{ W = "C x D", x = "D" }}
wrt = "x"
"""


def _specs(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.toml" for name in names]
    for path in paths:
        path.write_text(SPEC.format(title=path.stem), encoding="utf-8")
    return paths


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_a_deleted_specs_pdf_and_tex_are_removed_and_reported(tmp_path: Path) -> None:
    a, b = _specs(tmp_path / "specs", "a", "b")
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(main, ["build", str(a.parent), "-o", str(out), "--jobs", "1"])
    assert first.exit_code == 0, first.output
    assert {"a.pdf", "a.tex", "b.pdf", "b.tex"} <= _files(out)
    (out / "notes.txt").write_text("mine", encoding="utf-8")  # a user's file beside the PDFs

    a.unlink()
    second = runner.invoke(main, ["build", str(a.parent), "-o", str(out), "--jobs", "1"])

    assert second.exit_code == 0, second.output
    left = _files(out)
    assert "a.pdf" not in left and "a.tex" not in left
    assert not (out / ".derivtex" / "a.json").exists()
    assert {"b.pdf", "b.tex", "notes.txt"} <= left
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert "removed a.pdf, a.tex" in second.output
    assert "a.toml is gone" in second.output
    assert "1 unchanged" in second.output and "1 removed" in second.output


def test_a_changed_output_of_a_deleted_spec_is_kept_with_a_warning(tmp_path: Path) -> None:
    (a,) = _specs(tmp_path / "specs", "a")
    out = tmp_path / "out"
    build_outcomes([a], out, formats="html", jobs=1)
    page = out / "a" / "index.html"
    page.write_text("<p>edited by hand</p>", encoding="utf-8")

    a.unlink()
    (b,) = _specs(tmp_path / "specs", "b")
    outcome, built = build_outcomes([tmp_path / "specs"], out, formats="html", jobs=1)

    assert outcome.status == "removed"
    assert page.read_text(encoding="utf-8") == "<p>edited by hand</p>"
    assert page not in outcome.outputs and outcome.outputs  # the KaTeX assets went
    assert [p.level for p in outcome.problems] == ["warning"]
    assert "changed since derivtex wrote it" in outcome.problems[0].summary
    assert not (out / "a" / "katex").exists()  # emptied folders are removed too
    assert built.status == "built"


def test_a_deleted_specs_html_folder_goes_entirely(tmp_path: Path) -> None:
    a, b = _specs(tmp_path / "specs", "a", "b")
    out = tmp_path / "out"
    build_outcomes([a, b], out, formats="html", jobs=1)
    assert (out / "a" / "index.html").is_file()

    a.unlink()
    outcomes = build_outcomes([b], out, formats="html", jobs=1)

    assert [o.status for o in outcomes] == ["removed", "unchanged"]
    assert not (out / "a").exists()
    assert (out / "b" / "index.html").is_file()


def test_a_moved_repository_removes_nothing(tmp_path: Path) -> None:
    (a,) = _specs(tmp_path / "repo" / "specs", "a")
    build_outcomes([a], tmp_path / "repo" / "out", formats="html", jobs=1)
    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "repo", moved)  # stamps name the spec relative to the output folder

    outcomes = build_outcomes([moved / "specs"], moved / "out", formats="html", jobs=1)

    assert [o.status for o in outcomes] == ["unchanged"]
    assert (moved / "out" / "a" / "index.html").is_file()


@pytest.mark.parametrize("absolute", [False, True])
def test_a_stamp_cannot_remove_files_outside_the_output_folder(
    tmp_path: Path, absolute: bool
) -> None:
    out = tmp_path / "out"
    (out / ".derivtex").mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep", encoding="utf-8")
    target = str(outside) if absolute else "../outside.txt"
    sha = hashlib.sha256(b"keep").hexdigest()  # the right digest: only the place protects it
    stamp = {"fingerprint": "x", "spec": "../gone.toml", "files": {target: sha}}
    (out / ".derivtex" / "gone.json").write_text(json.dumps(stamp), encoding="utf-8")
    _specs(tmp_path / "specs", "b")

    build_outcomes([tmp_path / "specs"], out, formats="html", jobs=1)

    assert outside.read_text(encoding="utf-8") == "keep"


def test_a_stamp_from_before_file_lists_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / ".derivtex").mkdir(parents=True)
    (out / "old.pdf").write_bytes(b"%PDF-1.5 an old build")
    old = {"fingerprint": "x", "derivtex": "0.1.0", "spec": "gone.toml"}  # no "files"
    (out / ".derivtex" / "old.json").write_text(json.dumps(old), encoding="utf-8")
    _specs(tmp_path / "specs", "b")

    outcomes = build_outcomes([tmp_path / "specs"], out, formats="html", jobs=1)

    assert "removed" not in [o.status for o in outcomes]
    assert (out / "old.pdf").is_file()
