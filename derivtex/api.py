"""The whole program in two functions: derive() a verified, worked derivation; write_handout()."""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from derivtex.calculus.derivative import derive_graph
from derivtex.calculus.second import check_scalar, hessian
from derivtex.derivation.model import Derivation
from derivtex.derivation.planner import plan
from derivtex.derivation.second import plan_second
from derivtex.errors import BudgetError, DerivtexError, InputError, UnsupportedError
from derivtex.language.limits import LIMITS
from derivtex.language.parser import parse
from derivtex.language.shapes import Shape
from derivtex.language.typecheck import check_wrt, lower
from derivtex.options import Layout, VectorStyle, choice
from derivtex.tex.files import write_text_atomic

if TYPE_CHECKING:
    from types import FrameType

    from derivtex.calculus.derivative import Derivative
    from derivtex.tex.runner import CompileResult

Example = Mapping[str, int | tuple[int, ...]]
"""The worked components, e.g. {"y": (3,), "x": (7,)}."""


def derive(
    text: str,
    wrt: str,
    shapes: Mapping[str, str | Shape] | None = None,
    *,
    of: str | None = None,
    layout: Layout | str = Layout.NUMERATOR,
    example: Example | None = None,
    steps: bool | Iterable[str] | None = None,
    timeout: float | None = LIMITS.timeout,
    order: int = 1,
) -> Derivation:
    """Differentiate the output of `text` (or the statement `of`) by the input `wrt`.

    Parse -> lower to a typed graph -> differentiate -> verify -> plan, in that order.
    `steps=False` computes the result alone (not verified, no steps); None plans every step that
    applies; a collection of step kinds keeps only those (component_formula and summary always
    stay). `example` chooses the worked components, e.g. {"y": (3,), "x": (7,)}.
    `timeout` is the wall-clock budget in seconds (None: no budget); past it BudgetError.
    `order=2` gives the Hessian of a scalar output (the gradient's steps, then its derivative).
    Errors that escape from sympy on an input derivtex cannot handle become UnsupportedError.
    """
    with _budget(timeout, text):
        try:
            return _derive(text, wrt, shapes, of, layout, example, steps, check_order(order))
        except DerivtexError:
            raise
        except (
            TypeError,
            ValueError,
            RecursionError,
            StopIteration,
            OverflowError,
            ZeroDivisionError,
            MemoryError,
            AttributeError,
            KeyError,
            IndexError,
            NotImplementedError,
        ) as exc:
            raise UnsupportedError(
                f"derivtex cannot derive this expression yet ({type(exc).__name__}: "
                f"{str(exc)[:200]})",
                hint="please report it with the expression, wrt and shapes at "
                "the derivtex issue tracker; meanwhile try naming parts with their own statements",
            ) from exc


class _Expired(BaseException):
    """Raised by the alarm; a BaseException so that no `except Exception` inside sympy eats it."""


