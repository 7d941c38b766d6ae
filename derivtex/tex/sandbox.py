"""TeX's sandbox: bubblewrap, a locked-down environment, and the fallback check for file reads."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from derivtex.errors import TexError

# A caller's TEXINPUTS could shadow standard packages and TEXMFOUTPUT widens what openin_any=p
# lets TeX read. latexmk (4.79) itself sets TEXMFOUTPUT=. and prepends . to TEXINPUTS; dropping
# the caller's values keeps that true whatever latexmk does.
_DROPPED_ENV = ("TEXINPUTS", "TEXMFOUTPUT", "TEXMF_OUTPUT_DIRECTORY")
_LOCKED_ENV = {
    "openin_any": "p",  # no absolute paths, no .., no dot files
    "openout_any": "p",
    "shell_escape": "f",
    "FORCE_SOURCE_DATE": "1",  # \today and file dates follow SOURCE_DATE_EPOCH too
    "max_print_line": "10000",  # one log line per message, so the parsers below see it whole
}
_DEFAULT_EPOCH = "0"
# The sandbox. openin_any=p stops \input and \openin at absolute paths, but pdfTeX's own file
# primitives (\pdfobj file, \pdfximage, \pdffiledump, ...) ignore it and would embed any file
# the user can read. So latexmk runs inside bubblewrap: it needs no root (unprivileged user
# namespaces), kills everything inside when derivtex dies (--die-with-parent plus a PID
# namespace), and is one Debian package (bubblewrap) that Flatpak relies on. Inside, only the
# system tree (/usr, TeX's config and font caches) is visible, read-only, and the build folder
# read-write; no network, no other files, a cleared environment.
_BWRAP = "bwrap"
_RO_BINDS = ("/usr", "/etc/texmf", "/var/lib/texmf", "/etc/alternatives")
_ROOT_LINKS = ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")  # usr-merged symlinks
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_SANDBOX_KEEP_ENV = ("TEXMFHOME", "TEXMFVAR", "TEXMFCONFIG", "LANG", "LC_ALL")
# Without the sandbox, .tex that reads files by means openin_any=p does not police is refused.
_FILE_READS = (
    (
        re.compile(r"\\pdf(obj|ximage|refximage|filedump|filemoddate|filesize|mdfivesum)\b"),
        "a pdfTeX primitive that reads files",
    ),
    (re.compile(r"\\(openin|readline|read)\b"), "\\openin/\\read"),
    (re.compile(r"\^\^"), "a ^^ character escape"),
    (
        re.compile(
            r"\\(input|include|InputIfFileExists|IfFileExists|includegraphics|"
            r"lstinputlisting|verbatiminput)\b\s*(\[[^\]]*\]\s*)?\{?\s*(/|~|[^}\s]*\.\.)"
        ),
        "an input of an absolute or .. path",
    ),
)


def check_no_file_reads(tex_text: str, *, name: str = "document") -> None:
    """TexError if tex_text reads files by means that openin_any=p does not stop.

    The fallback when no sandbox runs TeX: a textual check, so it refuses some harmless documents
    (any \\pdfobj, any ^^ escape) and cannot see through macros that build control sequence
    names (\\csname); the sandbox is the real protection.
    """
    for pattern, what in _FILE_READS:
        match = pattern.search(tex_text)
        if match:
            line = tex_text.count("\n", 0, match.start()) + 1
            raise TexError(
                f"{name}:{line}: refusing to run TeX on {what} ({match[0].strip()!r}):"
                " no sandbox is available to stop it reading files outside the build folder",
                hint="install bubblewrap (apt-get install bubblewrap) so that TeX runs sandboxed",
            )


@functools.cache
def sandbox_available() -> bool:
    """True when bubblewrap is on PATH and can start a sandbox here (probed once)."""
    bwrap = shutil.which(_BWRAP)
    if bwrap is None:
        return False
    with tempfile.TemporaryDirectory(prefix="derivtex-probe-") as tmp:
        command, env = sandboxed(("true",), {"PATH": SANDBOX_PATH}, Path(tmp).resolve())
        try:
            probe = subprocess.run(
                command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0


def sandboxed(
    command: Sequence[str], env: dict[str, str], work: Path
) -> tuple[tuple[str, ...], dict[str, str]]:
    """command wrapped in bwrap: read-only system tree, work read-write, nothing else."""
    args = [str(shutil.which(_BWRAP) or _BWRAP)]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for folder in _RO_BINDS:
        if os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for link in _ROOT_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    args += ["--bind", str(work), str(work), "--chdir", str(work)]
    inner = {key: env[key] for key in _SANDBOX_KEEP_ENV if key in env}
    inner.update(_LOCKED_ENV)
    inner.update(PATH=SANDBOX_PATH, HOME=str(work), TMPDIR="/tmp")
    if "SOURCE_DATE_EPOCH" in env:
        inner["SOURCE_DATE_EPOCH"] = env["SOURCE_DATE_EPOCH"]
    for key, value in sorted(inner.items()):
        args += ["--setenv", key, value]
    return (*args, "--", *command), {"PATH": env.get("PATH", SANDBOX_PATH)}


def confine(
    command: Sequence[str], work: Path, boxed: bool
) -> tuple[tuple[str, ...], dict[str, str]]:
    """command and its environment as TeX runs in work: locked down, in bubblewrap when boxed."""
    env = tex_env()
    return sandboxed(command, env, work) if boxed else (tuple(command), env)


def tex_env() -> dict[str, str]:
    """The caller's environment with TeX's file access, shell escape and dates locked down."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env.update(_LOCKED_ENV)
    env["SOURCE_DATE_EPOCH"] = _source_date_epoch()
    return env


def _source_date_epoch() -> str:
    # pdflatex dies without a log on a malformed value; say why instead.
    value = os.environ.get("SOURCE_DATE_EPOCH") or _DEFAULT_EPOCH
    if not re.fullmatch(r"[0-9]+", value):
        raise TexError(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds since 1970",
            hint="unset it (documents are then dated 1 January 1970) or set it to $(date +%s)",
        )
    return value
