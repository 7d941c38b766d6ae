"""The one error hierarchy: every failure a user can cause is a DerivtexError."""

from __future__ import annotations

from typing import Any, Protocol, Self


class DerivtexError(Exception):
    """Base of every error derivtex raises on purpose; the CLI prints it and exits."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class Where(Protocol):
    """A place in the input text: a syntax-tree Span or a lexer Token."""

    @property
    def start(self) -> int: ...
    @property
    def length(self) -> int: ...


class InputError(DerivtexError):
    """Bad input text; points at the column with a caret."""

    @classmethod
    def at(cls, where: Where, source: str, message: str, *, hint: str | None = None) -> Self:
        """The error with a caret under `where` (a Span or a Token) in `source`."""
        return cls(message, source=source, column=where.start, length=where.length, hint=hint)

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column: int | None = None,
        length: int = 1,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.source = source
        self.column = column
        self.length = max(1, length)

    def __str__(self) -> str:
        parts = [f"error: {self.message}"]
        if self.source is not None and self.column is not None:
            line_start = self.source.rfind("\n", 0, self.column) + 1
            line_end = self.source.find("\n", self.column)
            line = self.source[line_start : None if line_end < 0 else line_end]
            col = self.column - line_start
            parts += [
                f"  {line}",
                "  " + " " * col + "^" * min(self.length, max(1, len(line) - col)),
            ]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ParseError(InputError):
    """The text is not a valid expression."""


class UnknownFunctionError(InputError):
    """A function name derivtex does not know."""


class UndeclaredNameError(InputError):
    """A name used without a declared shape or a defining statement."""


class ShapeError(InputError):
    """Operands whose shapes do not fit together, or an unreadable shape."""


class WrtError(InputError):
    """The variable to differentiate by is not in the expression."""


class RedefinitionError(InputError):
    """A name defined twice."""


class CycleError(InputError):
    """Statements that depend on each other in a circle."""


class TooLargeError(InputError):
    """An input past one of the named limits in derivtex.language.limits."""

    def __init__(self, message: str, *, limit: str, hint: str | None = None, **where: Any) -> None:
        super().__init__(f"{message} (limit {limit})", hint=hint, **where)
        self.limit = limit


class UnsupportedError(InputError):
    """An expression derivtex cannot derive yet (an internal step failed on it)."""


class BudgetError(DerivtexError):
    """derive() ran out of its wall-clock budget."""


class SpecError(DerivtexError):
    """A spec file that is malformed: names the file, line and key.

    `reason` is the message without its place; the message reads `path:line: reason`.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{path}:{line}" if path and line else path
        super().__init__(f"{where}: {reason}" if where else reason, hint=hint)
        self.reason = reason
        self.path = path
        self.line = line
        self.key = key


class ConfigError(SpecError):
    """A project config (derivtex.toml, [tool.derivtex]) that is malformed: file, line and key."""


class VerificationError(DerivtexError):
    """A derived result disagrees with its exact or numerical check."""

    exit_code = 1


class TexError(DerivtexError):
    """The TeX engine failed on a document."""

    exit_code = 1


class TexNotFoundError(TexError):
    """No TeX engine on this machine."""


class TexTimeoutError(TexError):
    """The TeX run was stopped because it took too long."""


class TemplateError(DerivtexError):
    """A template could not be found or rendered."""

    exit_code = 1


class TemplateFolderError(TemplateError):
    """The user's template folder does not exist: bad input, like a bad option."""

    exit_code = 2


class FormatError(DerivtexError):
    """An output format derivtex does not write (--format): bad input, like a bad option."""
