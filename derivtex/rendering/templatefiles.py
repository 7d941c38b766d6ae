"""Where the built-in templates live, and their names: no jinja, no sympy, cheap to import."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path

from jinja2.loaders import split_template_path

BUILTIN_PACKAGE = "derivtex.templates"
TEMPLATE_SUFFIX = ".j2"


def builtin_templates() -> Traversable:
    """The folder of built-in templates: package data when installed, else the checkout's."""
    try:
        return importlib.resources.files(BUILTIN_PACKAGE)
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "templates"


def template_names(root: Traversable) -> tuple[str, ...]:
    """The names (like steps/chain.tex.j2) of the templates under root, sorted."""
    return tuple(sorted(_walk(root, "")))


def _walk(node: Traversable, prefix: str) -> Iterator[str]:
    for child in node.iterdir():
        if child.is_dir() and not child.name.startswith(("_", ".")):
            yield from _walk(child, f"{prefix}{child.name}/")
        elif child.is_file() and child.name.endswith(TEMPLATE_SUFFIX):
            yield prefix + child.name


def template_file(root: Traversable, name: str) -> Traversable:
    """The file of a template name (like steps/chain_rule.tex.j2) under root."""
    node = root
    for part in split_template_path(name):  # rejects .. so a name cannot leave the folder
        node = node.joinpath(part)
    return node
