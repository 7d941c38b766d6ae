"""The per-user cache of compiled templates: used when private, the same output, off on request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from derivtex.rendering.bytecode import CACHE_ENV, template_cache

RENDER = """
from derivtex.api import derive
from derivtex.rendering.document import render
print(render(derive("y = W x", "x", {"W": "C x D", "x": "D"})), end="")
"""


def _render(cache: str) -> str:
    env = {**os.environ, CACHE_ENV: cache}
    done = subprocess.run(
        (sys.executable, "-c", RENDER), env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_a_second_process_renders_the_same_tex_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    uncached = _render("")
    first = _render(str(cache))
    entries = sorted(cache.glob("templates-*/*.cache"))
    assert entries, "the first run fills the cache"
    stamps = [p.stat().st_mtime_ns for p in entries]
    assert _render(str(cache)) == first == uncached
    assert [p.stat().st_mtime_ns for p in entries] == stamps, "the second run only reads it"
    assert all(p.stat().st_mode & 0o077 == 0 for p in [*entries, entries[0].parent])


def test_an_empty_setting_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "")
    assert template_cache("latex") is None


def test_a_folder_others_can_write_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert template_cache("latex") is not None
    tmp_path.chmod(0o777)
    assert template_cache("latex") is None


def test_each_kind_of_environment_has_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    latex, html = template_cache("latex"), template_cache("html")
    assert latex is not None and html is not None
    assert latex.directory != html.directory  # type: ignore[attr-defined]


def test_an_unusable_cache_folder_falls_back_to_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    assert template_cache("latex") is None
    assert _render(str(blocker)).startswith("\\")
