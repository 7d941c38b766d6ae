"""Layout: long equations break, nothing sticks out of the page (TeX's log says so), figures."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from derivtex.project.build import build_specs
from derivtex.rendering.layout import layout_values, measure, term_breaks
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


def test_breaks_fall_between_the_outermost_terms_where_they_fit() -> None:
    group = " + ".join(rf"\sigma\left(W_{{{n}}} \vec{{x}}\right)" for n in range(4))
    tex = " + ".join(rf"\left({group}\right) B_{{{n}}}" for n in range(3))
    lines = break_lines(tex, 300, 280)
    assert lines == tuple(
        ("+ " if n else "") + rf"\left({group}\right) B_{{{n}}}" for n in range(3)
    )


def test_fractions_and_sums_are_measured_by_their_widest_part() -> None:
    assert measure(r"\frac{\partial L}{\partial X}") == pytest.approx(width_pt(r"\partial X") + 2)
    assert measure(r"\sum_{k=1}^{D} A_{k}") < width_pt(r"\sum_{k=1}^{D} A_{k}")


def test_a_written_out_sum_breaks_before_a_term_and_leaves_no_short_widow() -> None:
    terms = [rf"\operatorname{{softplus}}\left(\vec{{z}}_{{{n}}}\right)" for n in range(12)]
    breaks = term_breaks(terms, (), (), "L")
    assert breaks and all(0 < b < len(terms) for b in breaks)
    short = [*terms[:5], "q"]
    room = sum(measure(t) for t in short[:-1]) + 14 * 4 + measure("L") + 14 + 1  # all but q
    assert term_breaks(short, (), (), "L", width=room) == ()  # q stays, within the slack
    assert term_breaks([*short[:-1], *terms[:2]], (), (), "L", width=room) == (5,)


def test_a_wide_generalization_is_stacked_and_a_narrow_one_is_not() -> None:
    wide = " + ".join(rf"\tanh\left(A_{{{n}}} \vec{{x}}\right)" for n in range(10))
    step = {"example_lhs": "y_{3}", "lhs": "y_{i}", "example_rhs": wide, "rhs": wide}
    stacked = layout_values("generalization", step)
    assert stacked["stacked"] and len(stacked["rhs_lines"]) > 1
    narrow = layout_values("generalization", step | {"example_rhs": "x_{3}", "rhs": "x_{i}"})
    assert narrow == {"stacked": False, "example_rhs_lines": (), "rhs_lines": ()}


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
@pytest.mark.slow
@needs_tex
@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_fits_its_pages(spec: Path, tmp_path: Path) -> None:
    """Handout, exercise sheet and slides of every example: TeX's log reports no overfull box."""
    built = build_specs([spec], tmp_path, mode="both", jobs=1, tex_only=True, formats="pdf,slides")
    assert built == 0
    sources = sorted(tmp_path.glob("*.tex"))
    assert {tex.stem.removeprefix(spec.stem) for tex in sources} == {"", "-exercises", "-slides"}
    found = {}
    for tex in sources:  # each document set once, as build sets it
        result = compile_pdf(tex, output=tmp_path / f"{tex.stem}.pdf")
        source = tex.read_text(encoding="utf-8")
        found[tex.name] = [
            (box.text(), _step_of_line(source, box.line or 0)) for box in result.overfull
        ]
    assert found == {tex.name: [] for tex in sources}


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


@pytest.mark.parametrize(
    ("text", "shapes", "lines"),
    [
        # the local derivatives put in already read as the index form: one line, not the same twice
        ("L = logsumexp(W x)", {"W": "C x D", "x": "D"}, 1),
        # y = V m, m = W x: the sum of V_{i,k} W_{k,j} is the index form too
        ("y = V W x", {"V": "C x M", "W": "M x D", "x": "D"}, 1),
        # sigma'(z_i) W_{i,j} put in, then the index form with the delta summed away: two lines
        ("y = sigmoid(W x)", {"W": "C x D", "x": "D"}, 2),
    ],
)
def test_the_chain_rule_states_a_line_once(text: str, shapes: dict, lines: int) -> None:
    import derivtex
    from derivtex.rendering.document import render

    tex = render(derivtex.derive(text, shapes=shapes, wrt="x"))
    chain = tex[tex.index(r"\paragraph{Chain rule.}") :]
    block = chain[chain.index("So\n\\begin{align*}") : chain.index(r"\tag{C1}")]
    assert block.count("&=") == lines
