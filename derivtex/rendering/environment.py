"""The jinja2 environment that lays out derivtex's LaTeX, after Sphinx's LaTeX builder."""

from __future__ import annotations

import functools
import re
import traceback
import unicodedata
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

import jinja2
import sympy
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pylatex.utils import NoEscape, escape_latex

from derivtex.errors import DerivtexError, TemplateError, TemplateFolderError
from derivtex.rendering.bytecode import template_cache
from derivtex.rendering.printer import GREEK, Notation, name_latex
from derivtex.rendering.templatefiles import builtin_templates, template_file, template_names

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


# Bounds on what a template may build: a template lays out a document, it never needs more.
MAX_RANGE = 10_000  # items of range()
MAX_SIZE = 100_000  # items or characters of a sequence built by * or by a filter
MAX_NUMBER = 10**6  # an int argument of a call or filter (widths, counts)
MAX_BITS = 4_096  # bits of an integer built by **
# A width or precision of 4+ digits, or one taken from the arguments (*), in a format string.
_WIDE_FORMAT = re.compile(r"%[^a-zA-Z%]*(\d{4}|\*)|\{[^}]*(\d{4}|\{)")


def _refuse(message: str) -> SecurityError:
    return SecurityError(message)


def bounded_range(*args: int) -> range:
    """range() for templates: at most MAX_RANGE items."""
    rng = range(*args)
    try:
        size = len(rng)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise _refuse(f"range() of more than {MAX_RANGE} items is more than a template may loop")
    return rng


def _check_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise _refuse(f"the number {_short(value)} is too large for a template")


def _check_format(text: object) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise _refuse("a format with a width or precision this large is not allowed")


def _check_replace(text: object, old: object, new: object) -> None:
    """Refuse a replace whose result would be longer than MAX_SIZE."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = text.count(old) if old else len(text) + 1
        if len(text) + count * len(new) > MAX_SIZE:
            raise _refuse(f"a replace whose result is longer than {MAX_SIZE} characters")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse a * that builds a huge sequence, a ** that builds a huge number, a wide % format."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
            if sized and len(seq) * count > MAX_SIZE:
                raise _refuse(f"a sequence of more than {MAX_SIZE} items")
    numbers = isinstance(left, int) and isinstance(right, int | float)
    huge = numbers and abs(left) > 1 and right > 0 and right * abs(left).bit_length() > MAX_BITS
    if operator == "**" and huge:
        raise _refuse(f"a number of more than {MAX_BITS} bits")
    if operator == "%":
        _check_format(left)


def _short(value: int) -> str:
    return f"of {value.bit_length()} bits" if value.bit_length() > 64 else str(value)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """func, refusing huge numeric arguments (center(10**9)), wide formats, huge replaces."""

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        plain = [
            a for a in args if not isinstance(a, jinja2.nodes.EvalContext | jinja2.runtime.Context)
        ]
        if name == "format" and plain:
            _check_format(plain[0])
        if name == "replace" and len(plain) >= 3:
            _check_replace(*plain[:3])
        return func(*args, **kwargs)

    return bounded


class LatexEnvironment(ImmutableSandboxedEnvironment):
    """A sandboxed environment whose output is LaTeX: only the values it prints are escaped.

    Beyond jinja's immutable sandbox (no attribute starting with _, no unsafe callables, no
    list.append or dict.update that could grow state across a loop), it bounds what a
    template can build: range() (MAX_RANGE items), * on sequences and ** on numbers, and int
    arguments of calls and filters, so that no template can exhaust memory or time.
    """

    intercepted_binops = frozenset(["*", "**", "%", "//"])

    # Text a template renders (super(), macros, caller(), set blocks) is LaTeX already; jinja
    # joins it with concat, so marking the join NoEscape keeps finalize from escaping it twice.
    concat = staticmethod(lambda parts: NoEscape("".join(parts)))

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # noqa: N805 (jinja's own signature: a keyword argument may be named self)
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _check_args(args, kwargs)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and __obj.__name__ == "replace" and len(args) >= 2:
            _check_replace(owner, args[0], args[1])
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # jinja's hook for str.format / str.format_map reached from a template.
        _check_format(getattr(value, "__self__", None))
        return super().wrap_str_format(value)


BUILTIN_PREFIX = "builtin"  # templates named builtin/NAME are the built-in NAME, never a user's


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
        finalize=_finalize,
        bytecode_cache=template_cache("latex"),
        **LATEX_SYNTAX,
    )
    env.filters.update(FILTERS)
    return restrict(env)


def template_loader(user_dir: Path | None) -> jinja2.BaseLoader:
    """The user's folder (if any) first, confined to itself, then the built-in templates."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        if not Path(user_dir).is_dir():
            raise TemplateFolderError(
                f"template folder not found: {user_dir}",
                hint="pass an existing folder; 'derivtex templates export DIR' writes one to edit",
            )
        loaders.append(ConfinedFileSystemLoader(user_dir))
    builtin = TraversableLoader(builtin_templates())
    loaders.append(builtin)
    # "builtin/NAME" is always the built-in NAME: a user's preamble.tex.j2 can extend it.
    loaders.append(jinja2.PrefixLoader({BUILTIN_PREFIX: builtin}))
    return jinja2.ChoiceLoader(loaders)


def restrict(env: LatexEnvironment) -> LatexEnvironment:
    """env with every filter bounded and only inert globals."""
    env.filters.update({name: _bounded_filter(name, f) for name, f in env.filters.items()})
    # Inert globals only: range bounded; no cycler, joiner, namespace (mutable state) or lipsum.
    for name in ("cycler", "joiner", "namespace", "lipsum"):
        env.globals.pop(name, None)
    env.globals["range"] = bounded_range
    return env


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


def export_templates(dest: Path, *, overwrite: bool = False) -> tuple[Path, ...]:
    """Copy every built-in template into dest (keeping steps/) for a user to customize."""
    root = builtin_templates()
    names = template_names(root)
    targets = tuple(Path(dest, *name.split("/")) for name in names)
    existing = [str(target) for target in targets if target.exists()]
    if existing and not overwrite:
        raise TemplateError(
            f"refusing to overwrite existing templates: {', '.join(existing)}",
            hint="pass overwrite=True to replace them",
        )
    for name, target in zip(names, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(template_file(root, name).read_bytes())
    return targets


class ConfinedFileSystemLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that follows no symlink out of its folder.

    jinja's loader refuses '..' in names but opens whatever a symlink points at; a link
    leak.tex.j2 -> /etc/passwd would put that file into the .tex. Every file found is resolved
    and must lie inside the resolved folder.
    """

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if filename is not None:
            real = Path(filename).resolve()
            roots = [Path(folder).resolve() for folder in self.searchpath]
            if not any(real.is_relative_to(root) for root in roots):
                raise TemplateFolderError(
                    f"template {template!r} is a symlink to {real}, outside the template"
                    f" folder {', '.join(map(str, self.searchpath))}",
                    hint="copy the file into the template folder instead of linking to it",
                )
        return source, filename, uptodate


class TraversableLoader(jinja2.BaseLoader):
    """Loads templates from a package-data folder, wherever importlib.resources finds it."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        node = template_file(self.root, template)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), str(node), lambda: True

    def list_templates(self) -> list[str]:
        return list(template_names(self.root))


# Output and filters ------------------------------------------------------------------------------


def _finalize(value: object) -> str:
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
