"""derivtex build, check and init: incremental and parallel builds of spec files, real TeX."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from derivtex.cli import main
from derivtex.project import stamps
from derivtex.project.build import Task, _prepare
from derivtex.project.report import Outcome, Problem, style
from derivtex.project.spec import load_spec
from derivtex.tex.runner import tex_available

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "neural-network.toml"

needs_tex = pytest.mark.skipif(
    not (tex_available() and shutil.which("pdftotext")),
    reason="needs latexmk, pdflatex (TeX Live) and pdftotext (poppler-utils) on PATH",
)

GOOD = """\
title = "Good handout"
[[derivation]]
name = "linear"
given = "y = W x"
shapes = { W = "C x D", x = "D" }
wrt = "x"
"""

# Line 4 holds the bad derivation's `given`, line 10 the other one's.
BAD = """\
title = "Bad handout"
[[derivation]]
name = "typo"
given = "y = sigmod(W x)"
shapes = { W = "C x D", x = "D" }
wrt = "x"

[[derivation]]
name = "shapes"
given = "y = W x"
shapes = { W = "C x D", x = "C" }
wrt = "x"

[[derivation]]
name = "fine"
given = "y = W x"
shapes = { W = "C x D", x = "D" }
wrt = "x"
"""

MALFORMED = """\
title = "No shapes"
[[derivation]]
name = "lost"
given = "y = W x"
wrt = "x"
"""


def run(*args: str | Path, **env: str | None) -> Result:
    # Not GITHUB_ACTIONS of the machine running the tests: it adds annotation lines.
    env = {"GITHUB_ACTIONS": None, **env}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def pdf_text(pdf: Path) -> str:
    done = subprocess.run(("pdftotext", str(pdf), "-"), capture_output=True, text=True, check=True)
    return done.stdout


def problem_lines(output: str, spec: Path) -> list[str]:
    return sorted(line for line in output.splitlines() if line.startswith(f"{spec}:"))


# --- build ---


@pytest.mark.tex
@needs_tex
def test_example_sheet_has_problems_only_and_solutions_have_steps(tmp_path: Path) -> None:
    result = run("build", EXAMPLE, "-o", tmp_path, "--mode", "both")
    assert result.exit_code == 0, result.output
    assert "built neural-network.pdf, neural-network-exercises.pdf" in result.output
    assert result.output.endswith("1 built, 0 unchanged, 0 failed\n")
    sheet = pdf_text(tmp_path / "neural-network-exercises.pdf")
    solutions = pdf_text(tmp_path / "neural-network.pdf")
    titles = [d.title for d in load_spec(EXAMPLE).derivations]
    for text in (sheet, solutions):
        assert all(title in text for title in titles)
        assert "Problem." in text and "find" in text
    for worked in ("Component formula", "Chain rule", "Result", "Verified"):
        assert worked not in sheet
        assert worked in solutions
    assert (tmp_path / "neural-network.tex").is_file()
    assert (tmp_path / "neural-network-exercises.tex").is_file()


@pytest.mark.tex
@needs_tex
def test_unchanged_specs_are_skipped_and_changes_rebuild(tmp_path: Path) -> None:
    with_templates = GOOD.replace("[[", '[defaults]\ntemplates = "tpl"\n[[', 1)
    spec = write(tmp_path, "good.toml", with_templates)
    summary = write(tmp_path, "tpl/steps/summary.tex.j2", "\\paragraph{First marker.}\n")
    out, pdf = tmp_path / "out", tmp_path / "out" / "good.pdf"
    assert "built good.pdf" in run("build", spec, "-o", out).output
    assert "First marker." in pdf_text(pdf)
    before = (pdf.stat().st_mtime_ns, pdf.read_bytes())

    again = run("build", spec, "-o", out)
    assert again.exit_code == 0
    assert again.output == "unchanged good\n0 built, 1 unchanged, 0 failed\n"
    assert (pdf.stat().st_mtime_ns, pdf.read_bytes()) == before

    summary.write_text("\\paragraph{Second marker.}\n", encoding="utf-8")
    assert "built good.pdf" in run("build", spec, "-o", out).output
    assert "Second marker." in pdf_text(pdf)

    spec.write_text(spec.read_text().replace("Good handout", "Renamed handout"), encoding="utf-8")
    assert "built good.pdf" in run("build", spec, "-o", out).output
    assert "Renamed handout" in pdf_text(pdf)

    # A new mode builds only the document that is missing.
    both = run("build", spec, "-o", out, "--mode", "both")
    assert "built good-exercises.pdf (" in both.output
    assert "unchanged" in run("build", spec, "-o", out, "--mode", "both").output


@pytest.mark.tex
@needs_tex
def test_a_bad_derivation_fails_its_spec_while_the_others_build(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    good, bad = write(specs, "good.toml", GOOD), write(specs, "bad.toml", BAD)
    result = run("build", specs, "-o", tmp_path / "out")  # two specs: a process pool
    assert result.exit_code == 2  # bad input (an unknown function, a shape mismatch)
    assert "built good.pdf" in result.output
    assert f"FAILED {bad}" in result.output
    assert f"{bad}:4: derivation 'typo': unknown function 'sigmod'\n" in result.output
    assert "    y = sigmod(W x)\n        ^^^^^^\n" in result.output  # the caret, indented
    assert f"{bad}:10: derivation 'shapes': " in result.output
    assert "'fine'" not in result.output
    assert result.output.endswith("1 built, 0 unchanged, 1 failed\n")
    assert not (tmp_path / "out" / "bad.pdf").exists()

    # A failed rebuild keeps the last good PDF and its stamp.
    pdf, stamp = tmp_path / "out" / "good.pdf", tmp_path / "out" / ".derivtex" / "good.json"
    before = (pdf.read_bytes(), stamp.read_bytes())
    good.write_text(BAD.replace("Bad handout", "Broken now"), encoding="utf-8")
    assert run("build", good, "-o", tmp_path / "out").exit_code == 2
    assert (pdf.read_bytes(), stamp.read_bytes()) == before


@pytest.mark.tex
@needs_tex
def test_check_reports_exactly_what_build_reports(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    bad, malformed = write(specs, "bad.toml", BAD), write(specs, "malformed.toml", MALFORMED)
    themed = write(specs, "themed.toml", GOOD.replace("[[", '[defaults]\ntemplates = "tpl"\n[[', 1))
    write(specs, "tpl/steps/summary.tex.j2", "<< step.no_such_field >>\n")
    built = run("build", specs, "-o", tmp_path / "out")
    checked = run("check", specs)
    assert built.exit_code == checked.exit_code == 2  # a malformed spec outranks a failed one
    for spec in (bad, malformed, themed):
        assert problem_lines(built.output, spec) == problem_lines(checked.output, spec)
    assert len(problem_lines(checked.output, bad)) == 2
    assert problem_lines(checked.output, malformed) == [
        f"{malformed}:2: derivation 'lost': missing required key 'shapes'"
    ]
    assert "no_such_field" in problem_lines(checked.output, themed)[0]
    assert checked.output.endswith("0 checked, 3 failed\n")
    assert not (tmp_path / "out" / "themed.pdf").exists()


def test_check_passes_good_specs_and_fails_on_one_bad_derivation(tmp_path: Path) -> None:
    good, bad = write(tmp_path, "good.toml", GOOD), write(tmp_path, "bad.toml", BAD)
    assert run("check", good).exit_code == 0
    assert run("check", good).output == f"checked {good}\n1 checked, 0 failed\n"
    result = run("check", good, bad)
    assert result.exit_code == 2
    assert f"FAILED {bad}" in result.output


@pytest.mark.tex
@needs_tex
def test_two_builds_at_once_both_leave_intact_pdfs(tmp_path: Path) -> None:
    spec, out = write(tmp_path, "good.toml", GOOD), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GITHUB_ACTIONS": ""}
    command = (sys.executable, "-m", "derivtex", "build", str(spec), "-o", str(out), "--force")
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE) for _ in range(2)]
    for proc in procs:
        stdout, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        assert b"built good.pdf" in stdout
    assert "Good handout" in pdf_text(out / "good.pdf")
    assert sorted(p.name for p in out.iterdir()) == [".derivtex", "good.pdf", "good.tex"]
    assert [p.name for p in (out / ".derivtex").iterdir()] == ["good.json"]  # no leftovers


@pytest.mark.tex
@needs_tex
def test_strict_fails_on_an_overfull_box_and_keeps_the_pdf_aside(tmp_path: Path) -> None:
    spec = write(tmp_path, "wide.toml", GOOD.replace("wrt", f'intro = "{"W" * 300}"\nwrt'))
    strict = run("build", spec, "-o", tmp_path, "--strict")
    assert strict.exit_code == 1
    overfull = re.search(
        r"wide\.pdf: overfull box, ([0-9.]+)pt too wide at line (\d+)", strict.output
    )
    assert overfull is not None, strict.output
    assert float(overfull[1]) > 1000  # 300 W's in a 16 cm line
    assert "in section 'linear' (--strict; see wide.failed.pdf)" in strict.output
    assert not (tmp_path / "wide.pdf").exists()
    assert "W" * 40 in pdf_text(tmp_path / "wide.failed.pdf")  # there to look at
    plain = run("build", spec, "-o", tmp_path)  # not strict: a warning, and the PDF
    assert plain.exit_code == 0
    assert f"{spec}: warning: wide.pdf: overfull box" in plain.output
    assert (tmp_path / "wide.pdf").exists() and not (tmp_path / "wide.failed.pdf").exists()


def test_malformed_spec_exits_2_with_file_and_line(tmp_path: Path) -> None:
    spec = write(tmp_path, "malformed.toml", MALFORMED)
    result = run("build", spec, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert f"{spec}:2: derivation 'lost': missing required key 'shapes'\n" in result.output
    assert "  hint: add shapes = " in result.output


def test_specs_that_would_overwrite_each_other_are_refused(tmp_path: Path) -> None:
    one, two = write(tmp_path, "a/same.toml", GOOD), write(tmp_path, "b/same.toml", GOOD)
    result = run("build", one, two, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "would both write" in result.output


def test_bad_options_are_refused(tmp_path: Path) -> None:
    spec = write(tmp_path, "good.toml", GOOD)
    assert "at least one job" in run("build", spec, "--jobs", "0").output


def fake_build(spec: Path, out: Path, mode: str, strict: bool) -> None:
    """Stamp the outputs of spec as built, with placeholder files: no TeX needed."""
    task = _prepare(spec, out, mode, strict, False, 1.0)
    assert isinstance(task, Task)
    for output in task.outputs:
        for path in (output.pdf, output.tex, output.stamp):
            path.parent.mkdir(parents=True, exist_ok=True)
        output.pdf.write_bytes(b"%PDF-")
        output.tex.write_text("tex")
        output.stamp.write_text(f'{{"fingerprint": "{output.fingerprint}"}}')


@pytest.mark.parametrize(
    ("change", "stale"),
    [
        ("nothing", ()),
        ("strict", ("good",)),
        ("mode", ("good-exercises",)),
        ("version", ("good",)),
        ("template", ("good",)),
        ("spec", ("good",)),
        ("pdf deleted", ("good",)),
    ],
)
def test_what_makes_an_output_stale(tmp_path: Path, monkeypatch, change, stale) -> None:
    spec = write(tmp_path, "good.toml", GOOD.replace("[[", '[defaults]\ntemplates = "tpl"\n[[', 1))
    write(tmp_path, "tpl/steps/summary.tex.j2", "one")
    fake_build(spec, tmp_path / "out", "solutions", False)
    mode, strict = ("both" if change == "mode" else "solutions"), change == "strict"
    if change == "version":
        monkeypatch.setattr(stamps, "__version__", "99.0")
    if change in ("template", "spec"):
        target = tmp_path / ("tpl/steps/summary.tex.j2" if change == "template" else "good.toml")
        target.write_text(target.read_text() + "\n# changed\n")
    if change == "pdf deleted":
        (tmp_path / "out" / "good.pdf").unlink()
    result = _prepare(spec, tmp_path / "out", mode, strict, False, 1.0)
    if not stale:
        assert result == Outcome(spec, "unchanged")
    else:
        assert isinstance(result, Task)
        assert tuple(output.pdf.stem for output in result.outputs) == stale


# --- reporting ---


def test_github_actions_annotations(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.toml", BAD)
    annotated = run("check", bad, GITHUB_ACTIONS="true").output
    assert f"::error file={bad},line=4::derivation 'typo': unknown function 'sigmod'\n" in annotated
    assert "::error" not in run("check", bad).output


def test_annotations_escape_workflow_command_syntax() -> None:
    problem = Problem("dir/a:b,c.toml", 3, "50% off\nnext")
    assert problem.annotation() == "::error file=dir/a%3Ab%2Cc.toml,line=3::50%25 off%0Anext"
    assert Problem("x.toml", None, "m").annotation() == "::error file=x.toml::m"


@pytest.mark.parametrize(("no_color", "coloured"), [("1", False), ("", True)])
def test_no_color_turns_colour_off(monkeypatch: pytest.MonkeyPatch, no_color, coloured) -> None:
    monkeypatch.setenv("NO_COLOR", no_color)
    assert ("\x1b[" in style("failed")) is coloured
    assert "FAILED" in style("failed")


def test_build_tex_only_writes_the_tex_without_tex_on_path(tmp_path: Path) -> None:
    spec = write(tmp_path, "specs/good.toml", GOOD)
    empty = tmp_path / "no-tex"
    empty.mkdir()
    out = tmp_path / "out"
    result = run("build", spec.parent, "-o", out, "--mode", "both", "--tex-only", PATH=str(empty))
    assert result.exit_code == 0, result.output
    assert "written good.tex, good-exercises.tex" in result.output
    assert result.output.endswith("1 written, 0 failed\n")
    assert "\\begin{document}" in (out / "good.tex").read_text()
    assert (out / "good-exercises.tex").is_file()
    assert not list(out.glob("*.pdf"))
    again = run("build", spec, "-o", out, "--tex-only", PATH=str(empty))
    assert again.output.endswith("1 written, 0 failed\n"), again.output


# --- answer_space: the room after each exercise (issue 11) ---

SPACED = """\
title = "Spaced sheet"
[defaults]
answer_space = "1cm"
shapes = { W = "C x D", x = "D" }

