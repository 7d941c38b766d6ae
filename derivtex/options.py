"""The closed choices of derivtex (layout, vector style, build mode), validated once."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from derivtex.errors import InputError

E = TypeVar("E", bound=StrEnum)


class Layout(StrEnum):
    """How a Jacobian is arranged: rows follow the output (numerator) or the variable."""

    NUMERATOR = "numerator"
    DENOMINATOR = "denominator"


class VectorStyle(StrEnum):
    """How vectors are printed: an arrow over the name, or bold."""

    ARROW = "arrow"
    BOLD = "bold"


class Mode(StrEnum):
    """What a build writes: the worked handout, the exercise sheet, or both."""

    SOLUTIONS = "solutions"
    EXERCISES = "exercises"
    BOTH = "both"


def choice(kind: type[E], value: object, what: str | None = None) -> E:
    """`value` as a member of `kind`, or an InputError that lists the choices."""
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value))
    except ValueError:
        names = ", ".join(repr(m.value) for m in kind)
        raise InputError(
            f"unknown {what or kind.__name__.lower()} {value!r}", hint=f"use one of {names}"
        ) from None
