"""Shared test options: --update-golden rewrites the golden .tex files (review them as diffs)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# Compiled templates go to a private folder of this run, not the user's ~/.cache (subprocesses
# inherit it); tests of the cache itself set their own.
_CACHE = None if "DERIVTEX_CACHE_DIR" in os.environ else tempfile.mkdtemp(prefix="derivtex-cache-")
if _CACHE is not None:
    os.environ["DERIVTEX_CACHE_DIR"] = _CACHE


def pytest_unconfigure(config: pytest.Config) -> None:
    # The folder holds compiled templates and TeX formats (several MB): remove what this run made.
    if _CACHE is not None:
        shutil.rmtree(_CACHE, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/*.tex from the code"
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
