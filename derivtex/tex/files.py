"""Atomic file writes (readers see the old content or the new, never half of one) and names."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of one."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write bytes through a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # os.urandom as secrets.token_hex does, without importing secrets (hmac, hashlib, base64).
    partial = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    # Not mkstemp: its files are 0600; os.open with 0o666 applies the umask like any other file.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def failed_pdf(pdf: Path) -> Path:
    """Where --strict leaves a PDF it rejects, for inspection: name.failed.pdf beside name.pdf."""
    return pdf.with_name(pdf.stem + ".failed.pdf")
