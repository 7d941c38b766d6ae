"""A spec's [defaults] (over a project config's): what a derivation gets when it does not say."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derivtex.options import Layout, VectorStyle
from derivtex.project.tomltext import Lines
from derivtex.project.validate import Example, Where, folder_name, type_name

DEFAULTS_KEYS: tuple[str, ...] = ("layout", "vectors", "example", "templates", "shapes", "steps")
DEFAULTS_KEYS += ("formats",)
DEFAULTS_KEYS += ("order",)
DEFAULTS_KEYS += ("answer_space",)
FALLBACKS = {
    "layout": Layout.NUMERATOR,
    "vectors": VectorStyle.ARROW,
}  # when neither derivation nor defaults say


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
    answer_space: str | None = None  # room after each exercise; None: the sheet's own (6cm)


NO_DEFAULTS = SpecDefaults()


def formats_of(where: Where, table: Mapping[str, Any]) -> tuple[str, ...] | None:
    """formats = ["pdf", "slides", "html"], checked like the --format option."""
    from derivtex.errors import FormatError
    from derivtex.project.formats import FORMATS, parse_formats

    value = table.get("formats")
    if value is None:
        return None
    hint = f'write e.g. formats = ["pdf", "slides"] with names from {", ".join(FORMATS)}'
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise where.bad("formats", f"expected an array of strings, got {type_name(value)}", hint)
    try:
        return parse_formats(value)
    except FormatError as exc:
        raise where.bad("formats", exc.message, hint) from None


def read_defaults(table: Mapping[str, Any], where: Where, base: SpecDefaults) -> SpecDefaults:
    """A [defaults] table validated over `base`; `templates` resolves beside where.path."""
    where.check_keys(table, DEFAULTS_KEYS)
    templates = folder_name(where, table)
    shapes = where.shapes(table, required=False) if "shapes" in table else ()
    steps = where.steps(table)
    return SpecDefaults(
        layout=where.choice(table, "layout") or base.layout,
        vectors=where.choice(table, "vectors") or base.vectors,
        example=where.example(table) or base.example,
        templates=Path(where.path).parent / templates if templates else base.templates,
        shapes=tuple((dict(base.shapes) | dict(shapes)).items()),
        steps=base.steps if steps is None else steps,
        formats=formats_of(where, table) or base.formats,
        order=where.order(table) or base.order,
        answer_space=where.length(table, "answer_space") or base.answer_space,
    )


def defaults_table(
    data: Mapping[str, Any], lines: Lines, top: Where, base: SpecDefaults
) -> SpecDefaults:
    """Validate [defaults] up front: a bad value there is an error even if all override it."""
    hint = 'write [defaults] then lines like layout = "numerator"'
    table = top.table(data, "defaults", hint) or {}
    where = Where(top.path, "defaults", top.line_of("defaults"), lines.defaults, "[defaults]")
    return read_defaults(table, where, base)
