"""Build stamps: what each output depends on, the files derivtex wrote for it, and their removal.

A stamp is `OUT/.derivtex/<stem>.json`, written only after a document is built. It holds the
output's fingerprint (the spec's bytes, the templates, derivtex's and sympy's versions, the
options), the spec file it came from (relative to the output folder, so a repository can move)
and a SHA-256 of each file written for it. A later build skips an output whose fingerprint is
unchanged, and removes the outputs of a spec that no longer exists: only files the stamp lists,
and only while they still hold what derivtex wrote, so a file the user changed is never deleted.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from derivtex import __version__
from derivtex.project.formats import source_path, stamp_name
from derivtex.rendering.templatefiles import builtin_templates, template_file, template_names

STAMP_DIR = ".derivtex"  # inside the output folder: stamps and private TeX work folders


@dataclass(frozen=True, slots=True)
class Output:
    """One document of a spec: its kind, its PDF and the fingerprint of all it depends on."""

    document: str
    pdf: Path
    fingerprint: str

    @property
    def tex(self) -> Path:
        return source_path(self.document, self.pdf)

    @property
    def stamp(self) -> Path:
        folder, stem = stamp_name(self.document, self.pdf)
        return folder / STAMP_DIR / f"{stem}.json"


@dataclass(frozen=True, slots=True)
class Removal:
    """The outputs of a deleted spec: the files removed, and those kept because they changed."""

    spec: Path
    removed: tuple[Path, ...]
    kept: tuple[Path, ...]


# --- fingerprints ---


def fingerprint_base(content: bytes, user_templates: Path | None, strict: bool) -> str:
    """What every output of a spec depends on, besides its document kind."""
    # sympy's version too: it shapes the printed math as much as derivtex does.
    sympy = importlib.metadata.version("sympy")  # not sympy.__version__: importing takes 0.5 s
    options = (__version__, sympy, f"strict={strict}", _builtin_digest())
    return digest(*options, _folder_digest(user_templates), hashlib.sha256(content).hexdigest())


def digest(*parts: str) -> str:
    # NUL-separated, so that ("ab", "c") and ("a", "bc") differ.
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@cache
def _builtin_digest() -> str:
    root = builtin_templates()
    files = [(name, template_file(root, name).read_bytes()) for name in template_names(root)]
    return _files_digest(files)


def _folder_digest(folder: Path | None) -> str:
    if folder is None or not folder.is_dir():
        return "none"  # rendering reports a missing folder; the build fails and leaves no stamp
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return _files_digest([(p.relative_to(folder).as_posix(), p.read_bytes()) for p in files])


def _files_digest(files: Iterable[tuple[str, bytes]]) -> str:
    return digest(*(f"{name}:{hashlib.sha256(data).hexdigest()}" for name, data in files))


# --- reading and writing stamps ---


def fresh(output: Output) -> bool:
    """Whether the output was built from exactly what it depends on now, and is still there."""
    stamp = _read(output.stamp)
    same = stamp is not None and stamp.get("fingerprint") == output.fingerprint
    return same and output.pdf.is_file() and output.tex.is_file()


def write_stamp(output: Output, spec: Path, files: Iterable[Path]) -> None:
    """Record that `files` were written for the output, from the spec file `spec`."""
    from derivtex.tex.files import write_text_atomic  # only a build that writes needs it

    root = output.stamp.parent.parent
    stamp = {
        "fingerprint": output.fingerprint,
        "derivtex": __version__,
        "spec": os.path.relpath(Path(spec).resolve(), root.resolve()),
        "files": {_relative(path, root): _sha256(path) for path in dict.fromkeys(files)},
    }
    write_text_atomic(output.stamp, json.dumps(stamp, indent=1) + "\n")


def _read(stamp: Path) -> dict[str, object] | None:
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _relative(path: Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- the outputs of deleted specs ---


def prune(out_dir: Path) -> tuple[Removal, ...]:
    """Remove the outputs whose spec file is gone; one Removal per deleted spec.

    A stamp written before stamps listed their files is left alone: derivtex cannot tell which
    files are its own.
    """
    folder = Path(out_dir) / STAMP_DIR
    if not folder.is_dir():
        return ()
    gone: dict[Path, tuple[list[Path], list[Path]]] = {}
    for stamp in sorted(folder.glob("*.json")):
        data = _read(stamp)
        if data is None or not isinstance(data.get("files"), dict):
            continue
        spec = Path(out_dir, str(data.get("spec", "")))
        if not data.get("spec") or spec.exists():
            continue
        spec = Path(os.path.normpath(spec))
        removed, kept = gone.setdefault(spec, ([], []))
        files = data["files"]
        assert isinstance(files, dict)
        for name, sha in files.items():
            path = Path(out_dir, name)
            if not _inside(path, Path(out_dir)) or not path.is_file():
                continue
            if _sha256(path) == sha:
                path.unlink()
                removed.append(path)
                _remove_empty_folders(path.parent, Path(out_dir))
            else:
                kept.append(path)
        stamp.unlink()
    return tuple(Removal(spec, tuple(r), tuple(k)) for spec, (r, k) in gone.items())


def _inside(path: Path, root: Path) -> bool:
    """Whether path is within root after resolving links, so a stamp cannot reach outside."""
    return path.resolve().is_relative_to(root.resolve()) and not path.is_symlink()


def _remove_empty_folders(folder: Path, root: Path) -> None:
    """Remove folder and its parents up to (not including) root while they are empty."""
    root = root.resolve()
    folder = folder.resolve()
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:  # not empty, or not ours to remove
            return
        folder = folder.parent
