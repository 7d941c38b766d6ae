"""The command line loads only what a command needs, and its fast exit loses no output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LOADED = """
import sys
from derivtex.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print("LOADED", ",".join(sorted(m.split(".")[0] for m in sys.modules)), file=sys.stderr)
print("LOADED-DERIVTEX", ",".join(sorted(m for m in sys.modules if m.startswith("derivtex"))),
      file=sys.stderr)
"""


def loaded(*args: str) -> tuple[set[str], set[str]]:
    """Top-level packages and derivtex modules imported by one in-process CLI call."""
    done = subprocess.run(
        (sys.executable, "-c", LOADED, *args), capture_output=True, text=True, check=True
    )
    lines = dict(line.split(" ", 1) for line in done.stderr.splitlines() if line.startswith("LOAD"))
    return set(lines["LOADED"].split(",")), set(lines["LOADED-DERIVTEX"].split(","))


def test_help_loads_no_sympy_numpy_or_jinja() -> None:
    packages, _ = loaded("--help")
    assert not packages & {"sympy", "numpy", "jinja2", "mpmath"}


def test_plan_loads_neither_jinja_nor_the_tex_runner() -> None:
    packages, modules = loaded("plan", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D")
    assert "sympy" in packages
    assert "jinja2" not in packages
    assert "derivtex.tex.runner" not in modules


def test_the_tex_runner_loads_no_secrets_or_hmac() -> None:
    # Temporary names come from os.urandom: secrets would bring hmac, hashlib and base64.
    code = "import sys, derivtex.tex.runner; print(sorted({'secrets', 'hmac'} & set(sys.modules)))"
    done = subprocess.run((sys.executable, "-c", code), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        (sys.executable, "-m", "derivtex", *args), capture_output=True, text=True, timeout=120
    )


def test_fast_exit_flushes_all_output_into_a_pipe() -> None:
    done = run("plan", "y = V W x", "--wrt", "x", "-s", "V=C x M", "-s", "W=M x D", "-s", "x=D",
               "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)  # the whole document arrived, or this fails
    assert steps[-1]["kind"] == "summary"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("plan", "y = W x", "--wrt", "q", "-s", "W=C x D", "-s", "x=D"), 2, "error"),
        (("plan", "y = W x"), 2, "Missing option"),
        (("--version",), 0, ""),
    ],
)
def test_fast_exit_keeps_exit_codes_and_messages(args, code: int, message: str) -> None:
    done = run(*args)
    assert done.returncode == code
    assert message in done.stderr
    if args == ("--version",):
        assert done.stdout.startswith("derivtex, version")
