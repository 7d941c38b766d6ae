"""The jinja2 environment that lays out derivtex's LaTeX, after Sphinx's LaTeX builder."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import jinja2

from derivtex.errors import DerivtexError, TemplateError
from derivtex.rendering.bytecode import template_cache
from derivtex.rendering.filters import (
    FILTERS,
    TYPESETTABLE,
    escape_text,
    finalize,
    name_filter,
    tex_filter,
)
from derivtex.rendering.loaders import export_templates, template_loader
from derivtex.rendering.sandbox import LatexEnvironment, restrict
from derivtex.rendering.templatefiles import builtin_templates, template_names

# What other modules and the tests import from here.
__all__ = [
    "LATEX_SYNTAX",
    "TYPESETTABLE",
    "LatexEnvironment",
    "builtin_templates",
    "escape_text",
    "export_templates",
    "make_environment",
    "name_filter",
    "render_template",
    "restrict",
    "template_loader",
    "template_names",
    "tex_filter",
]

# The default {{ }} and {% %} collide with TeX's braces and % comments.
LATEX_SYNTAX: dict[str, Any] = {
    "variable_start_string": "<<",
    "variable_end_string": ">>",
    "block_start_string": "<%",
    "block_end_string": "%>",
    "comment_start_string": "<#",
    "comment_end_string": "#>",
    "line_statement_prefix": None,
    "line_comment_prefix": None,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
}


def make_environment(user_dir: Path | None = None) -> LatexEnvironment:
    """The template environment: templates in user_dir override built-ins of the same name.

    A built-in stays reachable as "builtin/NAME", so that an override can extend the template it
    replaces (<% extends "builtin/preamble.tex.j2" %>) instead of extending itself.

    Always sandboxed, whether or not a user folder is given: built-in templates need nothing the
    sandbox forbids, and one kind of environment is one behaviour to test.
    """
    env = LatexEnvironment(
        loader=template_loader(user_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=finalize,
        bytecode_cache=template_cache("latex"),
        **LATEX_SYNTAX,
    )
    env.filters.update(FILTERS)
    return restrict(env)


def render_template(env: jinja2.Environment, name: str, **context: Any) -> str:
    """Render one template; every template failure becomes a TemplateError saying where."""
    try:
        return str(env.get_template(name).render(**context))
    except DerivtexError:  # already says what and where (a template symlinked out of its folder)
        raise
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(
            f"template {exc.name!r} not found{_where(exc, ' (needed at {})')}",
            hint="built-in names are listed by export_templates; check the spelling",
        ) from exc
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name or name}, line {exc.lineno}"
        raise TemplateError(f"syntax error in template {where}: {exc.message}") from exc
    except jinja2.TemplateError as exc:  # UndefinedError, SecurityError, filter errors
        raise TemplateError(
            f"cannot render template {name!r}: {exc.message}{_where(exc, ' (at {})')}"
        ) from exc
    except RecursionError as exc:
        raise TemplateError(
            f"cannot render template {name!r}: it recurses too deeply{_where(exc, ' (at {})')}"
        ) from exc
    except MemoryError as exc:
        raise TemplateError(f"cannot render template {name!r}: out of memory") from exc
    except Exception as exc:  # OverflowError, TypeError, ...: jinja passes these on unwrapped
        raise TemplateError(
            f"cannot render template {name!r}: {type(exc).__name__}: {exc}{_where(exc, ' (at {})')}"
        ) from exc


def _where(exc: BaseException, pattern: str) -> str:
    """The innermost template line in exc's traceback, formatted into pattern, or ''."""
    # jinja rewrites tracebacks so that template code shows as frames of the template file.
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.endswith(".py") and not frame.filename.startswith("<frozen")
    ]
    return pattern.format(f"{frames[-1].filename}, line {frames[-1].lineno}") if frames else ""
