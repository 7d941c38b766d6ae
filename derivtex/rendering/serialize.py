"""Steps as plain data: one serialiser for `plan` (text and JSON) and for Jupyter's markdown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sympy

from derivtex.rendering.printer import Notation, notation, to_latex

if TYPE_CHECKING:
    from derivtex.derivation.model import Derivation
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


def markdown(d: Derivation) -> str:
    """The steps for Jupyter: a bold heading and the justification, then each math field."""
    note = notation(d.graph)
    return "\n\n".join(_markdown_step(step_data(step, note)) for step in d.steps)


def _markdown_step(data: dict[str, Any]) -> str:
    lines = [f"**{data['kind'].replace('_', ' ').capitalize()}.** {data['justification']}"]
    for name, value in data.items():
        items = value if isinstance(value, list) else [value]
        if name not in ("kind", "justification") and items and all(_is_math(v) for v in items):
            math = ", ".join(f"${v['latex']}$" for v in items)
            lines.append(f"- {name.replace('_', ' ')}: {math}")
    return "\n".join(lines)


def _is_math(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"latex", "srepr"}
