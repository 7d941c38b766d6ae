"""Spec and path faults: each is one failed spec with a message; the others still build."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_build import GOOD, needs_tex, run, write


def _spec_with_templates(value: str) -> str:
    return GOOD.replace("[[", f'[defaults]\ntemplates = "{value}"\n[[', 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
        (_spec_with_templates("\\u0000"), "contains a control character"),
    ],
    ids=["nested-toml", "nul-in-templates"],
)
def test_check_reports_a_malformed_spec_and_checks_the_others(
    tmp_path: Path, text: str, expected: str
) -> None:
    bad = write(tmp_path, "bad.toml", text)
    good = write(tmp_path, "good.toml", GOOD)
    result = run("check", bad, good)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert "1 checked, 1 failed" in result.output


@needs_tex
def test_output_under_a_regular_file_fails_that_spec_with_a_message(tmp_path: Path) -> None:
    good = write(tmp_path, "good.toml", GOOD)
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    result = run("build", good, "-o", tmp_path / "afile" / "out")
    assert result.exit_code == 2
    assert "cannot read or write" in result.output and "Not a directory" in result.output
    assert "0 built, 0 unchanged, 1 failed" in result.output


@needs_tex
def test_a_folder_where_the_pdf_goes_fails_that_spec_and_builds_the_other(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    write(specs, "blocked.toml", GOOD)
    write(specs, "fine.toml", GOOD)
    out = tmp_path / "out"
    (out / "blocked.pdf").mkdir(parents=True)
    result = run("build", specs, "-o", out, "--jobs", "1")
    assert result.exit_code == 2
    assert "Is a directory" in result.output and "Traceback" not in result.output
    assert (out / "fine.pdf").is_file()
    assert "1 built, 0 unchanged, 1 failed" in result.output
