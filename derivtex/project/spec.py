"""Load TOML handout specs into frozen dataclasses, with file:line:key errors."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derivtex.errors import SpecError
from derivtex.options import Layout, Mode, VectorStyle

TOP_KEYS = ("title", "author", "date", "course", "intro", "defaults", "givens", "derivation")
DEFAULTS_KEYS: tuple[str, ...] = ("layout", "vectors", "example", "templates", "shapes", "steps")
DEFAULTS_KEYS += ("formats",)
DEFAULTS_KEYS += ("order",)
DERIVATION_KEYS: tuple[str, ...] = ("name", "title", "intro", "given", "shapes", "wrt", "of")
DERIVATION_KEYS += ("example", "layout", "vectors", "steps", "order")
CHOICES = {
    "layout": tuple(m.value for m in Layout),
    "vectors": tuple(m.value for m in VectorStyle),
    "mode": tuple(m.value for m in Mode),  # a project config's
}
FALLBACKS = {
    "layout": Layout.NUMERATOR,
    "vectors": VectorStyle.ARROW,
}  # when neither derivation nor defaults say

Example = tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class DerivationSpec:
    name: str
    title: str | None
    intro: str | None
    given: str
    shapes: tuple[tuple[str, str], ...]
    wrt: str
    of: str | None
    example: Example
    layout: str
    vectors: str
    line: int
    key_lines: tuple[tuple[str, int], ...]
    steps: tuple[str, ...] | None = None  # the optional step kinds to keep; None: all
    order: int = 1  # 2: the Hessian of a scalar output

    def line_of(self, key: str) -> int:
        """The 1-based line of `key` in this derivation, else of its [[derivation]] header."""
        return dict(self.key_lines).get(key, self.line)


@dataclass(frozen=True, slots=True)
class Spec:
    path: Path
    title: str
    author: str | None
    date: str | None
    course: str | None
    intro: str | None
    templates: Path | None
    derivations: tuple[DerivationSpec, ...]
    formats: tuple[str, ...] | None = None  # [defaults] (or the config's); None: the command's


def spec_error(
    path: Path | str, line: int | None, msg: str, hint: str | None, key: str | None = None
) -> SpecError:
    """A SpecError reading `path:line: msg`, carrying .path (str), .line and .key."""
    return SpecError(msg, path=str(path), line=line, key=key, hint=hint)


# --- line scanner: tomllib reports no positions, so find them in the text ourselves ---

_HEADER = re.compile(r"^\s*(\[\[?)([^\]]*)\]")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")


@dataclass(slots=True)
class _Lines:
    top: dict[str, int] = field(default_factory=dict)
    defaults: dict[str, int] = field(default_factory=dict)
    derivations: list[tuple[int, dict[str, int]]] = field(default_factory=list)

    def enter(self, parts: list[str], is_array: bool, number: int) -> dict[str, int] | None:
        """Note a table header; return where its own keys go (None: a nested table)."""
        self.top.setdefault(parts[0], number)
        if parts == ["derivation"] and is_array:
            self.derivations.append((number, {}))
            return self.derivations[-1][1]
        if parts == ["defaults"]:
            return self.defaults
        # [derivation.shapes] fills a key of the last derivation; map it to this header.
        if parts[0] == "derivation" and self.derivations and len(parts) > 1:
            self.derivations[-1][1].setdefault(parts[1], number)
        elif parts[0] == "defaults" and len(parts) > 1:
            self.defaults.setdefault(parts[1], number)
        return None


def _scan(text: str) -> _Lines:
    """Find the line of every table header and top-level key of each table."""
    lines = _Lines()
    target: dict[str, int] | None = lines.top
    closing: str | None = None  # the triple quote ending a multi-line string we are inside
    depth = 0  # open brackets of a multi-line array, whose `[` lines are not headers
    # tomllib counts "\n" only, so split on exactly that to agree with its line numbers.
    for number, raw in enumerate(text.split("\n"), start=1):
        if closing:
            closing = None if closing in raw else closing
            continue
        if depth > 0:
            depth += raw.count("[") - raw.count("]")
            continue
        header = _HEADER.match(raw)
        if header:
            parts = [p.strip().strip("\"'") for p in header.group(2).split(".")]
            target = lines.enter(parts, header.group(1) == "[[", number)
            continue
        key = _KEY.match(raw)
        if key and target is not None:
            target.setdefault(next(g for g in key.groups() if g is not None), number)
        value = raw[key.end() :] if key else ""
        closing, depth = _opens_multiline(value), value.count("[") - value.count("]")
    return lines


def _opens_multiline(value: str) -> str | None:
    """The triple quote a value starts but does not close on its line, if any."""
    for quote in ('"""', "'''"):
        if value.count(quote) % 2 == 1:
            return quote
    return None


