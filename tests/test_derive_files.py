"""derivtex derive writes its own files only: another handout of the same name stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from derivtex.cli import main
from derivtex.tex.runner import tex_available

LINEAR = ("y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D")
ROW = ("y = x W", "--wrt", "x", "-s", "x=1 x D", "-s", "W=D x C")  # also dy-dx


def derive(out: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["derive", *args, "-o", str(out)])


def test_another_derivation_of_the_same_name_is_refused(tmp_path: Path) -> None:
    assert derive(tmp_path, *LINEAR, "--tex-only").exit_code == 0
    mine = (tmp_path / "dy-dx.tex").read_text()
    refused = derive(tmp_path, *ROW, "--tex-only")
    assert refused.exit_code == 2
    assert refused.output.startswith(f"error: {tmp_path / 'dy-dx.tex'} already holds another")
    assert "--name" in refused.output and "--force" in refused.output
    assert "Traceback" not in refused.output
    assert (tmp_path / "dy-dx.tex").read_text() == mine


def test_the_same_command_again_and_force_and_another_name_are_fine(tmp_path: Path) -> None:
    assert derive(tmp_path, *LINEAR, "--tex-only").exit_code == 0
    assert derive(tmp_path, *LINEAR, "--tex-only").exit_code == 0  # its own file: rewritten
    assert derive(tmp_path, *ROW, "--tex-only", "--name", "row").exit_code == 0
    forced = derive(tmp_path, *ROW, "--tex-only", "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "dy-dx.tex").read_text() == (tmp_path / "row.tex").read_text()


def test_a_pdf_without_its_tex_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "dy-dx.pdf").write_bytes(b"%PDF-1.5 someone else's")
    assert derive(tmp_path, *LINEAR, "--tex-only").exit_code == 2
    assert (tmp_path / "dy-dx.pdf").read_bytes() == b"%PDF-1.5 someone else's"
    assert not (tmp_path / "dy-dx.tex").exists()


@pytest.mark.tex
@pytest.mark.skipif(not tex_available(), reason="needs latexmk/pdflatex")
def test_a_rerun_rebuilds_its_own_pdf(tmp_path: Path) -> None:
    first = derive(tmp_path, *LINEAR)
    assert first.exit_code == 0, first.output
    again = derive(tmp_path, *LINEAR)
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[1] == str(tmp_path / "dy-dx.pdf")
