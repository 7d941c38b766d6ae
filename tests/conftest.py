"""Shared test options: --update-golden rewrites the golden .tex files (review them as diffs)."""

from __future__ import annotations

import os
import tempfile

import pytest

# Compiled templates go to a private folder of this run, not the user's ~/.cache (subprocesses
# inherit it); tests of the cache itself set their own.
os.environ.setdefault("DERIVTEX_CACHE_DIR", tempfile.mkdtemp(prefix="derivtex-cache-"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/*.tex from the code"
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
