"""Prose with math: titles and intros whose $...$ is derivtex's expression language.

The text between dollars is parsed and type-checked like a `given`, then printed by the printer,
so `$t^T z$` prints as the equations do and nothing a user writes reaches TeX unescaped. Names
whose shapes the derivation does not declare are taken as scalars.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy

from derivtex.calculus.mexpr import of_op
from derivtex.errors import InputError
from derivtex.language.lexer import tokenize
from derivtex.language.parser import parse
from derivtex.language.shapes import SCALAR, Shape
from derivtex.language.typecheck import lower
from derivtex.rendering.environment import escape_text
from derivtex.rendering.printer import Notation, to_latex

_TARGET = "dtxprose"
_CALLS = frozenset({"sum", "tr", "norm", "hadamard"})


class ProseMathError(InputError):
    """A $...$ in a title or intro that is not an expression derivtex can read."""

    def __init__(self, message: str, *, key: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key  # the spec key holding the text: "title" or "intro"


def prose_tex(text: str, shapes: Mapping[str, Shape], note: Notation, *, what: str) -> str:
    """text as LaTeX: plain parts escaped, each $...$ parsed and printed as math."""
    parts = re.split(r"(?<!\\)\$", text)  # \$ is a dollar sign
    if len(parts) % 2 == 0:
        raise ProseMathError(
            f"the {what} has an unmatched $",
            key=what.split()[-1],
            hint="write math between two dollars, $W x$, and a dollar sign as \\$",
        )
    out = []
    for n, part in enumerate(parts):
        if n % 2 == 0:
            out.append(str(escape_text(part.replace("\\$", "$"))))
        else:
            out.append("$" + _math(part, shapes, note, what) + "$")
    return "".join(out)


def _math(source: str, shapes: Mapping[str, Shape], note: Notation, what: str) -> str:
    from derivtex.language.functions import ELEMENTWISE

    try:
        names = {t.text for t in tokenize(source) if t.kind == "NAME"}
        names -= set(ELEMENTWISE) | _CALLS
        declared = {name: shapes.get(name, SCALAR) for name in names}
        graph = lower(parse(f"{_TARGET} = {source}", set(declared)), declared)
    except InputError as exc:
        raise ProseMathError(
            f"the {what} has ${source}$, which derivtex cannot read: {exc.message}",
            key=what.split()[-1],
            hint="write math in derivtex's expression language, e.g. $t^T z$ or $W1 x + b$",
        ) from None
    env: dict[str, sympy.Basic] = {}
    value: sympy.Basic = sympy.Integer(0)
    for definition in graph.definitions:
        value = of_op(definition.op, env)
        env[definition.name] = value
    kinds = dict(note.kinds) | {n: s.kind for n, s in declared.items() if n not in dict(note.kinds)}
    return to_latex(value, Notation(tuple(sorted(kinds.items())), note.vectors))


def justification_tex(text: str, note: Notation, shapes: Mapping[str, Shape] | None = None) -> str:
    """A step's justification as LaTeX: names written $W1$ set in math exactly as the equations
    print them ($W^{(1)}$), the rest escaped; a bad $...$ is a ProseMathError keyed
    "justification".

    Step builders mark the names of tensors with dollars, as users do in titles; the view turns
    the text into LaTeX with this, so a justification never sets W1 as the letters "W1".
    """
    return prose_tex(text, shapes or {}, note, what="justification")


def plain_prose(text: str) -> str:
    """Step prose without its math marks ($W1$ -> W1), for plain-text and HTML output."""
    return re.sub(r"(?<!\\)\$", "", text).replace("\\$", "$")


def math_prose(text: str, note: Notation) -> str:
    """Step prose for HTML and notebooks: each $name$ printed as the equations print it
    ($W1$ -> $W^{(1)}$), the plain parts left as written for the format to escape."""
    parts = re.split(r"(?<!\\)\$", text)
    if len(parts) % 2 == 0:
        return plain_prose(text)
    return "".join(
        "$" + _math(part, {}, note, "justification") + "$" if n % 2 else part
        for n, part in enumerate(parts)
    )
