"""Child processes that die with derivtex: a killed process group, a timeout, SIGTERM unwinding."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from derivtex.errors import TexTimeoutError
from derivtex.tex.sandbox import tex_env

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_REAP_WAIT = 5.0  # seconds to read a killed group's last output before letting go of its pipe


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """While TeX runs, SIGTERM unwinds like Ctrl-C, so the TeX group and temp folder go too."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; its own handler covers the others
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield  # the application chose what SIGTERM does
        return

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@functools.cache
def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when derivtex dies, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def set_pdeathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return set_pdeathsig


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    what: str,
    env: dict[str, str] | None = None,
    die_with_parent: bool = True,
    raw_timeout: bool = False,
) -> tuple[int, str]:
    """Run command in its own process group; kill the whole group if it outlives timeout.

    The group is killed too when this unwinds (Ctrl-C, SIGTERM); if derivtex is killed outright,
    the child gets SIGKILL from the kernel (PR_SET_PDEATHSIG; bwrap's --die-with-parent when
    sandboxed, which then takes its whole PID namespace with it).
    """
    proc = spawn(command, cwd=cwd, env=env, die_with_parent=die_with_parent)
    return finish(proc, timeout=timeout, what=what, raw_timeout=raw_timeout)


def spawn(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    die_with_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Start command as run does (its own group, dying with derivtex); finish() waits for it."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=tex_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # latexmk's pdflatex child (and bwrap's) must die with it
        preexec_fn=_die_with_parent() if die_with_parent else None,  # noqa: PLW1509
    )


def finish(
    proc: subprocess.Popen[bytes], *, timeout: float, what: str, raw_timeout: bool = False
) -> tuple[int, str]:
    """(status, output) of a spawned process; its group is killed if it outlives timeout."""
    started = time.monotonic()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException as exc:  # also Ctrl-C: the new session does not get the terminal's SIGINT
        kill_group(proc)
        if isinstance(exc, subprocess.TimeoutExpired) and not raw_timeout:
            raise timeout_error(what, time.monotonic() - started, timeout) from None
        raise
    return proc.returncode, out.decode("utf-8", "replace")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=_REAP_WAIT)  # reap it and close the pipe
    except subprocess.TimeoutExpired:  # something outside the group still holds the pipe
        if proc.stdout is not None:
            proc.stdout.close()
        proc.wait()


def timeout_error(what: str, elapsed: float, timeout: float) -> TexTimeoutError:
    return TexTimeoutError(
        f"{what} was stopped after running {elapsed:.1f} s (limit {timeout:g} s)",
        hint="a big document may need longer: raise the limit with"
        " compile_pdf(..., timeout=SECONDS); a macro that expands itself forever also ends up here",
    )


def exit_now(code: int | str | None) -> NoReturn:
    """Flush stdout and stderr, then end the process at once, skipping interpreter teardown.

    A finished command needs none of it: files are closed, TeX has finished and the temporary
    folders are gone by then. A closed pipe leaves the normal exit to report it; a str code is
    printed and exits 1, as sys.exit does.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr, flush=True)
        code = 1
    os._exit(code or 0)
