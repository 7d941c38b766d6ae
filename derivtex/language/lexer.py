"""Split expression text into tokens, each with its column."""

from __future__ import annotations

import re
from dataclasses import dataclass

from derivtex.errors import ParseError

_TOKEN = re.compile(
    r"""
    (?P<NEWLINE>\n|;)
  | (?P<SPACE>[ \t\r]+)
  | (?P<NUMBER>[0-9]+(?:\.(?![*/^])[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)
  | (?P<DOTT>\.T\b)
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<OP>\.\*|\./|\.\^|[-+*@^'()=,/])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # NAME NUMBER OP DOTT NEWLINE END
    text: str
    start: int
    space_before: bool = False

    @property
    def length(self) -> int:
        return max(1, len(self.text))


def tokenize(source: str) -> tuple[Token, ...]:
    """Tokens of the source, ending with an END token; raises ParseError on a stray character."""
    tokens: list[Token] = []
    pos, space = 0, False
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ParseError(
                f"unexpected character {source[pos]!r}",
                source=source,
                column=pos,
                hint="the language has names, numbers, + - * / @ .* ./ ^ .^ ' ( ) = ; and "
                "functions",
            )
        kind = match.lastgroup or ""
        if kind == "NAME" and match.group().endswith("_"):
            raise ParseError(
                f"a name cannot end with '_': {match.group()!r}",
                source=source,
                column=pos,
                length=len(match.group()),
                hint="write the name without the trailing '_', or add a suffix, e.g. y_hat",
            )
        if kind == "SPACE":
            space = True
        else:
            tokens.append(Token(kind, match.group(), pos, space))
            space = False
        pos = match.end()
    tokens.append(Token("END", "", len(source), space))
    return tuple(tokens)
