"""The project config: derivtex.toml (or [tool.derivtex] in pyproject.toml), found upwards."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derivtex.errors import ConfigError, SpecError
from derivtex.project.defaults import NO_DEFAULTS, SpecDefaults, read_defaults
from derivtex.project.tomltext import opens_multiline, parse_toml
from derivtex.project.validate import Where

CONFIG_NAME = "derivtex.toml"
KEYS = ("specs", "output", "templates", "jobs", "strict", "mode", "timeout", "defaults")


@dataclass(frozen=True, slots=True)
class Config:
    """A project's settings; None where the config does not say (the command's default holds)."""

    path: Path | None = None  # the file they came from; None: no config found
    specs: tuple[Path, ...] = ()  # resolved beside the config file, like every path in it
    output: Path | None = None
    jobs: int | None = None
    strict: bool | None = None
    mode: str | None = None
    timeout: float | None = None
    defaults: SpecDefaults = NO_DEFAULTS  # under each spec's own [defaults]


NO_CONFIG = Config()


def find_config(start: Path | None = None) -> Path | None:
    """The nearest derivtex.toml, or pyproject.toml with [tool.derivtex], from `start` upwards.

    The search stops at the root of the git repository that holds `start`: a config above it
    belongs to another project.
    """
    here = Path(start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return _shown(folder / CONFIG_NAME)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and re.search(r"^\s*\[tool\.derivtex[\].]", _text(pyproject), re.M):
            return _shown(pyproject)
        if (folder / ".git").exists():
            return None
    return None


def load_config(start: Path | None = None) -> Config:
    """The config found from `start` (default: the working folder), or NO_CONFIG."""
    path = find_config(start)
    return NO_CONFIG if path is None else read_config(path)


def read_config(path: Path) -> Config:
    """Read and validate one config file; errors name its file, line and key."""
    text = _text(path)
    try:
        return _config(text, path)
    except SpecError as exc:  # raised by the spec file's checks, which the config reuses
        raise ConfigError(
            exc.reason, path=str(path), line=exc.line, key=exc.key, hint=exc.hint
        ) from None


def _config(text: str, path: Path) -> Config:
    data, lines = parse_toml(text, str(path)), _key_lines(text)
    prefix = () if path.name == CONFIG_NAME else ("tool", "derivtex")
    for n, part in enumerate(prefix):
        data = data.get(part, {})
        if not isinstance(data, dict):
            where = _table(path, prefix[:n], lines)
            raise where.bad(part, "expected a table", "write [tool.derivtex] then its keys")
    where = _table(path, prefix, lines)
    where.check_keys(data, KEYS)
    base = SpecDefaults(templates=_folder(where, data, "templates"))
    hint = 'write [defaults] then lines like layout = "numerator"'
    defaults = where.table(data, "defaults", hint) or {}
    defaults_at = _table(path, (*prefix, "defaults"), lines, "defaults")
    return Config(
        path=path,
        specs=tuple(_resolve(path, item) for item in _paths(where, data)),
        output=_folder(where, data, "output"),
        jobs=_number(where, data, "jobs", int),
        strict=_flag(where, data, "strict"),
        mode=where.choice(data, "mode"),
        timeout=_number(where, data, "timeout", float),
        defaults=read_defaults(defaults, defaults_at, base),
    )


def _table(
    path: Path, prefix: tuple[str, ...], lines: Mapping[str, int], label: str | None = None
) -> Where:
    """The keys of one table of the config and the line of each."""
    dotted = ".".join(prefix)
    start = f"{dotted}." if dotted else ""
    keys = {k[len(start) :]: n for k, n in lines.items() if k.startswith(start) and k != dotted}
    own = {k: n for k, n in keys.items() if "." not in k}
    return Where(
        str(path), label, lines.get(dotted, 1), own, f"[{dotted}]" if dotted else "the file"
    )


def _paths(where: Where, data: Mapping[str, Any]) -> tuple[str, ...]:
    value = data.get("specs", ())
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(v, str) and v.strip() for v in items
    ):
        hint = 'write specs = ["lectures", "exercises/week1.toml"]'
        raise where.bad("specs", "expected a path or an array of paths (files or folders)", hint)
    return tuple(items)


def _folder(where: Where, data: Mapping[str, Any], key: str) -> Path | None:
    value = where.string(data, key, blank_ok=False)
    return None if value is None else _resolve(Path(where.path), value)


def _number(where: Where, data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is None:
        return None
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise where.bad(
            key,
            f"expected a positive {kind.__name__ if kind is int else 'number'}, got {value!r}",
            f"e.g. {key} = 2",
        )
    return kind(value)


def _flag(where: Where, data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise where.bad(key, f"expected true or false, got {value!r}", f"write {key} = true")
    return value


def _resolve(config: Path, value: str) -> Path:
    """A path of the config, relative to its folder (and shown relative to the working one)."""
    return _shown(config.parent / value)


def _shown(path: Path) -> Path:
    try:
        return Path(os.path.relpath(path))
    except ValueError:  # another drive, on Windows
        return path.absolute()


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the config file ({exc})", path=str(path), hint="check the file"
        ) from exc


# tomllib reports no positions: find the line of every table header and key ourselves.
_HEADER = re.compile(r"^\s*\[\[?([^\]]*)\]")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")


def _key_lines(text: str) -> dict[str, int]:
    """The line of each header ("tool.derivtex") and key ("tool.derivtex.jobs"), first wins."""
    found: dict[str, int] = {}
    table, closing = "", None
    for number, raw in enumerate(text.split("\n"), start=1):
        if closing:
            closing = None if closing in raw else closing
            continue
        header = _HEADER.match(raw)
        if header:
            table = ".".join(p.strip().strip("\"'") for p in header.group(1).split("."))
            found.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            name = next(g for g in key.groups() if g is not None)
            found.setdefault(f"{table}.{name}" if table else name, number)
            closing = opens_multiline(raw[key.end() :])
    return found
