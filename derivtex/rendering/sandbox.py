"""The sandboxed jinja environment: jinja's immutable sandbox, bounded so no template can
exhaust memory or time."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pylatex.utils import NoEscape

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


def restrict(env: LatexEnvironment) -> LatexEnvironment:
    """env with every filter bounded and only inert globals."""
    env.filters.update({name: _bounded_filter(name, f) for name, f in env.filters.items()})
    # Inert globals only: range bounded; no cycler, joiner, namespace (mutable state) or lipsum.
    for name in ("cycler", "joiner", "namespace", "lipsum"):
        env.globals.pop(name, None)
    env.globals["range"] = bounded_range
    return env
