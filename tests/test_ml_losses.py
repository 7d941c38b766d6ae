"""examples/ml-losses.toml: the machine-learning course spec builds to a PDF with real TeX."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from derivtex.cli import main
from derivtex.project.spec import load_spec
from derivtex.tex.runner import tex_available

SPEC = Path(__file__).resolve().parent.parent / "examples" / "ml-losses.toml"

TITLES = (
    "Logistic regression, by the weights",
    "Softmax cross-entropy, by the weights",
    "The Jacobian of softmax",
    "A batch layer with a bias, by its weights",
    "A batch layer with a bias, by its bias",
    "Mean squared error of a linear model",
    "A normalized vector",
)


def test_spec_covers_the_issue_losses() -> None:
    givens = [d.given for d in load_spec(SPEC).derivations]
    assert "L = sum(log(1 + exp(-t .* (X w))))" in givens
    assert "L = -sum(t .* log(softmax(W x)))" in givens
    assert "u = x / norm(x)" in givens
    assert any("/ N" in g for g in givens)
    assert sum("1 b^T" in g for g in givens) == 2


def test_check_passes_without_tex() -> None:
    result = CliRunner().invoke(main, ["check", str(SPEC)], env={"GITHUB_ACTIONS": None})
    assert result.exit_code == 0, result.output


@pytest.mark.tex
@pytest.mark.skipif(
    not (tex_available() and shutil.which("pdftotext")),
    reason="needs pdflatex (TeX Live) and pdftotext (poppler-utils) on PATH",
)
def test_builds_to_pdf_with_every_section(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["build", str(SPEC), "-o", str(tmp_path)], env={"GITHUB_ACTIONS": None}
    )
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "ml-losses.pdf"
    text = subprocess.run(
        ("pdftotext", str(pdf), "-"), capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    for title in TITLES:
        assert title in flat
    assert flat.count("Verified: exact check") == len(TITLES)
    assert "softmax" in flat and "diag" in flat
    # softmax's quotient rule, worked: as a step (its Jacobian), inside a local derivative (CE)
    assert "Quotient rule." in flat and "by the quotient rule: one component" in flat
    assert flat.count("Both cases at once") == 2
    assert flat.count("Verified") >= len(TITLES)
