"""The checks of a spec's (or a config's) tables: each value's type and range, with file:line."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from derivtex.errors import SpecError
from derivtex.options import Layout, Mode, VectorStyle
from derivtex.project.tomltext import spec_error

CHOICES = {
    "layout": tuple(m.value for m in Layout),
    "vectors": tuple(m.value for m in VectorStyle),
    "mode": tuple(m.value for m in Mode),  # a project config's
}
Example = tuple[tuple[str, tuple[int, ...]], ...]
# A TeX length as a spec may write it: a number and a unit; the points in one of each unit.
LENGTH = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(pt|mm|cm|in|em|ex)")
POINTS = {"pt": 1.0, "mm": 2.845, "cm": 28.45, "in": 72.27, "em": 10.0, "ex": 4.31}
MAX_LENGTH = 1500.0  # points, about 53 cm: more than a page, far below TeX's limit of 16384pt


def type_name(value: object) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "a boolean"
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (dict, "a table"),
        (list, "an array"),
        ((datetime.date, datetime.time), "a date/time"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


@dataclass(frozen=True, slots=True)
class Where:
    """One table of the spec: how to name it in errors and where its keys are."""

    path: str
    label: str | None  # "derivation 'linear-map'", "defaults", or None at the top level
    line: int
    key_lines: Mapping[str, int]
    place: str = "the file"  # where the hint says to add a missing key

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def error(self, msg: str, hint: str, key: str | None = None) -> SpecError:
        prefix = f"{self.label}: " if self.label else ""
        line = self.line_of(key.split(".")[0]) if key else self.line
        return spec_error(self.path, line, prefix + msg, hint, key)

    def bad(self, key: str, msg: str, hint: str) -> SpecError:
        return self.error(f"key '{key}': {msg}", hint, key)

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        for key in (k for k in table if k not in allowed):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(allowed)}"
            raise self.error(f"unknown key '{key}'", hint, key)

    def required(self, table: Mapping[str, Any], key: str, example: str) -> Any:
        if key not in table:
            hint = f"add {example} to {self.place}"
            raise self.error(f"missing required key '{key}'", hint, key)
        return table[key]

    def required_string(self, table: Mapping[str, Any], key: str, example: str) -> str:
        self.required(table, key, example)
        return self.string(table, key, blank_ok=False) or ""

    def string(self, table: Mapping[str, Any], key: str, blank_ok: bool = True) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            got = type_name(value)
            raise self.bad(key, f"expected a string, got {got}", f'quote it: {key} = "..."')
        if value is not None and not blank_ok and not value.strip():
            raise self.bad(key, "is empty", f'give it a value: {key} = "..."')
        return value

    def choice(self, table: Mapping[str, Any], key: str) -> str | None:
        value, valid = self.string(table, key), CHOICES[key]
        if value is not None and value not in valid:
            listed = ", ".join(f"'{c}'" for c in valid)
            close = difflib.get_close_matches(value, valid, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f'write {key} = "{valid[0]}"'
            raise self.bad(key, f"'{value}' is not one of {listed}", hint)
        return value

    def table(self, table: Mapping[str, Any], key: str, hint: str) -> dict[str, Any] | None:
        value = table.get(key)
        if value is not None and not isinstance(value, dict):
            raise self.bad(key, f"expected a table, got {type_name(value)}", hint)
        return value

    def shapes(
        self, table: Mapping[str, Any], required: bool = True
    ) -> tuple[tuple[str, str], ...]:
        hint = 'write shapes = { W = "C x D", x = "D" }'
        if required:
            self.required(table, "shapes", 'shapes = { x = "D" } (or shapes in [defaults])')
        shapes = self.table(table, "shapes", hint)
        if shapes is None:
            return ()
        if not shapes:
            raise self.bad("shapes", "is empty; name the shape of every input", hint)
        for name, shape in shapes.items():
            if not isinstance(shape, str):
                got = type_name(shape)
                raise self.bad(f"shapes.{name}", f"expected a shape string, got {got}", hint)
        return tuple(shapes.items())

    def wrt(self, table: Mapping[str, Any]) -> tuple[str, ...]:
        """The variable, or the variables of a list: one section each."""
        hint = 'write wrt = "x", or wrt = ["W1", "b1"] for one section per variable'
        self.required(table, "wrt", 'wrt = "x"')
        items = table["wrt"]
        if not isinstance(items, list):  # a string, else the usual "expected a string"
            return (self.required_string(table, "wrt", 'wrt = "x"'),)
        if not items or not all(isinstance(v, str) and v.strip() for v in items):
            got = "an array holding other than names" if items else "an empty array"
            raise self.bad("wrt", f"expected a name or an array of names, got {got}", hint)
        twice = next((v for v in items if items.count(v) > 1), None)
        if twice is not None:
            raise self.bad("wrt", f"'{twice}' is listed twice", "list each variable once")
        return tuple(items)

    def steps(self, table: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The step kinds to keep (the others optional ones are left out), checked by name."""
        if "steps" not in table:
            return None
        value, hint = table["steps"], 'write steps = ["sum_expansion", "term_partial"]'
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.bad(
                "steps", f"expected an array of step kinds, got {type_name(value)}", hint
            )
        from derivtex.derivation.steps import KINDS  # loads sympy: only for specs that say

        for kind in (k for k in value if k not in KINDS):
            close = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known kinds: {', '.join(KINDS)}"
            raise self.bad("steps", f"unknown step kind '{kind}'", hint)
        return tuple(value)

    def order(self, table: Mapping[str, Any]) -> int | None:
        """order = 1 (the derivative) or 2 (the Hessian of a scalar output)."""
        value = table.get("order")
        if value is None:
            return None
        if isinstance(value, bool) or value not in (1, 2):
            got = repr(value) if isinstance(value, int) else type_name(value)
            hint = "write order = 2 for the Hessian of a scalar output, or order = 1"
            raise self.bad("order", f"expected 1 or 2, got {got}", hint)
        return int(value)

    def length(self, table: Mapping[str, Any], key: str) -> str | None:
        """A TeX length such as "6cm" or "2.5in", written back without spaces."""
        value, hint = self.string(table, key), f'write {key} = "6cm" (units: {", ".join(POINTS)})'
        if value is None:
            return None
        found = LENGTH.fullmatch(value.strip())
        if not found:
            raise self.bad(key, f"'{value}' is not a TeX length (a number and a unit)", hint)
        if float(found[1]) * POINTS[found[2]] > MAX_LENGTH:
            raise self.bad(key, f"'{value}' is longer than a page", f'write {key} = "24cm" or less')
        return found[1] + found[2]

    def example(self, table: Mapping[str, Any]) -> Example | None:
        hint = "write example = { y = 3, x = [7, 2] } (an index or an array of indices)"
        entries = self.table(table, "example", hint)
        if entries is None:
            return None
        return tuple((k, self._indices(f"example.{k}", v, hint)) for k, v in entries.items())

    def _indices(self, key: str, value: object, hint: str) -> tuple[int, ...]:
        items = value if isinstance(value, list) else [value]
        # bool is an int subclass, but `x = true` is surely not an index.
        wrong = [v for v in items if not isinstance(v, int) or isinstance(v, bool)]
        if items and not wrong:
            return tuple(items)
        got = type_name(wrong[0]) if wrong else "an empty array"
        if isinstance(value, list) and wrong:
            got = f"an array holding {got}"
        raise self.bad(key, f"expected an integer or an array of integers, got {got}", hint)


def folder_name(where: Where, table: Mapping[str, Any]) -> str | None:
    """The templates folder, as written: a real path of ordinary characters."""
    value = where.string(table, "templates", blank_ok=False)
    if value is not None and any(ord(c) < 32 for c in value):
        raise where.bad("templates", "contains a control character", "write a plain folder path")
    return value
