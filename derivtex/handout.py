"""Write one derivation's handout: the .tex, then the PDF (and page images)."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from .api import Derivation
from .compile import compile_pdf
from .render import render, section


def default_name(d: Derivation) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"d{d.output}-d{d.wrt}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # Not mkstemp: its files are 0600; os.open with 0o666 applies the umask like any other file.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_handout(
    d: Derivation,
    out_dir: Path,
    *,
    name: str | None = None,
    title: str | None = None,
    tex_only: bool = False,
    png: bool = False,
    vectors: str = "arrow",
    templates: Path | None = None,
    timeout: float = 120.0,
) -> tuple[Path, ...]:
    """Render, write and compile; returns the paths written."""
    stem = name or default_name(d)
    heading = title or f"The derivative of {d.output} by {d.wrt}"
    tex = render([section(d, title=heading, vectors=vectors)], title=heading, templates=templates)
    tex_path = Path(out_dir) / f"{stem}.tex"
    write_text_atomic(tex_path, tex)
    if tex_only:
        return (tex_path,)
    result = compile_pdf(tex_path, timeout=timeout, png=png)
    return (tex_path, result.pdf, *result.pngs)
