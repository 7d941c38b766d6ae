"""Load TOML handout specs into frozen dataclasses, with file:line:key errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derivtex.project.defaults import (
    DEFAULTS_KEYS,
    FALLBACKS,
    NO_DEFAULTS,
    SpecDefaults,
    defaults_table,
    read_defaults,
)
from derivtex.project.tomltext import parse_toml, scan, spec_error
from derivtex.project.validate import CHOICES, Example, Where, type_name

# What other modules (and users of 0.1) import from here.
__all__ = [
    "CHOICES",
    "DEFAULTS_KEYS",
    "FALLBACKS",
    "NO_DEFAULTS",
    "DerivationSpec",
    "Spec",
    "SpecDefaults",
    "load_spec",
    "parse_spec",
    "read_defaults",
    "spec_error",
    "spec_files",
]

TOP_KEYS = ("title", "author", "date", "course", "intro", "defaults", "givens", "derivation")
DERIVATION_KEYS: tuple[str, ...] = ("name", "title", "intro", "given", "shapes", "wrt", "of")
DERIVATION_KEYS += ("example", "layout", "vectors", "steps", "order", "answer_space")


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
    answer_space: str | None = None  # a TeX length after the exercise; None: the sheet's default

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


def _givens(data: Mapping[str, Any], top: Where) -> dict[str, str]:
    """The shared [givens] table: a name for each text that derivations can refer to."""
    hint = 'write [givens] then lines like net = "z = W x + b; y = sigmoid(z)"'
    givens = top.table(data, "givens", hint) or {}
    for name, text in givens.items():
        if not isinstance(text, str) or not text.strip():
            got = type_name(text) if not isinstance(text, str) else "an empty string"
            raise top.bad(f"givens.{name}", f"expected the text of statements, got {got}", hint)
    return givens


def _derivation_tables(data: Mapping[str, Any], top: Where) -> list[dict[str, Any]]:
    hint = 'add a [[derivation]] table with given = "...", shapes = { ... } and wrt = "..."'
    tables = top.required(data, "derivation", "a [[derivation]] table")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        got = type_name(tables) if not isinstance(tables, list) else "an array of other values"
        raise top.bad("derivation", f"expected [[derivation]] tables, got {got}", hint)
    if not tables:
        raise top.bad("derivation", "has no derivations", hint)
    return tables


def _derivations(
    table: Mapping[str, Any],
    n: int,
    where: Where,
    defaults: SpecDefaults,
    givens: Mapping[str, str],
) -> tuple[DerivationSpec, ...]:
    """One [[derivation]] table: one DerivationSpec per variable of its `wrt`."""
    # Until the name is known to be good, errors call the derivation by position.
    name = where.string(table, "name", blank_ok=False) or f"derivation-{n}"
    where = Where(where.path, f"derivation '{name}'", where.line, where.key_lines, where.place)
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
        answer_space=where.length(table, "answer_space") or defaults.answer_space,
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
            where = Where(path, f"derivation '{spec.name}'", spec.line, dict(spec.key_lines))
            raise where.bad("name", msg, 'give every derivation its own name = "..."')


def parse_spec(
    text: str, path: Path | str = "<string>", defaults: SpecDefaults = NO_DEFAULTS
) -> Spec:
    """Validate spec `text`; `path` names it in errors and anchors the templates folder.

    `defaults` (a project's config) stand under the spec's own [defaults].
    """
    shown = str(path)
    data, lines = parse_toml(text, shown), scan(text)
    top = Where(shown, None, 1, lines.top)
    top.check_keys(data, TOP_KEYS)
    title = top.required_string(data, "title", 'title = "..."')
    author, date, course, intro = (top.string(data, k) for k in TOP_KEYS[1:5])
    merged = defaults_table(data, lines, top, defaults)
    givens = _givens(data, top)
    derivations: list[DerivationSpec] = []
    for n, table in enumerate(_derivation_tables(data, top), start=1):
        # Fall back to the `derivation` key's line if the headers were not found (inline array).
        line, key_lines = lines.derivations[n - 1] if n <= len(lines.derivations) else (0, {})
        line = line or top.line_of("derivation")
        where = Where(shown, f"derivation {n}", line, key_lines, "this [[derivation]] table")
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
