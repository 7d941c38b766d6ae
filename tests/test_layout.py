"""Layout: long equations break, nothing sticks out of the page (TeX's log says so), figures."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from derivtex.project.build import build_specs
from derivtex.rendering.linebreak import break_lines, width_pt
from derivtex.rendering.view import number_tex
from derivtex.tex.runner import compile_pdf, overfull_boxes, tex_available

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))
needs_tex = pytest.mark.skipif(not tex_available(), reason="pdflatex is not installed")

LONG = " + ".join(
    rf"\operatorname{{diag}}\left(\sigma\left(W_{{{n}}} \vec{{x}}\right)\right)" for n in range(12)
)


def test_a_short_equation_stays_on_one_line() -> None:
    assert break_lines(r"W \vec{x} + \vec{b}", 300, 280) == (r"W \vec{x} + \vec{b}",)


def test_a_long_sum_breaks_before_its_signs_within_the_width() -> None:
    lines = break_lines(LONG, 300, 280)
    assert len(lines) > 2
    assert all(line.startswith("+ ") for line in lines[1:])
    assert all(width_pt(line) <= 300 for line in lines)
    assert " ".join(lines) == LONG


def test_a_break_inside_parentheses_closes_and_reopens_them() -> None:
    inner = " - ".join(rf"\tanh{{\left(A_{{{n}}} \vec{{x}} \right)}}" for n in range(20))
    lines = break_lines(rf"2 \left({inner}\right) \vec{{x}}^{{\top}}", 250, 230)
    assert len(lines) > 1
    assert lines[0].endswith(r"\right.") and lines[1].startswith(r"- \left. ")
    for line in lines:  # every line balanced, so TeX accepts each as an aligned cell
        assert len(re.findall(r"\\left\b", line)) == len(re.findall(r"\\right\b", line))


def test_no_break_inside_braces() -> None:
    tex = r"e^{" + " + ".join(f"a_{{{n}}}" for n in range(80)) + "}"
    assert break_lines(tex, 100, 100) == (tex,)  # too wide, but a script cannot be broken


@pytest.mark.parametrize(
    ("value", "tex"),
    [
        (1.4e-10, r"$1.4 \times 10^{-10}$"),
        (0.0, "$0$"),
        (0.25, "$0.25$"),
        (3.2e5, r"$3.2 \times 10^{5}$"),
    ],
)
def test_figures_are_math(value: float, tex: str) -> None:
    assert number_tex(value) == tex


def _step_of_line(source: str, line: int) -> str:
    """The \\paragraph heading (the step) that a source line falls under."""
    heading = "none"
    for number, text in enumerate(source.splitlines(), start=1):
        if number > line:
            break
        if text.startswith(r"\section"):
            heading = "none"  # the problem statement
        elif m := re.match(r"\\paragraph\{([^}]*)\}", text):
            heading = m[1]
    return heading


@pytest.mark.tex
@needs_tex
@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_fits_its_pages(spec: Path, tmp_path: Path) -> None:
    assert build_specs([spec], tmp_path, mode="both", jobs=1) == 0
    for tex in sorted(tmp_path.glob("*.tex")):
        result = compile_pdf(tex, output=tmp_path / "check.pdf")
        source = tex.read_text(encoding="utf-8")
        steps = {_step_of_line(source, box.line or 0) for box in result.overfull}
        if spec.stem == "stress":
            # The problem, the Jacobian assembly and the result break their lines and fit. The
            # planner's steps (generalization: both sides of => on one line; chain rule; local
            # derivatives) are being rewritten for issue 11 and do not break yet.
            assert not steps & {"none", "Jacobian assembly.", "Result."}, result.overfull
        else:
            assert result.overfull == (), result.overfull


@pytest.mark.tex
@needs_tex
def test_a_long_result_is_set_on_several_lines_in_the_pdf(tmp_path: Path) -> None:
    stress = next(p for p in EXAMPLES if p.stem == "stress")
    assert build_specs([stress], tmp_path, jobs=1) == 0
    source = (tmp_path / "stress.tex").read_text(encoding="utf-8")
    assert r"\begin{aligned}" in source and r"\\ &\qquad {} + " in source
    text = subprocess.run(
        ("pdftotext", str(tmp_path / "stress.pdf"), "-"), capture_output=True, text=True, check=True
    ).stdout
    assert "Verified" in text and "e-1" not in text  # 1.5 × 10^-10, never 1.5e-10


def test_overfull_boxes_of_a_log_without_any() -> None:
    assert overfull_boxes("This is pdfTeX\nOutput written on document.pdf (3 pages).\n") == ()


@pytest.mark.tex
@needs_tex
def test_results_are_numbered_per_section_and_labelled(tmp_path: Path) -> None:
    reference = next(p for p in EXAMPLES if p.stem == "reference")
    assert build_specs([reference], tmp_path, jobs=1) == 0
    source = (tmp_path / "reference.tex").read_text(encoding="utf-8")
    assert [rf"\label{{dtx{n}:result}}" in source for n in (1, 2, 5)] == [True] * 3
    text = subprocess.run(
        ("pdftotext", str(tmp_path / "reference.pdf"), "-"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "(1.1)" in text and "(2.1)" in text and "(5.1)" in text