# --- validation ---


def _type_name(value: object) -> str:
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
class _Where:
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
            got = _type_name(value)
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
            raise self.bad(key, f"expected a table, got {_type_name(value)}", hint)
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
                got = _type_name(shape)
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
                "steps", f"expected an array of step kinds, got {_type_name(value)}", hint
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
            got = repr(value) if isinstance(value, int) else _type_name(value)
            hint = "write order = 2 for the Hessian of a scalar output, or order = 1"
            raise self.bad("order", f"expected 1 or 2, got {got}", hint)
        return int(value)

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
        got = _type_name(wrong[0]) if wrong else "an empty array"
        if isinstance(value, list) and wrong:
            got = f"an array holding {got}"
        raise self.bad(key, f"expected an integer or an array of integers, got {got}", hint)


def _folder_name(where: _Where, table: Mapping[str, Any]) -> str | None:
    """The templates folder, as written: a real path of ordinary characters."""
    value = where.string(table, "templates", blank_ok=False)
    if value is not None and any(ord(c) < 32 for c in value):
        raise where.bad("templates", "contains a control character", "write a plain folder path")
    return value


# --- loading ---

_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _parse_toml(text: str, path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(str(exc), text, path) from exc
    except RecursionError as exc:  # tomllib parses nested arrays and tables recursively
        msg = "arrays or tables nested too deeply to read"
        raise spec_error(path, None, msg, "a spec needs only a few levels of nesting") from exc


def _toml_error(message: str, text: str, path: str) -> SpecError:
    """Turn tomllib's '... (at line 3, column 5)' into a spec_error at that line."""
    found = _TOML_POSITION.search(message)
    line, column = text.rstrip().count("\n") + 1, None  # "end of document": its last line
    if found and found.group(1):
        line, column = int(found.group(1)), int(found.group(2))
    reason = message[: found.start()] if found else message
    where = f" (column {column})" if column else " (at the end of the file)"
    hint = "fix the TOML syntax on this line; see https://toml.io/en/v1.0.0"
    if "twice" in reason or "overwrite" in reason:
        hint = "a key or table is given twice; keep only one of them"
    elif "'\\n'" in reason or "Unterminated string" in reason:
        hint = "a quoted string is not closed; add its closing quote"
    elif reason.startswith("Invalid value"):
        hint = 'text values need quotes, e.g. given = "y = W x"'
    return spec_error(path, line, f"invalid TOML: {reason}{where}", hint)


@dataclass(frozen=True, slots=True)
class SpecDefaults:
    """What a derivation gets when it does not say: from [defaults], over a project's config."""

    layout: str = FALLBACKS["layout"]
    vectors: str = FALLBACKS["vectors"]
    example: Example = ()
    templates: Path | None = None  # resolved: relative to the file that named it
    shapes: tuple[tuple[str, str], ...] = ()  # merged under each derivation's own shapes
    steps: tuple[str, ...] | None = None
    formats: tuple[str, ...] | None = None  # the outputs; None: as the command says
    order: int = 1


NO_DEFAULTS = SpecDefaults()


def _formats(where: _Where, table: Mapping[str, Any]) -> tuple[str, ...] | None:
    """formats = ["pdf", "slides", "html"], checked like the --format option."""
    from derivtex.errors import FormatError
    from derivtex.project.formats import FORMATS, parse_formats

    value = table.get("formats")
    if value is None:
        return None
    hint = f'write e.g. formats = ["pdf", "slides"] with names from {", ".join(FORMATS)}'
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise where.bad("formats", f"expected an array of strings, got {_type_name(value)}", hint)
    try:
        return parse_formats(value)
    except FormatError as exc:
        raise where.bad("formats", exc.message, hint) from None


def read_defaults(table: Mapping[str, Any], where: _Where, base: SpecDefaults) -> SpecDefaults:
    """A [defaults] table validated over `base`; `templates` resolves beside where.path."""
    where.check_keys(table, DEFAULTS_KEYS)
    templates = _folder_name(where, table)
    shapes = where.shapes(table, required=False) if "shapes" in table else ()
    steps = where.steps(table)
    return SpecDefaults(
        layout=where.choice(table, "layout") or base.layout,
        vectors=where.choice(table, "vectors") or base.vectors,
        example=where.example(table) or base.example,
        templates=Path(where.path).parent / templates if templates else base.templates,
        shapes=tuple((dict(base.shapes) | dict(shapes)).items()),
        steps=base.steps if steps is None else steps,
        formats=_formats(where, table) or base.formats,
        order=where.order(table) or base.order,
    )


def _defaults(
    data: Mapping[str, Any], lines: _Lines, top: _Where, base: SpecDefaults
) -> SpecDefaults:
    """Validate [defaults] up front: a bad value there is an error even if all override it."""
    hint = 'write [defaults] then lines like layout = "numerator"'
    table = top.table(data, "defaults", hint) or {}
    where = _Where(top.path, "defaults", top.line_of("defaults"), lines.defaults, "[defaults]")
    return read_defaults(table, where, base)


def _givens(data: Mapping[str, Any], top: _Where) -> dict[str, str]:
    """The shared [givens] table: a name for each text that derivations can refer to."""
    hint = 'write [givens] then lines like net = "z = W x + b; y = sigmoid(z)"'
    givens = top.table(data, "givens", hint) or {}
    for name, text in givens.items():
        if not isinstance(text, str) or not text.strip():
            got = _type_name(text) if not isinstance(text, str) else "an empty string"
            raise top.bad(f"givens.{name}", f"expected the text of statements, got {got}", hint)
    return givens


def _derivation_tables(data: Mapping[str, Any], top: _Where) -> list[dict[str, Any]]:
    hint = 'add a [[derivation]] table with given = "...", shapes = { ... } and wrt = "..."'
    tables = top.required(data, "derivation", "a [[derivation]] table")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        got = _type_name(tables) if not isinstance(tables, list) else "an array of other values"
        raise top.bad("derivation", f"expected [[derivation]] tables, got {got}", hint)
    if not tables:
        raise top.bad("derivation", "has no derivations", hint)
    return tables


def _derivations(
    table: Mapping[str, Any],
    n: int,
    where: _Where,
    defaults: SpecDefaults,
    givens: Mapping[str, str],
) -> tuple[DerivationSpec, ...]:
    """One [[derivation]] table: one DerivationSpec per variable of its `wrt`."""
    # Until the name is known to be good, errors call the derivation by position.
    name = where.string(table, "name", blank_ok=False) or f"derivation-{n}"
    where = _Where(where.path, f"derivation '{name}'", where.line, where.key_lines, where.place)
    where.check_keys(table, DERIVATION_KEYS)
    given = where.required_string(table, "given", 'given = "y = W x"')
    own = where.shapes(table, required=not defaults.shapes)
    example, steps = where.example(table), where.steps(table)
    title = where.string(table, "title")
    variables = where.wrt(table)
    one = DerivationSpec(
        name=name,
        title=title,
        intro=where.string(table, "intro"),
        given=givens.get(given, given),
        shapes=tuple((dict(defaults.shapes) | dict(own)).items()),
        wrt=variables[0],
        of=where.string(table, "of", blank_ok=False),
        example=defaults.example if example is None else example,
        layout=where.choice(table, "layout") or defaults.layout,
        vectors=where.choice(table, "vectors") or defaults.vectors,
        line=where.line,
        key_lines=tuple((key, where.line_of(key)) for key in table),
        steps=defaults.steps if steps is None else steps,
        order=where.order(table) or defaults.order,
    )
    if len(variables) == 1:
        return (one,)
    base = title or name
    return tuple(
        dataclasses.replace(one, name=f"{name}-{v}", title=f"{base}: by {v}", wrt=v)
        for v in variables
    )


def _check_unique(derivations: Iterable[DerivationSpec], path: str) -> None:
    seen: dict[str, DerivationSpec] = {}
    for spec in derivations:
        first = seen.setdefault(spec.name, spec)
        if first is not spec:
            msg = f"'{spec.name}' is already the name of the derivation at line {first.line}"
            where = _Where(path, f"derivation '{spec.name}'", spec.line, dict(spec.key_lines))
            raise where.bad("name", msg, 'give every derivation its own name = "..."')


def parse_spec(
    text: str, path: Path | str = "<string>", defaults: SpecDefaults = NO_DEFAULTS
) -> Spec:
    """Validate spec `text`; `path` names it in errors and anchors the templates folder.

    `defaults` (a project's config) stand under the spec's own [defaults].
    """
    shown = str(path)
    data, lines = _parse_toml(text, shown), _scan(text)
    top = _Where(shown, None, 1, lines.top)
    top.check_keys(data, TOP_KEYS)
    title = top.required_string(data, "title", 'title = "..."')
    author, date, course, intro = (top.string(data, k) for k in TOP_KEYS[1:5])
    merged = _defaults(data, lines, top, defaults)
    givens = _givens(data, top)
    derivations: list[DerivationSpec] = []
    for n, table in enumerate(_derivation_tables(data, top), start=1):
        # Fall back to the `derivation` key's line if the headers were not found (inline array).
        line, key_lines = lines.derivations[n - 1] if n <= len(lines.derivations) else (0, {})
        line = line or top.line_of("derivation")
        where = _Where(shown, f"derivation {n}", line, key_lines, "this [[derivation]] table")
        derivations += _derivations(table, n, where, merged, givens)
    _check_unique(derivations, shown)
    return Spec(
        path=Path(path),
        title=title,
        author=author,
        date=date,
        course=course,
        intro=intro,
        templates=merged.templates,
        derivations=tuple(derivations),
        formats=merged.formats,
    )


def load_spec(path: Path | str, defaults: SpecDefaults = NO_DEFAULTS) -> Spec:
    """Read and validate the spec file at `path` (over a project config's `defaults`)."""
    try:
        # utf-8-sig: accept the byte-order mark some Windows editors write.
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8 text (byte {exc.start})"
        raise spec_error(path, None, msg, "save the spec file as UTF-8") from exc
    except OSError as exc:
        msg = f"cannot read the spec file: {exc.strerror or exc}"
        raise spec_error(path, None, msg, "check the path and its permissions") from exc
    return parse_spec(text, path, defaults)


def spec_files(paths: Iterable[Path | str]) -> tuple[Path, ...]:
    """Expand folders to their *.toml files (sorted, not recursive); keep files; dedupe."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            matches = sorted(p for p in path.glob("*.toml") if p.is_file())
            if not matches:
                raise spec_error(item, None, "folder holds no *.toml spec files", "add a spec file")
            found += matches
        elif path.exists():
            found.append(path)
        else:
            raise spec_error(item, None, "no such file or folder", "check the spelling of the path")
    return tuple(dict.fromkeys(found))
