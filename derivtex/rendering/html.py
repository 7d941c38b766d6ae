"""Render derivations into an HTML page: the same inert views, HTML templates, KaTeX in the page.

The page's math is the printer's LaTeX, HTML-escaped like every other value (jinja's autoescape)
and typeset in the browser by the KaTeX files shipped beside the page: no network is needed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2
import markupsafe
import sympy

from derivtex.derivation.model import Derivation
from derivtex.rendering.document import Section, section_views
from derivtex.rendering.environment import (
    LATEX_SYNTAX,
    LatexEnvironment,
    name_filter,
    render_template,
    restrict,
    template_loader,
)
from derivtex.rendering.templatefiles import builtin_templates

ASSETS = ("html", "assets")  # under the built-in templates; copied beside each page as is


class HtmlEnvironment(LatexEnvironment):
    """The bounded sandbox of the LaTeX templates, with HTML autoescape instead of TeX escaping.

    Every value printed is HTML-escaped, printed LaTeX included (its & and < too): the browser
    turns it back into the text KaTeX reads, and no value can open a tag.
    """

    # Autoescape itself marks rendered blocks (macros, caller()) safe; plain join is jinja's own.
    concat = staticmethod("".join)  # type: ignore[assignment]


def inline_math(value: object) -> markupsafe.Markup:
    """Printed LaTeX with $...$ parts (a report's sizes) as KaTeX spans, the rest escaped."""
    parts = re.split(r"(?<!\\)\$", str(value))
    span = markupsafe.Markup('<span class="dtx-tex dtx-inline">{}</span>')
    return markupsafe.Markup("").join(
        span.format(part) if n % 2 else markupsafe.escape(part) for n, part in enumerate(parts)
    )


def _finalize(value: object) -> object:
    if isinstance(value, sympy.Basic):
        raise jinja2.TemplateRuntimeError(
            "a sympy object reached the output unprinted: templates take printed LaTeX only"
        )
    return value


@functools.lru_cache(maxsize=8)
def _environment(user_dir: Path | None) -> HtmlEnvironment:
    env = HtmlEnvironment(
        loader=template_loader(user_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=_finalize,
        **LATEX_SYNTAX,
    )
    env.filters["name"] = name_filter
    env.filters["inline_math"] = inline_math
    restrict(env)
    return env


def render_html(
    derivations: Derivation | Sequence[Derivation | Section],
    *,
    title: str = "Worked derivation",
    author: str | None = None,
    date: str | None = None,
    course: str | None = None,
    intro: str | None = None,
    templates: Path | str | None = None,
    vectors: str = "arrow",
) -> str:
    """The HTML page of the given derivations (html/page.html.j2)."""
    views = section_views(derivations, vectors)
    env = _environment(Path(templates).resolve() if templates else None)
    return render_template(
        env,
        "html/page.html.j2",
        title=title,
        author=author,
        date=date,
        course=course,
        intro=intro,
        sections=views,
        notation=views[0].notation if views else None,
    )


def asset_files() -> tuple[tuple[str, Traversable], ...]:
    """The files a page needs beside it (KaTeX), as (relative path, file), sorted."""
    root = builtin_templates()
    for part in ASSETS:
        root = root.joinpath(part)
    return tuple(sorted(_walk(root, ""), key=lambda item: item[0]))


def _walk(node: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for child in node.iterdir():
        if child.is_dir():
            yield from _walk(child, f"{prefix}{child.name}/")
        elif child.is_file():
            yield prefix + child.name, child
