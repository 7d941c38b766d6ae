"""pdflatex started before its document exists, so that it loads its format while derivtex imports.

A pass from the cached preamble format spends about 60 of a small handout's 90 ms starting up and
loading that format, all before it reads a line of the document. A command that will compile a
document (derive, build) runs inside `early()`, entered before its heavy imports: from the format
this user's builds used last, it starts the pass compile_pdf would start, in a job folder of its
own, except that TeX's main file is a named pipe (`-jobname=document dtxgo.tex`). TeX loads the
format and waits on the pipe. compile_pdf claims it when the document's preamble has that
format's key: it writes document.tex as usual, sends the pipe's one line `\\input document.tex`,
and waits for the pass within its own timeout. Anything else (another preamble, another process,
TeX gone, no document at all) kills the waiting TeX, and the pass runs as before. The sandbox,
switches and environment are the same, and so are the PDF's bytes.

The pipe is held open read-write from the start, so TeX's open never blocks, and closed once TeX
has read the line (FIONREAD is 0), so a document without \\end{document} meets the end of its main
file, as it would on disk, instead of waiting for more.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from derivtex.errors import DerivtexError
from derivtex.tex import preamble
from derivtex.tex.log import JOB
from derivtex.tex.process import finish, kill_group, spawn, terminate_raises
from derivtex.tex.sandbox import confine, sandbox_available

PIPE = "dtxgo.tex"
PREFIX = "derivtex-tex-"
# The switches of runner's pdflatex passes (-no-parse-first-line: the pipe's first line is not
# TeX's to read before the format loads).
ARGS = ("-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "-file-line-error")
_POLL = 0.001  # seconds between looks at whether TeX has read its line
_QUIT = b"\\csname @@end\\endcsname\n"  # TeX's own \end: the job ends, writing nothing
_QUIT_WAIT = 10.0  # seconds a TeX told to end may take (it may still be loading its format)
_LOCK = threading.Lock()
_pending: list[Waiting] = []


class Waiting:
    """A pdflatex that has loaded (or is loading) a format and waits for its line on a pipe.

    Not a value but a handle on a process and a pipe, so a plain class: go() sends the line
    once, cancel() ends the process, and both let go of the pipe exactly once.
    """

    __slots__ = ("boxed", "key", "owner", "pdflatex", "proc", "ran", "work", "_pipe", "_sent")

    def __init__(
        self,
        key: str,
        pdflatex: str,
        boxed: bool,
        work: Path,
        pipe: int,
        proc: subprocess.Popen[bytes],
    ) -> None:
        self.key, self.pdflatex, self.boxed, self.work = key, pdflatex, boxed, work
        self.proc = proc
        self.owner = os.getpid()  # the process that started it, the only one that can wait
        self._pipe: int | None = pipe  # our read-write end; None once closed
        self._sent = False
        self.ran = False  # it was sent its document: its pass was compile_pdf's first

    def fits(self, key: str | None, pdflatex: str, boxed: bool) -> bool:
        return (key, pdflatex, boxed) == (self.key, self.pdflatex, self.boxed)

    def go(self, timeout: float, what: str) -> tuple[int, str] | None:
        """Send TeX its line and wait for the pass: (status, output); None if TeX is gone.

        subprocess.TimeoutExpired once timeout is up (the TeX group is killed by then).
        """
        deadline = time.monotonic() + timeout
        self._sent = self.ran = True
        try:
            self._send(f"\\input {JOB}.tex\n".encode())
            while self._unread() and self.proc.poll() is None:
                if time.monotonic() > deadline:
                    kill_group(self.proc)
                    raise subprocess.TimeoutExpired(self.proc.args, timeout)
                time.sleep(_POLL)
        finally:
            self.close_pipe()
        if self.proc.poll() is not None and not (self.work / f"{JOB}.log").is_file():
            return None  # it died before it read the document (a broken format?)
        remaining = max(deadline - time.monotonic(), 0.0)
        return finish(self.proc, timeout=remaining, what=what, raw_timeout=True)

    def cancel(self) -> None:
        """End the TeX if it still runs, and let go of the pipe.

        A TeX that was never sent its document is told to end, and waited for: bubblewrap
        killed while it sets up the sandbox may not yet have tied the sandbox's life to its own,
        and would leave TeX running. It is killed only if it does not end in _QUIT_WAIT s (and
        at once once it has its document: that is a pass to stop).
        """
        if self.proc.poll() is None:
            if not self._sent and self._pipe is not None:
                self._sent = True
                try:
                    self._send(_QUIT)
                    self.proc.communicate(timeout=_QUIT_WAIT)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self.proc.poll() is None:
                kill_group(self.proc)
        self.close_pipe()

    def close_pipe(self) -> None:
        if self._pipe is not None:
            pipe, self._pipe = self._pipe, None
            os.close(pipe)

    def _send(self, line: bytes) -> None:
        assert self._pipe is not None
        os.write(self._pipe, line)

    def _unread(self) -> int:
        """Bytes written to the pipe that TeX has not read yet."""
        if self._pipe is None:
            return 0
        buffer = fcntl.ioctl(self._pipe, termios.FIONREAD, struct.pack("i", 0))
        return int(struct.unpack("i", buffer)[0])


@contextlib.contextmanager
def early(enabled: bool = True) -> Iterator[None]:
    """Within this block compile_pdf can claim a TeX started here, ahead of its document.

    SIGTERM unwinds the block like Ctrl-C, so the waiting TeX and its folder go too.
    """
    waiting = _start() if enabled else None
    with _LOCK:
        if waiting is not None:
            _pending.append(waiting)
    try:
        with terminate_raises():
            yield
    finally:
        if waiting is not None:
            with _LOCK:
                if waiting in _pending:
                    _pending.remove(waiting)
            _discard(waiting)


def claim(key: str | None, pdflatex: str, boxed: bool) -> Waiting | None:
    """The waiting TeX if it has key's format (and is this process's); any other is discarded."""
    with _LOCK:
        mine = [w for w in _pending if w.owner == os.getpid()]
        for waiting in mine:
            _pending.remove(waiting)
    found = None
    for waiting in mine:
        if found is None and waiting.fits(key, pdflatex, boxed):
            found = waiting
        else:
            _discard(waiting)
    return found


@contextlib.contextmanager
def folder(waiting: Waiting | None) -> Iterator[Path]:
    """The job folder: the waiting TeX's, else a new one; removed (TeX killed) at the end."""
    if waiting is None:
        with tempfile.TemporaryDirectory(prefix=PREFIX) as tmp:
            yield Path(tmp).resolve()
        return
    try:
        yield waiting.work
    finally:
        _discard(waiting)


