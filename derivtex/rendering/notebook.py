"""A Derivation in a Jupyter notebook: Markdown headings and $$ math, and its index form as LaTeX.

The math is the printer's, through the same inert views and the same bounded sandbox as the
handout; only the layout (templates/notebook/) and the escaping of plain text (Markdown's) differ.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, cast

import jinja2
import sympy
from pylatex.utils import NoEscape

from derivtex.calculus.engine import entry
from derivtex.rendering.document import section_views
from derivtex.rendering.environment import (
    LATEX_SYNTAX,
    LatexEnvironment,
    name_filter,
    render_template,
    restrict,
    template_loader,
    tex_filter,
)
from derivtex.rendering.printer import notation, to_latex

if TYPE_CHECKING:
    from derivtex.derivation.model import Derivation

TEMPLATE = "notebook/derivation.md.j2"
# Characters Markdown (or Jupyter's math finder) would read as markup; a backslash makes each
# literal (CommonMark escapes any ASCII punctuation, and Jupyter reads \$ as a dollar sign).
_MARKUP = re.compile(r"([\\`*_{}\[\]<>#|$~&])")
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def escape_markdown(value: object) -> str:
    """Plain text that Markdown shows as it is: markup escaped, whitespace runs one space."""
    return _MARKUP.sub(r"\\\1", _WHITESPACE.sub(" ", str(value)))


def inline_math(value: object) -> NoEscape:
    """Prose with $...$ parts printed by the printer: the math kept for Jupyter to typeset,
    the rest escaped."""
    parts = re.split(r"(?<!\\)\$", str(value))
    return NoEscape(
        "".join(f"${part}$" if n % 2 else escape_markdown(part) for n, part in enumerate(parts))
    )


def _finalize(value: object) -> str:
    """Printed math (NoEscape) as it is; any other value escaped; never a sympy object."""
    if isinstance(value, NoEscape):
        return cast(str, value)
    if isinstance(value, sympy.Basic):
        raise jinja2.TemplateRuntimeError(
            "a sympy object reached the output unprinted: templates take printed LaTeX only"
        )
    return escape_markdown(value)


@functools.cache
def _environment() -> LatexEnvironment:
    env = LatexEnvironment(
        loader=template_loader(None),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        **LATEX_SYNTAX,
    )
    env.filters.update(name=name_filter, tex=tex_filter, inline_math=inline_math)
    return restrict(env)


def markdown(d: Derivation, vectors: str = "arrow") -> str:
    """The worked steps as Markdown: a heading per step, its reason, its math in $$ displays."""
    text = render_template(_environment(), TEMPLATE, sections=section_views(d, vectors))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def index_equation(d: Derivation) -> tuple[sympy.Basic, sympy.Basic]:
    """The result's index form with its left side: (d y_i / d x_j, W_{i,j})."""
    out, wrt = d.index.out_idx, d.index.wrt_idx
    if d.order == 2:  # the Hessian's i is the gradient's index: both are entries of wrt
        by = (entry(d.wrt, d.wrt_shape, out), entry(d.wrt, d.wrt_shape, wrt))
        lhs = sympy.Derivative(sympy.Symbol(d.output), *by, evaluate=False)
    else:
        of = entry(d.output, d.out_shape, out)
        lhs = sympy.Derivative(of, entry(d.wrt, d.wrt_shape, wrt), evaluate=False)
    return lhs, d.index_result


def latex(d: Derivation, vectors: str = "arrow") -> str:
    """The index form as one inline equation: $\\frac{\\partial y_i}{\\partial x_j} = W_{i,j}$."""
    note = notation(d.graph, vectors)
    lhs, rhs = index_equation(d)
    return f"${to_latex(lhs, note)} = {to_latex(rhs, note)}$"