[[derivation]]
name = "roomy"
given = "y = W x"
wrt = "x"
answer_space = "5cm"

[[derivation]]
name = "tight"
given = "y = W x"
wrt = "W"
"""


def _problem_tops(pdf: Path) -> list[float]:
    """The y (points from the top) of each 'Problem.' on the first page, read back by poppler."""
    args = ("pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-")
    page = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [
        float(y) for y in re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)"[^>]*>Problem\.<', page)
    ]


@pytest.mark.tex
@needs_tex
def test_answer_space_leaves_that_room_after_each_exercise(tmp_path: Path) -> None:
    write(tmp_path, "specs/spaced.toml", SPACED)
    write(tmp_path, "specs/plain.toml", SPACED.replace('answer_space = "5cm"\n', ""))
    result = run("build", tmp_path / "specs", "-o", tmp_path / "out", "--mode", "exercises")
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "out" / "spaced-exercises.tex").read_text(encoding="utf-8")
    assert tex.count("\\vspace{5cm}") == 1 and tex.count("\\vspace{1cm}") == 1
    spaced = _problem_tops(tmp_path / "out" / "spaced-exercises.pdf")
    plain = _problem_tops(tmp_path / "out" / "plain-exercises.pdf")
    # The same problems, headings and sheet: the gaps differ by 5cm - 1cm, 114pt.
    gap = (spaced[1] - spaced[0]) - (plain[1] - plain[0])
    assert gap == pytest.approx(4 * 72.27 / 2.54, abs=2)


def test_a_bad_answer_space_is_bad_input_at_its_line(tmp_path: Path) -> None:
    spec = write(tmp_path, "spaced.toml", SPACED.replace('"5cm"', '"9 furlongs"'))
    result = run("build", spec, "-o", tmp_path / "out", "--mode", "exercises")
    assert result.exit_code == 2
    assert f"{spec}:10: derivation 'roomy': key 'answer_space': '9 furlongs' is not a TeX" in (
        result.output
    )
    assert "hint:" in result.output and "Traceback" not in result.output
