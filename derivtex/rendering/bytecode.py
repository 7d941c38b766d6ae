"""A per-user cache of compiled templates, so a fresh process skips jinja's template compiler."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
from pathlib import Path

import jinja2

from derivtex import __version__

CACHE_ENV = "DERIVTEX_CACHE_DIR"  # a folder for the cache; "" turns it off


def template_cache(kind: str) -> jinja2.BytecodeCache | None:
    """The bytecode cache for an environment of this kind, or None where none is safe to use.

    jinja keys each entry on the template's name and file and checks its source's checksum; the
    folder is keyed on everything else compiled code depends on: derivtex's and jinja's versions,
    Python's bytecode magic and the environment's kind (its syntax, escaping and sandbox).
    The cache holds code this process will run, so only a folder that is ours alone is used.
    """
    root = cache_root()
    if root is None:
        return None
    key = f"{__version__}|{jinja2.__version__}|{importlib.util.MAGIC_NUMBER.hex()}|{kind}"
    folder = root / f"templates-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if not _private(root) or not _private(folder):
        return None
    return jinja2.FileSystemBytecodeCache(str(folder), "%s.cache")


def cache_root() -> Path | None:
    """$DERIVTEX_CACHE_DIR, else $XDG_CACHE_HOME/derivtex, else ~/.cache/derivtex."""
    if CACHE_ENV in os.environ:
        return Path(os.environ[CACHE_ENV]) if os.environ[CACHE_ENV] else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return None if base.startswith("~") else Path(base) / "derivtex"


def _private(folder: Path) -> bool:
    """Whether folder is a real folder of this user that nobody else can write to."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not writable_by_others
