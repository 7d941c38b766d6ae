"""Rendering and building handouts: golden .tex, real PDFs read back, safety of user text."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import derivtex
from derivtex.api import derive, write_handout
from derivtex.cli import main
from derivtex.derivation.steps import KINDS
from derivtex.errors import InputError
from derivtex.rendering.document import render, section
from derivtex.tex.runner import compile_pdf, tex_available

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
needs_tex = pytest.mark.skipif(not tex_available(), reason="no TeX engine (latexmk/pdflatex)")

REFERENCE = {
    "matrix-times-column": ("y = W x", {"W": "C x D", "x": "D"}, "x", {"y": 3, "x": 7}),
    "row-times-matrix": ("y = x W", {"x": "1 x D", "W": "D x C"}, "x", {"y": 3, "x": 7}),
    "derivative-by-a-matrix": ("y = x W", {"x": "1 x D", "W": "D x C"}, "W", {"W": (7, 8)}),
    "multiple-data-points": ("Y = X W", {"X": "N x D", "W": "D x C"}, "X", None),
    "chain-rule": ("y = V W x", {"V": "C x M", "W": "M x D", "x": "D"}, "x", None),
}


def _derive(name: str) -> derivtex.Derivation:
    text, shapes, wrt, example = REFERENCE[name]
    return derivtex.derive(text, wrt, shapes, example=example)


def pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_golden_tex(name: str, update_golden: bool) -> None:
    tex = render(_derive(name), title=name)
    path = GOLDEN / f"{name}.tex"
    if update_golden:
        path.write_text(tex)
    assert path.exists(), "run pytest --update-golden once and review the new files"
    assert _unmeasured(tex) == _unmeasured(path.read_text())


def _unmeasured(tex: str) -> str:
    """The .tex with the finite-difference error figures masked: they vary with the BLAS."""
    return re.sub(r"\d\.\de\{-\}\d+", "<error>", tex)


@needs_tex
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # the expansion, the marked term, the per-term partial and the result of section 1
        ("matrix-times-column", ["Sum expansion", "Per-term partial", "Jacobian assembly", "W3,7"]),
        ("row-times-matrix", ["numerator layout", "Arranged the other way", "W7,3"]),
        ("derivative-by-a-matrix", ["Tensor structure", "Fi,j,i", "Gi,j", "every other entry"]),
        ("multiple-data-points", ["Stacked data points", "unless the rows match"]),
        ("chain-rule", ["Chain rule", "Local derivative", "by (L1)", "V W"]),
    ],
)
def test_reference_pdf_text(tmp_path: Path, name: str, expected: list[str]) -> None:
    tex = tmp_path / f"{name}.tex"
    tex.write_text(render(_derive(name), title=name))
    result = compile_pdf(tex)
    text = " ".join(pdf_text(result.pdf).split())
    for fragment in expected:
        assert fragment in text, fragment
    assert not [w for w in result.warnings if w.startswith("Overfull")]


@needs_tex
def test_cli_derive_writes_pdf_and_is_deterministic(tmp_path: Path) -> None:
    args = ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D", "--name", "h"]
    runner = CliRunner()
    first = runner.invoke(main, [*args, "-o", str(tmp_path / "a")])
    second = runner.invoke(main, [*args, "-o", str(tmp_path / "b")])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    a, b = tmp_path / "a" / "h.pdf", tmp_path / "b" / "h.pdf"
    assert str(a) in first.output
    assert a.read_bytes() == b.read_bytes()


def test_cli_tex_only_and_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        main,
        [
            "derive",
            "y = W x",
            "--wrt",
            "x",
            "-s",
            "W=C x D",
            "-s",
            "x=D",
            "--tex-only",
            "-o",
            str(tmp_path),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "dy-dx.tex").exists() and not (tmp_path / "dy-dx.pdf").exists()
    bad = runner.invoke(main, ["derive", "y = W x +", "--wrt", "x", "-s", "W=C x D", "-s", "x=D"])
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output
    assert "^" in bad.output and "hint:" in bad.output


def test_no_tex_message_and_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no latexmk on an empty PATH
    result = CliRunner().invoke(
        main,
        ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D", "-o", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "texlive-latex-base" in result.output
    assert (tmp_path / "dy-dx.tex").exists()


HOSTILE = [
    r"\input{/etc/passwd}",
    r"\write18{touch /tmp/derivtex-pwned}",
    r"100% # _ & \$ ~ ^",  # a dollar sign alone would open math: $...$ in prose
    "Ünïcödé — 微分 🎉",
    "{unbalanced",
]


@needs_tex
def test_hostile_titles_are_escaped(tmp_path: Path) -> None:
    d = _derive("matrix-times-column")
    sections = [section(d, title=t, intro=t) for t in HOSTILE]
    tex = tmp_path / "hostile.tex"
    tex.write_text(render(sections, title=HOSTILE[0], author=HOSTILE[1], intro=HOSTILE[2]))
    result = compile_pdf(tex)
    text = pdf_text(result.pdf)
    assert "root:" not in text
    assert "input{/etc/passwd}" in text.replace("\\", "")
    assert not Path("/tmp/derivtex-pwned").exists()
    assert "100% # _ & $" in text


@needs_tex
def test_user_template_override(tmp_path: Path) -> None:
    user = tmp_path / "tpl" / "steps"
    user.mkdir(parents=True)
    (user / "summary.tex.j2").write_text("\\paragraph{Custom summary.} << step.layout >>\n")
    tex = tmp_path / "o.tex"
    tex.write_text(render(_derive("matrix-times-column"), templates=tmp_path / "tpl"))
    text = pdf_text(compile_pdf(tex).pdf)
    assert "Custom summary. numerator" in text
    assert "Verified" not in text


def test_user_preamble_extends_the_builtin_one_without_recursing(tmp_path: Path) -> None:
    user = tmp_path / "tpl"
    user.mkdir()
    (user / "preamble.tex.j2").write_text(
        '<% extends "builtin/preamble.tex.j2" %>\n'
        "<% block packages %><< super() >>\\usepackage{bm}% mine\n<% endblock %>\n"
    )
    tex = render(_derive("matrix-times-column"), templates=user)
    assert "\\usepackage{bm}% mine" in tex
    assert "\\usepackage{amsmath}" in tex and "\\begin{document}" in tex
    if tex_available():
        path = tmp_path / "o.tex"
        path.write_text(tex)
        assert compile_pdf(path).pdf.is_file()


def test_wheel_ships_templates(tmp_path: Path) -> None:
    """After a plain (non-editable) install the built-in templates are found."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    target = tmp_path / "site"
    (wheel,) = wheels.glob("derivtex-*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import derivtex, pathlib; "
        "assert 'site' in pathlib.Path(derivtex.__file__).parts[-3]; "
        "print(derivtex.render(derivtex.derive('y = W x', 'x', {'W': 'C x D', 'x': 'D'}))[:60])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert "documentclass" in out.stdout


def test_export_templates_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["templates", "export", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "steps" / "chain_rule.tex.j2").exists()
    again = CliRunner().invoke(main, ["templates", "export", str(tmp_path / "t")])
    assert again.exit_code != 0


def test_version_and_help() -> None:
    runner = CliRunner()
    assert derivtex.__version__ in runner.invoke(main, ["--version"]).output
    for cmd in (["--help"], ["derive", "--help"], ["plan", "--help"], ["build", "--help"]):
        result = runner.invoke(main, cmd)
        assert result.exit_code == 0 and "Usage" in result.output


def test_repr_latex() -> None:
    latex = _derive("matrix-times-column")._repr_latex_()
    assert latex == r"$\frac{\partial \vec{y}_{i}}{\partial \vec{x}_{j}} = W_{i,j}$"


def test_module_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "derivtex", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0 and "derivtex" in out.stdout
    assert shutil.which("python3")


def test_missing_template_folder_is_bad_input(tmp_path: Path) -> None:
    args = ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D", "--tex-only"]
    result = CliRunner().invoke(main, [*args, "--templates", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "template folder not found" in result.output and "hint:" in result.output


def test_repr_markdown_shows_every_step_with_math() -> None:
    text = _derive("matrix-times-column")._repr_markdown_()
    for heading in ("Component formula", "Sum expansion", "Per-term partial", "Result"):
        assert f"\n### {heading}\n" in text
    assert "&= W_{3,7}" in text and "\\boxed{W_{3,7} \\vec{x}_{7}}" in text


MANY = [
    ("L = a^T x", {"a": "D", "x": "D"}, "x"),
    ("L = x^T A x", {"A": "D x D", "x": "D"}, "x"),
    ("L = x^T A x", {"A": "D x D symmetric", "x": "D"}, "x"),
    ("L = tr(B A)", {"A": "D x D symmetric", "B": "D x D"}, "A"),
    ("L = tr(inv(X) A)", {"X": "D x D", "A": "D x D"}, "X"),
    ("L = log(det(X))", {"X": "D x D"}, "X"),
    ("L = a^T X b", {"a": "C", "X": "C x D", "b": "D"}, "X"),
    ("L = tr(A X B)", {"A": "E x C", "X": "C x D", "B": "D x E"}, "X"),
    ("Y = A X B", {"A": "E x C", "X": "C x D", "B": "D x F"}, "X"),
    ("y = A B C x", {"A": "E x F", "B": "F x G", "C": "G x H", "x": "H"}, "B"),
    ("L = norm(W x - t)^2", {"W": "C x D", "x": "D", "t": "C"}, "x"),
    ("y = sigmoid(W x + b)", {"W": "C x D", "x": "D", "b": "C"}, "b"),
    ("y = tanh(W x)", {"W": "C x D", "x": "D"}, "W"),
    ("y = exp(x)", {"x": "D"}, "x"),
    ("y = x .* z", {"x": "D", "z": "D"}, "x"),
    ("L = sum(x)", {"x": "D"}, "x"),
    ("L = tr(X^T X)", {"X": "C x D"}, "X"),
    ("L = norm(x)", {"x": "D"}, "x"),
    ("L = sin(a^T x)", {"a": "D", "x": "D"}, "x"),
    ("y = s x", {"s": "1", "x": "D"}, "s"),
    ("y = relu(W x) + softplus(W x)", {"W": "3 x 2", "x": "2"}, "x"),
    ("Y = X W", {"X": "N x D", "W": "D x C"}, "W"),
    ("Y = X W", {"X": "N x D", "W": "D x C"}, "X"),
    ("h = sigmoid(W1 x + b1); y = W2 h + b2; L = norm(y - t)^2",
     {"W1": "H x D", "x": "D", "b1": "H", "W2": "C x H", "b2": "C", "t": "C"}, "b1"),
    ("y = x_hat W + alpha b", {"x_hat": "1 x D", "W": "D x C", "alpha": "1", "b": "1 x C"},
     "alpha"),
    ("p = softmax(z)", {"z": "C"}, "z"),
    ("p = softmax(W x)", {"W": "C x D", "x": "D"}, "x"),
]  # fmt: skip


@needs_tex
def test_many_derivations_render_and_compile(tmp_path: Path) -> None:
    """Every step kind, in both layouts and both vector styles, through TeX without an error."""
    sections = [
        section(
            derivtex.derive(text, wrt, shapes, layout=("numerator", "denominator")[n % 2]),
            title=text,
            vectors=("arrow", "bold")[n % 3 == 0],
        )
        for n, (text, shapes, wrt) in enumerate(MANY)
    ]
    hessian = derivtex.derive(
        "L = norm(W x - t)^2", "x", {"W": "C x D", "x": "D", "t": "C"}, order=2
    )
    sections.append(section(hessian, title="A Hessian"))
    kinds = {step.kind for s in sections for step in s.steps}
    assert kinds == set(KINDS)
    tex = tmp_path / "many.tex"
    tex.write_text(render(sections, title="Many"))
    result = compile_pdf(tex, timeout=180)
    text = pdf_text(result.pdf)
    assert text.count("Verified") == len(MANY) + 1
    assert not [w for w in result.warnings if w.startswith("Overfull")]


DERIVE = ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D", "--tex-only"]


@pytest.mark.parametrize(
    "name", ["../../x", "../x", "..", ".", ".hidden", "a/b", "/tmp/x", "a\\b", "", "a..b", "x y"]
)
def test_cli_name_must_be_one_safe_file_name(tmp_path: Path, name: str) -> None:
    out = tmp_path / "a" / "b" / "out"
    result = CliRunner().invoke(main, [*DERIVE, "-o", str(out), "--name", name])
    assert result.exit_code == 2, result.output
    assert "not a plain file name" in result.output
    assert "hint:" in result.output
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing written anywhere


@pytest.mark.parametrize("name", ["h", "dy-dx", "handout_2.v1", "A9"])
def test_cli_plain_names_are_kept(tmp_path: Path, name: str) -> None:
    result = CliRunner().invoke(main, [*DERIVE, "-o", str(tmp_path), "--name", name])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.tex"]


def test_write_handout_refuses_a_name_that_leaves_the_folder(tmp_path: Path) -> None:
    d = derive("y = W x", "x", {"W": "C x D", "x": "D"})
    with pytest.raises(InputError, match="not a plain file name"):
        write_handout(d, tmp_path / "out", name="../escaped", tex_only=True)
    assert not (tmp_path / "escaped.tex").exists()
    assert not (tmp_path / "out").exists()


@needs_tex
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_exits_130_without_traceback_and_stops_tex(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    # A preamble that never ends: TeX is still running when Ctrl-C comes.
    (templates / "preamble.tex.j2").write_text("\\documentclass{article}\\def\\x{\\x}\\x\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    args = [*DERIVE[:-1], "--templates", str(templates), "-o", str(tmp_path / "out")]
    proc = subprocess.Popen(
        (sys.executable, "-m", "derivtex", *args),
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(temp.glob("derivtex-tex-*/document.log")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        assert list(temp.iterdir()), "TeX never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted"
    assert "Traceback" not in err
    assert list(temp.iterdir()) == []
    assert not (tmp_path / "out" / "dy-dx.pdf").exists()


@needs_tex
def test_broadcast_and_kink_notes_are_stated_in_the_handout(tmp_path: Path) -> None:
    """What the language does silently (numpy broadcasting, a kink) is said on the page."""
    bias = derive(
        "Y = X W + b^T; L = norm(Y - T)^2",
        "b",
        {"X": "N x D", "W": "D x C", "b": "C", "T": "N x C"},
    )
    kink = derive("y = abs(x)", "x", {"x": "D"})
    tex = tmp_path / "notes.tex"
    tex.write_text(render([bias, kink], title="Notes"))
    text = " ".join(pdf_text(compile_pdf(tex).pdf).split())
    assert "Note. In Y, a row (1 x C) is repeated down the N rows" in text
    assert "holds where u is not 0 (u = x_i)" in text


@needs_tex
def test_derive_reports_an_overfull_box_as_a_warning(tmp_path: Path) -> None:
    wide = tmp_path / "wide" / "steps"
    wide.mkdir(parents=True)
    (wide / "summary.tex.j2").write_text("\\noindent\\rule{3\\textwidth}{1pt}\\par\n")
    args = ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D"]
    result = CliRunner().invoke(
        main, [*args, "-o", str(tmp_path / "a"), "--templates", str(tmp_path / "wide")]
    )
    assert result.exit_code == 0, result.output
    assert "warning: dy-dx.pdf: overfull box" in result.stderr
    assert (tmp_path / "a" / "dy-dx.pdf").exists()  # a warning: the PDF is still written
    clean = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "b")])
    assert clean.exit_code == 0 and "overfull" not in clean.stderr


@needs_tex
def test_derive_strict_fails_on_an_overfull_box_and_keeps_both_pdfs(tmp_path: Path) -> None:
    """--strict: exit 1 with the box named; the new PDF is kept aside, the last good one stays."""
    wide = tmp_path / "wide" / "steps"
    wide.mkdir(parents=True)
    (wide / "summary.tex.j2").write_text("\\noindent\\rule{3\\textwidth}{1pt}\\par\n")
    out = tmp_path / "out"
    args = ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D", "-o", str(out)]
    good = CliRunner().invoke(main, [*args, "--strict"])
    assert good.exit_code == 0, good.output
    assert not (out / "dy-dx.failed.pdf").exists()
    before = (out / "dy-dx.pdf").read_bytes()

    too_wide = ["--templates", str(tmp_path / "wide"), "--force"]  # --force: other content
    failed = CliRunner().invoke(main, [*args, "--strict", *too_wide])
    assert failed.exit_code == 1, failed.output
    assert "Traceback" not in failed.output
    assert "dy-dx.pdf: 1 TeX problem (--strict)" in failed.stderr
    assert "overfull box" in failed.stderr and "dy-dx.failed.pdf" in failed.stderr
    assert (out / "dy-dx.pdf").read_bytes() == before  # the last good PDF
    rejected = pdf_text(out / "dy-dx.failed.pdf")
    assert rejected.startswith("The derivative of y by x")  # a whole handout, readable

    again = CliRunner().invoke(main, [*args, "--strict", "--force"])  # fixed: it goes away
    assert again.exit_code == 0, again.output
    assert not (out / "dy-dx.failed.pdf").exists()
