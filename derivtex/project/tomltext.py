"""TOML text with line numbers: tomllib reports no positions, so find them in the text."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derivtex.errors import SpecError


def spec_error(
    path: Path | str, line: int | None, msg: str, hint: str | None, key: str | None = None
) -> SpecError:
    """A SpecError reading `path:line: msg`, carrying .path (str), .line and .key."""
    return SpecError(msg, path=str(path), line=line, key=key, hint=hint)


_HEADER = re.compile(r"^\s*(\[\[?)([^\]]*)\]")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")


@dataclass(slots=True)
class Lines:
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


def scan(text: str) -> Lines:
    """Find the line of every table header and top-level key of each table."""
    lines = Lines()
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
        closing, depth = opens_multiline(value), value.count("[") - value.count("]")
    return lines


def opens_multiline(value: str) -> str | None:
    """The triple quote a value starts but does not close on its line, if any."""
    for quote in ('"""', "'''"):
        if value.count(quote) % 2 == 1:
            return quote
    return None


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def parse_toml(text: str, path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(str(exc), text, path) from exc
    except RecursionError as exc:  # tomllib parses nested arrays and tables recursively
        msg = "arrays or tables nested too deeply to read"
        raise spec_error(path, None, msg, "a spec needs only a few levels of nesting") from exc


def toml_error(message: str, text: str, path: str) -> SpecError:
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
