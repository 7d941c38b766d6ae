"""What templates print: text escaped for pdflatex, the finalize hook and the filters."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any, cast

import jinja2
import sympy
from pylatex.utils import NoEscape, escape_latex

from derivtex.rendering.names import GREEK, Notation, name_latex

# Beyond printable ASCII, the letters and punctuation that pdflatex with inputenc utf8, fontenc T1
# and lmodern typesets: Latin-1 Supplement and Latin Extended-A (less the few T1 lacks), and the
# common typographic punctuation. Checked against TeX Live 2022 with \tracinglostchars=3.
_T1_GAPS = "\u0126\u0127\u0138\u013f\u0140\u0149\u0166\u0167\u017f"  # Ħ ħ ĸ Ŀ ŀ ŉ Ŧ ŧ ſ
TYPESETTABLE = frozenset(
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0xA0, 0x180)]
    + list("–—‘’‚“”„†‡•…‰‹›€")
) - frozenset(_T1_GAPS)
# T1 fonts turn << >> ?` !` into guillemets and inverted marks; an empty group breaks the ligature.
_LIGATURE_BREAKS = {"<": "{<}", ">": "{>}", "`": "{`}"}
_WHITESPACE = re.compile(r"\s+")
_UNICODE_GREEK = re.compile(r"GREEK (SMALL|CAPITAL) LETTER (\w+)")


def escape_text(value: object) -> NoEscape:
    """Escape plain text so that TeX prints it as it is and runs none of it.

    Every run of whitespace (newlines included) becomes one space, so text never ends a paragraph
    or a line inside a heading. TeX's special characters are escaped by pylatex. Characters
    pdflatex cannot typeset become something it can: Greek letters their math macro
    (\\ensuremath{\\sigma}), accented letters outside Latin-1 / Latin Extended-A their base letter
    (U+1EA1 -> a), compatibility forms their plain form (U+FB01 -> fi); anything else (CJK, emoji,
    control characters) becomes "?". A hostile title can therefore never break the build.
    """
    text = _WHITESPACE.sub(" ", str(value))
    return NoEscape("".join(_escape_char(char) for char in text))


def _escape_char(char: str) -> str:
    if char in _LIGATURE_BREAKS:
        return _LIGATURE_BREAKS[char]
    if char in TYPESETTABLE:
        return str(escape_latex(char))
    greek = _greek_macro(char)
    if greek:
        return rf"\ensuremath{{{greek}}}"
    decomposed = unicodedata.normalize("NFKD", char)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    if folded and all(c in TYPESETTABLE for c in folded):
        return "".join(_escape_char(c) for c in folded)
    return "?"


def _greek_macro(char: str) -> str | None:
    match = _UNICODE_GREEK.fullmatch(unicodedata.name(char, ""))
    if not match:
        return None
    word = match[2].lower().replace("lamda", "lambda")  # Unicode spells it LAMDA
    return GREEK.get(word if match[1] == "SMALL" else word.capitalize())


def finalize(value: object) -> str:
    """Escape whatever a template prints, unless it is NoEscape (printed math, trusted TeX)."""
    if isinstance(value, NoEscape):
        return cast(str, value)
    if isinstance(value, sympy.Basic):
        raise jinja2.TemplateRuntimeError(
            "a sympy object reached the output unprinted: templates take printed LaTeX only"
        )
    return cast(str, escape_text(value))


def _notation(context: jinja2.runtime.Context, given: object) -> Notation:
    # A filter sees the template's context, not its locals: a `set notation` inside a loop reaches
    # it only in an included template (include passes locals on) or when passed as an argument.
    # Templates see a NotationView (kinds and vectors, no methods); tests may pass a Notation.
    found = context.get("notation") if given is None else given
    kinds, vectors = getattr(found, "kinds", None), getattr(found, "vectors", None)
    if not isinstance(kinds, tuple) or not isinstance(vectors, str):
        raise jinja2.UndefinedError("the name filter needs a notation named 'notation'")
    try:
        return Notation(tuple((str(n), str(k)) for n, k in kinds), vectors)
    except ValueError as exc:
        raise jinja2.TemplateRuntimeError(str(exc)) from exc


@jinja2.pass_context
def name_filter(
    context: jinja2.runtime.Context,
    value: object,
    kind: str | None = None,
    notation: object = None,
) -> NoEscape:
    """<< "W1" | name >>: the LaTeX of a tensor name, of its declared kind unless one is given."""
    if not isinstance(value, str) or (kind is not None and not isinstance(kind, str)):
        raise jinja2.TemplateRuntimeError("the name filter takes a str name and a str kind")
    found = _notation(context, notation)
    kind = kind or found.kind(value)
    if kind is None:
        raise jinja2.UndefinedError(f"no kind declared for tensor {value!r}: use name('vector')")
    return NoEscape(_printing(name_latex, value, kind, found.vectors))


def _printing(printer: Callable[..., str], *args: Any) -> str:
    try:
        return printer(*args)
    except ValueError as exc:  # a bad name or kind: report it at the template line
        raise jinja2.TemplateRuntimeError(str(exc)) from exc


def tex_filter(value: object) -> NoEscape:
    """<< fragment | tex >>: trust LaTeX produced by code (built-in templates only)."""
    return NoEscape(str(value))


# No math filter: templates never see a sympy object, only math printed before rendering.
FILTERS: dict[str, Callable[..., Any]] = {
    "name": name_filter,
    "escape": escape_text,
    "e": escape_text,  # jinja's own e/escape would HTML-escape
    "tex": tex_filter,
}
