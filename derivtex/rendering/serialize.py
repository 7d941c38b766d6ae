"""Steps as plain data: one serialiser for `plan` (text and JSON); notebooks use notebook.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sympy

from derivtex.rendering.printer import Notation, to_latex

if TYPE_CHECKING:
    from derivtex.derivation.steps import Step


def fields(step: Step) -> Iterator[tuple[str, Any]]:
    """The step's fields after its kind and justification, in declaration order."""
    for name in step.__slots__:
        if name != "justification":
            yield name, getattr(step, name)


def to_data(value: Any, note: Notation) -> Any:
    """JSON-ready data: math as {"latex", "srepr"}, tuples as lists, records as dicts."""
    if isinstance(value, sympy.Basic):
        return {"latex": to_latex(value, note), "srepr": sympy.srepr(value)}
    if isinstance(value, tuple):
        return [to_data(v, note) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "__slots__"):
        return {f: to_data(getattr(value, f), note) for f in value.__slots__}
    return str(value)


def step_data(step: Step, note: Notation) -> dict[str, Any]:
    """One step as a dict: kind, justification, then each field."""
    return {
        "kind": step.kind,
        "justification": step.justification,
        **{k: to_data(v, note) for k, v in fields(step)},
    }


def plain(value: Any) -> str:
    """A field as plain text (sympy's str printer), for `derivtex plan`."""
    if isinstance(value, sympy.Basic):
        return str(sympy.sstr(value))
    if isinstance(value, tuple):
        return "(" + ", ".join(plain(v) for v in value) + ")"
    if isinstance(getattr(type(value), "kind", None), str) and hasattr(value, "__slots__"):
        inner = "; ".join(f"{name}: {plain(v)}" for name, v in fields(value))
        return f"[{value.kind}] {inner}"  # a step inside a step
    return str(value)