def _discard(waiting: Waiting) -> None:
    waiting.cancel()
    shutil.rmtree(waiting.work, ignore_errors=True)


def _start() -> Waiting | None:
    """TeX started on the last format used, waiting on a pipe; None where that cannot be."""
    pdflatex = shutil.which("pdflatex")
    if not sys.platform.startswith("linux") or pdflatex is None or not preamble.enabled():
        return None
    cache = preamble.last()
    if cache is None:
        return None
    boxed = sandbox_available()
    work = Path(tempfile.mkdtemp(prefix=PREFIX)).resolve()
    pipe = -1
    try:
        command, env = confine(
            format_pass(pdflatex, "-no-parse-first-line", f"-jobname={JOB}", PIPE), work, boxed
        )
        if not preamble.fetch(cache, work):
            raise OSError("no format")
        os.mkfifo(work / PIPE, 0o600)
        pipe = os.open(work / PIPE, os.O_RDWR | os.O_NONBLOCK)  # Linux: never blocks
        proc = spawn(command, cwd=work, env=env, die_with_parent=not boxed)
    except (OSError, DerivtexError):  # a bad SOURCE_DATE_EPOCH: compile_pdf reports it
        if pipe >= 0:
            os.close(pipe)
        shutil.rmtree(work, ignore_errors=True)
        return None
    return Waiting(cache.stem, pdflatex, boxed, work, pipe, proc)


def format_pass(pdflatex: str, *main: str) -> tuple[str, ...]:
    """The pdflatex pass on the preamble format NAME.fmt in the job folder; main: its file."""
    return (pdflatex, *ARGS, "-output-directory=.", f"-fmt={preamble.NAME}", *main)


def _forget_in_child() -> None:
    """A forked worker holds no copy of a waiting TeX's pipe: with one, that TeX could not meet
    the end of its main file, and the worker cannot wait for it anyway."""
    global _LOCK
    _LOCK = threading.Lock()  # another thread may have held it at the fork
    for waiting in _pending:
        waiting.close_pipe()
    _pending.clear()


os.register_at_fork(after_in_child=_forget_in_child)
