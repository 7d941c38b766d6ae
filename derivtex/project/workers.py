"""Running a build's work: one spec's failure contained, worker processes forked warm."""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from derivtex.project.report import Outcome, Problem

T = TypeVar("T")
R = TypeVar("R")


def contained(
    path_of: Callable[[object], Path],
) -> Callable[[Callable[[T], R]], Callable[[T], R | Outcome]]:
    """A decorator: fn, with a file-system or internal failure turned into a failed Outcome.

    `path_of(item)` names the spec the failure belongs to.
    """

    def wrap(fn: Callable[[T], R]) -> Callable[[T], R | Outcome]:
        @functools.wraps(fn)
        def run(item: T) -> R | Outcome:
            try:
                return fn(item)
            except OSError as exc:
                where = f" {exc.filename}" if exc.filename else ""
                message = f"cannot read or write{where}: {exc.strerror or exc}"
                hint = "check the output folder (-o) and its permissions"
                return failed(path_of(item), message, hint, 2)
            except Exception as exc:  # noqa: BLE001 - one spec's failure must not stop the others
                message = f"internal error ({type(exc).__name__}: {exc})"
                return failed(path_of(item), message, "please report it with the spec file", 1)

        return run

    return wrap


def failed(path: Path, message: str, hint: str, code: int) -> Outcome:
    problem = Problem(str(path), None, message, (f"hint: {hint}",))
    return Outcome(path, "failed", problems=(problem,), code=code)


def workers(jobs: int | None, items: int) -> int:
    return max(1, min(jobs or os.cpu_count() or 1, items))


def parallel_map(fn: Callable[[T], R], items: Sequence[T], jobs: int | None) -> Iterator[R]:
    """fn over items, in worker processes when there are several; results as they finish."""
    if workers(jobs, len(items)) == 1:  # no pool: it would only add start-up time
        yield from map(fn, items)
        return
    # Processes, not threads: sympy's work is pure Python and holds the GIL.
    with ProcessPoolExecutor(workers(jobs, len(items)), mp_context=_preloaded()) as pool:
        for future in as_completed([pool.submit(fn, item) for item in items]):
            yield future.result()


def _preloaded() -> multiprocessing.context.BaseContext | None:
    """Fork workers from a parent that has imported and warmed the pipeline once, for them all.

    Each worker would otherwise import sympy, fill sympy's caches and compile the built-in
    templates itself: with --jobs 2, twice that CPU before any work. Where fork is not
    available, the platform's default start method (and the workers do it themselves).
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    from derivtex.api import derive
    from derivtex.rendering.document import render, section

    warm = [  # between them, every step kind: every built-in step template gets compiled
        section(derive(text, wrt, shapes))
        for text, wrt, shapes in (
            ("y = W x", "x", {"W": "C x D", "x": "D"}),
            ("y = sigmoid(W x)", "x", {"W": "C x D", "x": "D"}),
            ("h = tanh(W x); y = V h", "x", {"W": "M x D", "x": "D", "V": "C x M"}),
            ("y = x W", "W", {"x": "1 x D", "W": "D x C"}),
            ("Y = X W", "X", {"X": "N x D", "W": "D x C"}),
        )
    ]
    for document in ("handout", "exercises"):
        render(warm, document=document)
    return multiprocessing.get_context("fork")
