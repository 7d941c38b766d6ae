"""Beamer slides: one frame per step, built with real TeX and read back with pdftotext."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from derivtex.cli import main
from derivtex.errors import FormatError
from derivtex.project.build import build_specs
from derivtex.project.formats import documents, parse_formats
from derivtex.project.spec import load_spec
from derivtex.tex.runner import compile_pdf, tex_available

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference.toml"
COURSE = ROOT / "examples" / "course.toml"


def _beamer_available() -> bool:
    if not (tex_available() and shutil.which("kpsewhich")):
        return False
    found = subprocess.run(["kpsewhich", "beamer.cls", "pgfmath.sty"], capture_output=True)
    return len(found.stdout.split()) == 2


needs_beamer = pytest.mark.skipif(
    not _beamer_available(),
    reason="no Beamer (texlive-latex-recommended) or PGF (texlive-pictures)",
)
# The frame title each step kind's slide template gives its frame.
HEADINGS = {
    "component_formula": "Component formula",
    "sum_expansion": "Sum expansion",
    "term_partial": "Per-term partial",
    "local_derivative": "Local derivative",
    "sparsity": "Sparsity",
    "generalization": "Generalization",
    "jacobian_assembly": "Jacobian assembly",
    "tensor_structure": "Tensor structure",
    "batch_rows": "Stacked data points",
    "chain_rule": "Chain rule",
    "elementwise": "Elementwise function",
    "symmetric": "Symmetric matrices",
    "worked_rule": "The derivative of a",  # an inverse, a determinant
    "quotient_rule": "Quotient rule",
    "second_partial": "Second partial",
    "hessian_assembly": "Hessian assembly",
    "summary": "Result",
}


def pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def pdf_pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, check=True, text=True)
    pages = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("Pages:")]
    return int(pages[0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("pdf",)),
        ("pdf", ("pdf",)),
        ("slides,html", ("slides", "html")),
        (" PDF , slides ,pdf", ("pdf", "slides")),
        (["html"], ("html",)),
    ],
)
def test_parse_formats(value: object, expected: tuple[str, ...]) -> None:
    assert parse_formats(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["docx", "pdf,slide", "", ","])
def test_unknown_formats_are_bad_input(value: str) -> None:
    with pytest.raises(FormatError, match="unknown output format") as info:
        parse_formats(value)
    assert info.value.exit_code == 2 and "pdf, slides, html" in str(info.value)


def test_documents_follow_the_mode_and_formats() -> None:
    assert documents(("handout", "exercises"), "slides,pdf") == ("slides", "handout", "exercises")
    assert documents(("handout",), ("html",)) == ("html",)


def test_cli_bad_format_exits_2(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["build", str(REFERENCE), "-o", str(tmp_path), "--format", "pdf,ppt"]
    result = runner.invoke(main, args)
    assert result.exit_code == 2 and "unknown output format 'ppt'" in result.output
    assert not list(tmp_path.iterdir())


@needs_beamer
def test_reference_slides(tmp_path: Path) -> None:
    """Every step has its frame and its heading; no frame is overfull (checked in the log)."""
    assert build_specs([REFERENCE], tmp_path, formats="slides", jobs=1, strict=True) == 0
    pdf = tmp_path / "reference-slides.pdf"
    assert not (tmp_path / "reference.pdf").exists()  # slides only: no handout asked for
    result = compile_pdf(tmp_path / "reference-slides.tex")  # again, to read its warnings
    assert not [w for w in result.warnings if w.startswith("Overfull")], result.warnings
    text = pdf_text(pdf)
    spec = load_spec(REFERENCE)
    steps = _step_kinds(spec)
    for kind in set(steps):
        assert HEADINGS[kind] in text, kind
    for derivation in spec.derivations:
        assert str(derivation.title) in text
    assert "Outline" in text and "Verified" in text
    assert pdf_pages(pdf) >= len(steps) + 1 + len(spec.derivations)  # + title, problems


def _step_kinds(spec: object) -> list[str]:
    from derivtex.project.texts import derive_all as _derive_all

    sections, problems = _derive_all(spec)  # type: ignore[arg-type]
    assert not problems
    return [step.kind for s in sections for step in s.steps]


@needs_beamer
def test_cli_derive_slides_with_png(tmp_path: Path) -> None:
    args = ["derive", "m = W x; y = V m", "--wrt", "x", "-s", "W=M x D", "-s", "x=D"]
    args += ["-s", "V=C x M", "-o", str(tmp_path), "--format", "slides", "--png"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "dy-dx-slides.pdf"
    assert str(pdf) in result.output and not (tmp_path / "dy-dx.pdf").exists()
    text = pdf_text(pdf)
    assert "Local derivative (L1)" in text and "Chain rule (C1)" in text and "by L2" in text
    assert len(list(tmp_path.glob("dy-dx-slides-*.png"))) == pdf_pages(pdf)


def test_slide_templates_override_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "mine" / "slides" / "steps"
    folder.mkdir(parents=True)
    (folder / "summary.tex.j2").write_text(
        "\\begin{frame}{My result}$<< step.lhs >> = << step.result >>$\\end{frame}\n"
    )
    from derivtex.api import derive
    from derivtex.rendering.document import render

    d = derive("y = W x", "x", {"W": "C x D", "x": "D"})
    tex = render(d, document="slides/deck", templates=tmp_path / "mine")
    assert "\\begin{frame}{My result}" in tex and "\\begin{frame}[t]{Sum expansion}" in tex


def test_spec_defaults_choose_formats(tmp_path: Path) -> None:
    from derivtex.errors import SpecError
    from derivtex.project.spec import parse_spec

    body = '\n[[derivation]]\ngiven = "y = W x"\nwrt = "x"\nshapes = { W = "C x D", x = "D" }\n'
    spec = parse_spec('title = "T"\n[defaults]\nformats = ["html", "pdf"]\n' + body)
    assert spec.formats == ("html", "pdf")
    assert parse_spec('title = "T"\n' + body).formats is None
    with pytest.raises(SpecError, match=r":3: .*'formats'.*unknown output format 'ppt'"):
        parse_spec('title = "T"\n[defaults]\nformats = ["ppt"]\n' + body)
    with pytest.raises(SpecError, match="expected an array of strings"):
        parse_spec('title = "T"\n[defaults]\nformats = "pdf"\n' + body)
    path = tmp_path / "one.toml"
    path.write_text('title = "T"\n[defaults]\nformats = ["html"]\n' + body)
    assert build_specs([path], tmp_path / "out", jobs=1) == 0
    assert (tmp_path / "out" / "one" / "index.html").is_file()
    assert not (tmp_path / "out" / "one.pdf").exists()


@needs_beamer
def test_hostile_titles_are_escaped_on_slides(tmp_path: Path) -> None:
    from derivtex.rendering.document import render, section
    from tests.test_render import HOSTILE, _derive

    d = _derive("matrix-times-column")
    sections = [section(d, title=t, intro=t) for t in HOSTILE]
    tex = tmp_path / "hostile-slides.tex"
    text = render(
        sections, title=HOSTILE[0], author=HOSTILE[1], intro=HOSTILE[2], document="slides/deck"
    )
    tex.write_text(text)
    shown = pdf_text(compile_pdf(tex).pdf)
    assert "root:" not in shown and "input{/etc/passwd}" in shown.replace("\\", "")
    assert "100% # _ & $" in shown


@pytest.mark.parametrize("pattern", ["slides/steps/{}.tex.j2", "html/steps/{}.html.j2"])
def test_every_step_kind_has_a_slide_and_a_page_template(pattern: str) -> None:
    from derivtex.derivation.steps import KINDS
    from derivtex.rendering.templatefiles import builtin_templates, template_names

    names = set(template_names(builtin_templates()))
    assert {pattern.format(kind) for kind in KINDS} <= names
    assert set(HEADINGS) == set(KINDS)


def test_project_config_chooses_formats_and_the_flag_wins(tmp_path: Path) -> None:
    from derivtex.project.config import read_config

    (tmp_path / "derivtex.toml").write_text('[defaults]\nformats = ["html"]\n')
    spec = tmp_path / "one.toml"
    spec.write_text(
        'title = "T"\n[[derivation]]\ngiven = "y = W x"\nwrt = "x"\n'
        'shapes = { W = "C x D", x = "D" }\n'
    )
    config = read_config(tmp_path / "derivtex.toml")
    assert config.defaults.formats == ("html",)
    assert build_specs([spec], tmp_path / "a", jobs=1, defaults=config.defaults) == 0
    assert (tmp_path / "a" / "one" / "index.html").is_file()
    assert not (tmp_path / "a" / "one.pdf").exists()
    code = build_specs([spec], tmp_path / "b", jobs=1, defaults=config.defaults, formats="pdf")
    assert code == 0 and (tmp_path / "b" / "one.pdf").is_file()
    assert not (tmp_path / "b" / "one").exists()
