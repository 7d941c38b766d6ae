"""The project config: found upwards, validated with file:line, flags win over it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner, Result

from derivtex.cli import main
from derivtex.errors import ConfigError, DerivtexError
from derivtex.options import Layout
from derivtex.project.build import build_specs
from derivtex.project.config import NO_CONFIG, find_config, load_config, read_config
from derivtex.project.spec import load_spec
from derivtex.tex.runner import tex_available

needs_tex = pytest.mark.skipif(not tex_available(), reason="needs latexmk/pdflatex")

SPEC = dedent("""\
    title = "Shapes from the project"
    [[derivation]]
    name = "linear"
    given = "y = W x"
    wrt = "x"
    """)

CONFIG = dedent("""\
    specs = ["lectures"]
    output = "handouts"
    mode = "both"
    jobs = 1
    [defaults]
    shapes = { W = "C x D", x = "D" }
    layout = "denominator"
    """)


def project(root: Path, config: str = CONFIG, name: str = "derivtex.toml") -> Path:
    (root / ".git").mkdir(parents=True)
    (root / name).write_text(config, encoding="utf-8")
    (root / "lectures").mkdir()
    (root / "lectures/week1.toml").write_text(SPEC, encoding="utf-8")
    return root


def run(cwd: Path, *args: str | Path) -> Result:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args], env={"GITHUB_ACTIONS": None})
    finally:
        os.chdir(old)


def test_the_config_is_found_upwards_and_paths_are_beside_it(tmp_path: Path, monkeypatch) -> None:
    root = project(tmp_path / "course")
    deep = root / "notes/week1"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    config = load_config()
    assert config.path == Path("../../derivtex.toml")
    assert config.specs == (Path("../../lectures"),)
    assert config.output == Path("../../handouts")
    assert (config.mode, config.jobs, config.strict, config.timeout) == ("both", 1, None, None)
    assert dict(config.defaults.shapes) == {"W": "C x D", "x": "D"}
    assert config.defaults.layout == Layout.DENOMINATOR


def test_the_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "derivtex.toml").write_text("jobs = 1\n")  # another project's, above the repo
    (tmp_path / "repo/.git").mkdir(parents=True)
    assert find_config(tmp_path / "repo") is None
    assert load_config(tmp_path / "repo") == NO_CONFIG


def test_pyproject_counts_only_with_a_tool_derivtex_table(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.derivtex]\noutput = "pdfs"\n')
    (root / "pkg").mkdir()
    (root / "pkg/pyproject.toml").write_text('[project]\nname = "x"\n')  # no table: look higher
    config = load_config(root / "pkg")
    assert config.path is not None and config.path.name == "pyproject.toml"
    assert config.output is not None and config.output.name == "pdfs"
    assert config.path.resolve() == (root / "pyproject.toml").resolve()


CONFIG_ERRORS = [
    pytest.param(
        "outputs = 'x'\n", 1, "unknown key 'outputs'", "did you mean 'output'?", id="typo"
    ),
    pytest.param("jobs = 2\nmode = 'bothh'\n", 2, "key 'mode': 'bothh' is not one of", "'both'"),
    pytest.param("jobs = 0\n", 1, "key 'jobs': expected a positive int, got 0", "jobs = 2"),
    pytest.param("strict = 'yes'\n", 1, "key 'strict': expected true or false", "strict = true"),
    pytest.param("timeout = true\n", 1, "key 'timeout': expected a positive number", "timeout"),
    pytest.param("timeout = nan\n", 1, "key 'timeout': expected a positive number", "timeout"),
    pytest.param("specs = 3\n", 1, "key 'specs': expected a path or an array", "specs = ["),
    pytest.param(
        "jobs = 1\n\n[defaults]\nlayout = 'numerator'\nlayuot = 'x'\n",
        5,
        "defaults: unknown key 'layuot'",
        "did you mean 'layout'?",
        id="defaults-typo",
    ),
    pytest.param(
        "[defaults]\nsteps = ['sum_expansoin']\n",
        2,
        "defaults: key 'steps': unknown step kind 'sum_expansoin'",
        "did you mean 'sum_expansion'?",
        id="defaults-step",
    ),
    pytest.param("jobs = 1\nmode = both\n", 2, "invalid TOML", "need quotes", id="toml"),
]


@pytest.mark.parametrize(("text", "line", "message", "hint"), CONFIG_ERRORS)
def test_config_errors_name_file_line_and_suggest(tmp_path: Path, text, line, message, hint):
    path = tmp_path / "derivtex.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"{path}:{line}: {message}"), first
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert caught.value.reason.startswith(message)
    assert hint in (caught.value.hint or "")
    assert caught.value.exit_code == 2


def test_pyproject_errors_point_into_its_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n\n[tool.derivtex]\njobs = 1\njobz = 2\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml:6: unknown key 'jobz'") as caught:
        read_config(path)
    assert caught.value.hint == "did you mean 'jobs'?"


def test_a_tool_key_that_is_no_table_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("tool = 3\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml:1: key 'tool': expected a table"):
        read_config(path)


def test_a_bad_config_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    root = project(tmp_path / "course", CONFIG.replace("jobs = 1", "jobs = 'many'"))
    result = run(root / "lectures", "check")
    assert result.exit_code == 2
    assert result.output.startswith("error: ../derivtex.toml:4: key 'jobs'")
    assert "Traceback" not in result.output


def test_no_paths_and_no_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    result = run(tmp_path, "build")
    assert result.exit_code == 2
    assert "no spec files given, and no derivtex.toml" in result.output
    assert "derivtex init" in result.output


def test_config_settings_apply_and_flags_win(tmp_path: Path) -> None:
    root = project(tmp_path / "course")
    done = run(root, "build", "--tex-only")
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (root / "handouts").glob("*.tex")) == [
        "week1-exercises.tex",  # mode = "both"
        "week1.tex",
    ]
    assert "denominator layout" in (root / "handouts/week1.tex").read_text()
    flags = run(root, "build", "--tex-only", "-o", "mine", "--mode", "solutions", "lectures")
    assert flags.exit_code == 0, flags.output
    assert [p.name for p in (root / "mine").glob("*.tex")] == ["week1.tex"]


def test_spec_defaults_win_over_the_configs(tmp_path: Path) -> None:
    root = project(tmp_path / "course")
    spec = root / "lectures/week1.toml"
    spec.write_text(
        SPEC.replace("[[derivation]]", '[defaults]\nlayout = "numerator"\n[[derivation]]')
    )
    config = load_config(root)
    (only,) = load_spec(spec, config.defaults).derivations
    assert only.layout == "numerator" and dict(only.shapes) == {"W": "C x D", "x": "D"}


def test_check_uses_the_configs_defaults(tmp_path: Path) -> None:
    root = project(tmp_path / "course")
    assert run(root, "check").exit_code == 0
    # Without the config's shapes, the spec is incomplete.
    with pytest.raises(DerivtexError, match="missing required key 'shapes'"):
        load_spec(root / "lectures/week1.toml")


@pytest.mark.tex
@needs_tex
def test_a_change_of_the_configs_defaults_rebuilds(tmp_path: Path) -> None:
    root = project(tmp_path / "course", CONFIG.replace('mode = "both"\n', ""))
    assert run(root, "build").exit_code == 0
    unchanged = run(root, "build")
    assert "0 built, 1 unchanged" in unchanged.output
    (root / "derivtex.toml").write_text(CONFIG.replace('"denominator"', '"numerator"'))
    rebuilt = run(root, "build")
    assert "1 built, 0 unchanged" in rebuilt.output, rebuilt.output


@pytest.mark.tex
@needs_tex
def test_steps_and_lists_of_variables_reach_the_pdf(tmp_path: Path) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text(
        dedent("""\
        title = "Steps"
        [defaults]
        shapes = { W = "C x D", x = "D" }
        [[derivation]]
        name = "all"
        given = "y = W x"
        wrt = ["W", "x"]
        [[derivation]]
        name = "few"
        title = "Only the formula"
        given = "y = W x"
        wrt = "x"
        steps = []
        """)
    )
    assert build_specs([spec], tmp_path / "out", jobs=1) == 0
    text = subprocess.run(
        ("pdftotext", str(tmp_path / "out/net.pdf"), "-"), capture_output=True, text=True
    ).stdout
    assert "all: by W" in text and "all: by x" in text
    by_x, few = text[text.index("all: by x") :].split("Only the formula")  # the same derivation
    assert "Per-term partial" in by_x and "Per-term partial" not in few
