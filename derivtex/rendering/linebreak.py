"""Break a long printed equation into lines before the + and - of its sums.

The rule: break only between the terms of a sum, never inside braces (a script, a fraction, a
function's argument group), greedily, as late as the estimated width allows; between the terms of
the outermost sum where they fit, inside parentheses only for a term too wide for a line. A
parenthesis that a break splits is closed with \\right. and reopened with \\left. on the next line.
Widths are estimated from the glyphs at 11pt (a letter about 6pt, a binary operator with its
spaces 12pt, scripts at 70%); tests read TeX's own log for overfull boxes to keep it honest.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}^_]|\s+|.")
_FREE = {  # commands that set nothing themselves (their argument is measured)
    r"\left",
    r"\right",
    r"\vec",
    r"\mathbf",
    r"\boldsymbol",
    r"\hat",
    r"\bar",
    r"\tilde",
    r"\mathrm",
    r"\operatorname",
    r"\displaystyle",
    r"\frac",
    r"\sqrt",
}
_WIDE = {r"\odot": 12.0, r"\oslash": 12.0, r"\cdot": 10.0, r"\sum": 12.0, r"\quad": 11.0}
_OPERATORS = {"+": 12.0, "-": 12.0, "=": 14.0}
_LETTER = 6.0
_CAPITAL = 8.5  # W, X, A at 11pt math italic are 8-12pt wide
_FUNCTIONS = {"tanh", "log", "sin", "cos", "tan", "exp", "det", "tr", "diag", "sign", "max"}


def width_pt(tex: str) -> float:
    """An estimate of the width of math tex set in display style at 11pt, in points."""
    total, scales, pending = 0.0, [1.0], 1.0
    for token in _TOKEN.findall(tex):
        if token == "{":
            scales.append(pending)
            pending = scales[-1]
            continue
        if token == "}":
            scales.pop() if len(scales) > 1 else None
            pending = scales[-1]
            continue
        if token in ("^", "_"):
            pending = scales[-1] * 0.7
            continue
        scale, pending = pending, scales[-1]
        if token.isspace() or token in _FREE:
            continue
        if token in _WIDE:
            total += _WIDE[token] * scale
        elif token in _OPERATORS:
            total += _OPERATORS[token] * scale
        elif token.startswith("\\") and len(token) > 2:
            name = token[1:]
            total += (5.5 * len(name) + 2.0) * scale if name in _FUNCTIONS else _LETTER * scale
        else:
            total += (_CAPITAL if token.isupper() else _LETTER) * scale
    return total


def _terms(tex: str, outer: bool = False) -> list[str]:
    """tex cut before each + or - that joins two terms outside every brace group (and, when
    outer, outside every \\left ... \\right pair too)."""
    cuts, depth, pairs = [0], 0, 0
    for match in re.finditer(r"\\[{}]|\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|[{}]| [+-] ", tex):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif token == r"\left":
            pairs += 1
        elif token == r"\right":
            pairs -= 1
        elif token.startswith(" ") and depth == 0 and (pairs == 0 or not outer):
            cuts.append(match.start() + 1)
    return [tex[a:b].strip() for a, b in zip(cuts, [*cuts[1:], len(tex)], strict=True)]


def _balance(tex: str) -> int:
    return len(re.findall(r"\\left(?![a-zA-Z])", tex)) - len(
        re.findall(r"\\right(?![a-zA-Z])", tex)
    )


def break_lines(tex: str, first: float, rest: float) -> tuple[str, ...]:
    """tex as lines: the first at most first points wide, the others rest (when they can be)."""
    if width_pt(tex) <= first:
        return (tex,)
    lines: list[str] = []
    current = ""
    for term in _pieces(tex, max(first, rest)):
        limit = rest if lines else first
        if current and width_pt(current + " " + term) > limit:
            lines.append(current)
            current = term
        else:
            current = f"{current} {term}" if current else term
    lines.append(current)
    return _close_delimiters(lines)


def _pieces(tex: str, limit: float) -> list[str]:
    """The terms of the outermost sum; one too wide for a line is cut inside its parentheses."""
    pieces: list[str] = []
    for term in _terms(tex, outer=True):
        pieces.extend(_terms(term) if width_pt(term) > limit else [term])
    return pieces


def _close_delimiters(lines: list[str]) -> tuple[str, ...]:
    """Each line with balanced \\left and \\right: split groups get \\right. and \\left."""
    closed, carried = [], 0
    for line in lines:
        sign, body = (line[:2], line[2:]) if line.startswith(("+ ", "- ")) else ("", line)
        text = sign + r"\left. " * carried + body  # the sign first: templates set it binary
        carried = _balance(text)
        closed.append(text + r" \right." * carried)
    return tuple(closed)
