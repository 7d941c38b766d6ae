"""A precompiled format of a document's package preamble, cached per user.

A pass that starts from the format skips loading the document class and the packages: about a
third of a small handout's pdflatex time. The format holds the preamble's lines up to its last
\\usepackage; the document then runs with those lines blanked, so TeX's line numbers still match
the source. It is keyed on those lines, SOURCE_DATE_EPOCH, the pdflatex binary and TeX's file
databases (ls-R, rewritten by every TeX package install), and kept in
$DERIVTEX_CACHE_DIR/tex-formats (else $XDG_CACHE_HOME or ~/.cache, as the template cache), only in
a folder that is this user's alone. DERIVTEX_TEX_FORMAT=0 turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from derivtex.tex.files import write_bytes_atomic

CACHE_ENV = "DERIVTEX_CACHE_DIR"  # the same folder as the template cache; "" turns both off
SWITCH_ENV = "DERIVTEX_TEX_FORMAT"  # "0" turns the format off
NAME = "dtxfmt"
LAST = "last"  # the key of the format used last, for a TeX started before its document exists
KEEP = 8  # formats kept in the cache
_PACKAGE = re.compile(rb"\\(documentclass|usepackage|RequirePackage)\b")
_KEEP = re.compile(rb"\\(ifdefined)?\\pdf")  # PDF settings stay in the body too: \pdftrailerid{}
_DATABASES = (
    "/usr/share/texlive/texmf-dist/ls-R",
    "/usr/share/texmf/ls-R",
    "/var/lib/texmf/ls-R",
    "/var/lib/texmf/ls-R-TEXLIVEDIST",
    "/var/lib/texmf/web2c/pdftex/pdflatex.fmt",
)


@dataclass(frozen=True, slots=True)
class Split:
    """A document cut for a format: the head that goes into it, the body that runs on it."""

    head: bytes
    body: bytes

    def key(self, pdflatex: str, epoch: str) -> str:
        digest = hashlib.sha256(self.head)
        digest.update(f"\0{epoch}\0{_stamp(os.path.realpath(pdflatex))}".encode())
        for path in _DATABASES:
            digest.update(f"\0{_stamp(path)}".encode())
        return digest.hexdigest()[:32]


def split(source: bytes) -> Split | None:
    """The package preamble of source and the rest, or None where a format would not be safe.

    The head runs from \\documentclass on line 1 to the last \\usepackage before
    \\begin{document}, and must close every brace and bracket it opens.
    """
    lines = source.split(b"\n")
    if not lines[0].startswith(b"\\documentclass"):
        return None
    last = None
    for index, line in enumerate(lines):
        text = line.lstrip()
        if text.startswith(b"\\begin{document}"):
            break
        if _PACKAGE.match(text):
            last = index
    else:
        return None
    assert last is not None  # line 1 is \documentclass
    head = b"\n".join(lines[: last + 1]) + b"\n"
    code = re.sub(rb"(?<!\\)%[^\n]*", b"", head)
    if code.count(b"{") != code.count(b"}") or code.count(b"[") != code.count(b"]"):
        return None
    kept = (line if _KEEP.match(line.lstrip()) else b"" for line in lines[: last + 1])
    return Split(head, b"\n".join((*kept, *lines[last + 1 :])))


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "1") != "0"


def cached(key: str) -> Path | None:
    """The cache file for key (it may not exist yet), or None where no private cache folder is."""
    folder = _folder()
    return None if folder is None else folder / f"{key}.fmt"


def _folder() -> Path | None:
    root = _cache_root()
    if root is None:
        return None
    folder = root / "tex-formats"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if _private(folder) else None


def store(built: Path, dest: Path) -> None:
    """Put a freshly dumped format into the cache, atomically (a parallel build may race), and
    keep only the KEEP most recently used (a format is about 6 MB)."""
    with contextlib.suppress(OSError):  # a full disk only costs the next run its speed
        write_bytes_atomic(dest, built.read_bytes())
        by_use = sorted(dest.parent.glob("*.fmt"), key=_used, reverse=True)
        for old in by_use[KEEP:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".failed").unlink(missing_ok=True)


def _used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def failed(cache: Path, mark: bool = False) -> bool:
    """Whether dumping this format failed before (a preamble TeX cannot dump); mark records it."""
    marker = cache.with_suffix(".failed")
    if mark:
        with contextlib.suppress(OSError):
            marker.touch()
    return marker.exists()


def fetch(cache: Path, work: Path) -> bool:
    """Copy the cached format into work as NAME.fmt; False if there is none.

    A copy, not a hard link: TeX may write files in work (\\openout), and through a link it
    could rewrite the cached format that later builds of other documents load.
    """
    try:
        (work / f"{NAME}.fmt").write_bytes(cache.read_bytes())
        os.utime(cache)  # recently used: the last to be pruned
    except OSError:
        return False
    return True


def remember(cache: Path) -> None:
    """Note cache as the format used last (tex/prestart.py starts TeX on it next time)."""
    record = cache.with_name(LAST)
    with contextlib.suppress(OSError):
        if _read(record) != cache.stem:
            write_bytes_atomic(record, cache.stem.encode())


def last() -> Path | None:
    """The cached format used last, if there is one (it may be stale: compare keys before use)."""
    folder = _folder()
    if folder is None:
        return None
    key = _read(folder / LAST)
    found = folder / f"{key}.fmt"
    return found if re.fullmatch("[0-9a-f]{32}", key) and found.is_file() else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


def ini_source(head: bytes) -> bytes:
    return head + b"\\dump\n"


def _stamp(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return f"{path}:-"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


def _cache_root() -> Path | None:
    if CACHE_ENV in os.environ:
        return Path(os.environ[CACHE_ENV]) if os.environ[CACHE_ENV] else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return None if base.startswith("~") else Path(base) / "derivtex"


def _private(folder: Path) -> bool:
    try:
        info = folder.lstat()
    except OSError:
        return False
    shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not shared