@contextmanager
def _budget(timeout: float | None, text: object) -> Iterator[None]:
    """Raise BudgetError past `timeout` seconds (SIGALRM; only in the main thread)."""
    usable = (
        timeout is not None
        and timeout > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _Expired

    old_handler = signal.signal(signal.SIGALRM, expire)
    old_timer = signal.setitimer(signal.ITIMER_REAL, float(timeout or 0))
    try:
        _STAGE[0] = "starting"
        yield
    except _Expired:
        raise BudgetError(
            f"too large to derive and verify within {timeout:g} s; here is why: "
            f"time ran out while {_STAGE[0]}",
            hint="name parts with their own statements, use fewer factors, pass steps=False, "
            "or raise the budget with timeout=",
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *old_timer)


_STAGE = ["starting"]  # what derive() was doing, for BudgetError's "here is why"


def check_order(order: object) -> int:
    """1 (the Jacobian or gradient) or 2 (the Hessian of a scalar); anything else is bad input."""
    if isinstance(order, bool) or order not in (1, 2):
        raise InputError(
            f"order must be 1 or 2, not {order!r}",
            hint="order=1 is the first derivative; order=2 the Hessian of a scalar output",
        )
    assert isinstance(order, int)
    return order


def _derive(
    text: str,
    wrt: str,
    shapes: Mapping[str, str | Shape] | None,
    of: str | None,
    layout: Layout | str,
    example: Example | None,
    steps: bool | Iterable[str] | None,
    order: int = 1,
) -> Derivation:
    _STAGE[0] = "parsing and type-checking the text"
    layout = choice(Layout, layout, "layout")
    shapes = _shapes(shapes)
    graph = lower(parse(text, set(shapes)), shapes, of)
    if order == 2:
        wrt = _one_variable(wrt)
    check_wrt(graph, wrt)
    if order == 2:
        check_scalar(graph)
    _STAGE[0] = "differentiating in index form (the index terms multiply with every factor)"
    derivative = derive_graph(graph, wrt, layout)
    if order == 2:
        return _second(derivative, example, steps)
    if steps is False:
        return Derivation(derivative, None, ())
    _STAGE[0] = "verifying the result exactly and numerically"
    report = derivative.verify()
    only = None if steps is None or steps is True else tuple(steps)
    _STAGE[0] = "planning the worked steps"
    worked = plan(derivative, report, example=dict(example) if example else None, only=only)
    return Derivation(derivative, report, worked)


def _one_variable(wrt: object) -> str:
    """The Hessian's variable: wrt=("x", "x") is x; mixed second derivatives are not supported."""
    if isinstance(wrt, tuple | list):
        if len(wrt) == 2 and wrt[0] == wrt[1] and isinstance(wrt[0], str):
            return wrt[0]
        raise UnsupportedError(
            f"mixed second derivatives (order=2, wrt={tuple(wrt)!r}) are not supported yet",
            hint='derive the Hessian by one variable at a time: order=2, wrt="x"',
        )
    return wrt  # type: ignore[return-value]


def _second(
    derivative: Derivative, example: Example | None, steps: bool | Iterable[str] | None
) -> Derivation:
    """The Hessian: the gradient verified and worked first, then its own derivative."""
    found = hessian(derivative)
    if steps is False:
        return Derivation(derivative, None, (), found)
    _STAGE[0] = "verifying the gradient and the Hessian exactly and numerically"
    report, second_report = derivative.verify(), found.verify()
    only = None if steps is None or steps is True else tuple(steps)
    _STAGE[0] = "planning the worked steps"
    example = dict(example) if example else None
    worked = plan_second(found, report, second_report, example=example, only=only)
    return Derivation(derivative, second_report, worked, found)


def _shapes(shapes: Mapping[str, str | Shape] | None) -> Mapping[str, str | Shape]:
    if shapes is None:
        return {}
    if not isinstance(shapes, Mapping):
        raise InputError("shapes must map names to shapes", hint='e.g. {"W": "C x D", "x": "D"}')
    return shapes


def default_title(d: Derivation) -> str:
    """The heading of a derivation's handout when none is given."""
    what = "derivative" if d.order == 1 else "Hessian"
    return f"The {what} of {d.output} by {d.wrt}"


def default_name(d: Derivation) -> str:
    """The file stem of a derivation's handout: dy-dx (a Hessian: d2L-dx2)."""
    stem = f"d{d.output}-d{d.wrt}" if d.order == 1 else f"d2{d.output}-d{d.wrt}2"
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem)


_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def check_name(name: str) -> str:
    """name if it is one safe file name component (a file stem inside the output folder)."""
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise InputError(
            f"--name {name!r} is not a plain file name: it must stay inside the output folder",
            hint="use letters, digits, '-', '_' and '.' (not first, no '..'); no '/';"
            " choose the folder with -o",
        )
    return name


def write_handout(
    d: Derivation,
    out_dir: Path,
    *,
    name: str | None = None,
    title: str | None = None,
    tex_only: bool = False,
    png: bool = False,
    vectors: VectorStyle | str = VectorStyle.ARROW,
    templates: Path | None = None,
    timeout: float = 120.0,
    overwrite: bool = True,
    warn: Callable[[str], None] | None = None,
    strict: bool = False,
) -> tuple[Path, ...]:
    """Render, write and compile one derivation's handout; returns the paths written.

    `overwrite=False` refuses to replace a .tex (or its PDF) that holds another handout: the
    same name for another derivation, e.g. dy-dx for both y = W x and y = x W.
    `warn` is called with each overfull box TeX reports ("overfull box, 12pt too wide ...").
    `strict=True` makes an overfull box or a TeX warning an error (StrictError): the new PDF is
    kept as name.failed.pdf to look at, and the last good name.pdf stays.
    """
    # Imported here: jinja and the TeX runner are for handouts; plan and check never load them.
    from derivtex.rendering.document import render, section
    from derivtex.tex.runner import compile_pdf

    stem = default_name(d) if name is None else check_name(name)
    heading = title or default_title(d)
    tex = render([section(d, title=heading, vectors=vectors)], title=heading, templates=templates)
    tex_path = Path(out_dir) / f"{stem}.tex"
    if not overwrite:
        _check_unclaimed(tex_path, tex)
    write_text_atomic(tex_path, tex)
    if tex_only:
        return (tex_path,)
    result = compile_pdf(tex_path, timeout=timeout, png=png, strict=strict)
    warn_overfull(result, warn)
    return (tex_path, result.pdf, *result.pngs)


def warn_overfull(result: CompileResult, warn: Callable[[str], None] | None) -> None:
    """Pass each overfull box of a compiled PDF to `warn`, as `build` reports them."""
    if warn is not None:
        for box in result.overfull:
            warn(f"{result.pdf.name}: {box.text()}")


def _check_unclaimed(tex_path: Path, tex: str) -> None:
    """Refuse to replace a handout of other content: a .tex that differs, or a PDF without one."""
    try:
        same = tex_path.read_text(encoding="utf-8") == tex
    except FileNotFoundError:
        same = not tex_path.with_suffix(".pdf").exists()
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        raise InputError(
            f"{tex_path} already holds another handout; not replacing it",
            hint=f"choose another file name with --name, or pass --force to replace"
            f" {tex_path.stem}.tex and .pdf",
        )
