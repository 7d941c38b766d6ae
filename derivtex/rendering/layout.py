"""Where the handout's step equations break: extra view fields computed from measured widths.

A step's view (rendering/view.py) gets, for the kinds below, fields that tell its template how to
set a long equation: ``<field>_lines`` (the lines of an aligned equation, each within the room
beside its left-hand side), ``<field>_breaks`` (the positions in a written-out sum where a new
line starts) and ``stacked`` (a generalization too wide for both sides of its arrow on one line
puts the general form under the example). Widths are estimated by linebreak.width_pt; the layout
test builds every example and reads TeX's log, so an estimate that is too low shows up there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pylatex.utils import NoEscape

from derivtex.rendering.linebreak import break_lines, width_pt

TEXT_WIDTH = 455.0  # the handout's line: A4 less two 2.5cm margins
ALIGN_WIDTH = 430.0  # an align* on that line, with some room to spare
CONTINUATION_INDENT = 24.0  # a continued line starts with \qquad after the alignment point
EQUALS = 14.0  # " = " with its spaces
ARROW = 40.0  # the \Longrightarrow column of a generalization with its gaps
BOX = 8.0  # \boxed{} around a marked term: the rule and its padding on both sides
DOTS = 30.0  # " + \dots"
TAG = 40.0  # a \tag{C1} at the right margin
WIDOW = 60.0  # a term this narrow is not left alone on the last line of a sum...
SLACK = TEXT_WIDTH - ALIGN_WIDTH  # ...when the line before can take it within the full width
SCRIPT = 0.7  # a script's size against the text's
_SUM = 14.0  # a display \sum sign with its spacing
_FREE_MARKS = re.compile(r"\\(?:dtxhighlight|boxed)(?![A-Za-z])")  # BOX pays for the frame


def _group(tex: str, start: int) -> int:
    """The index just past the brace group that opens at tex[start]."""
    depth = 0
    for index in range(start, len(tex)):
        if tex[index] == "{" and tex[index - 1] != "\\":
            depth += 1
        elif tex[index] == "}" and tex[index - 1] != "\\":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(tex)


def _limits(tex: str, at: int) -> tuple[float, int]:
    """The width of a display \\sum at tex[at] with its limits set under and over, and its end."""
    end, widths = at + len(r"\sum"), [_SUM]
    while end < len(tex) and tex[end] in "_^":
        if end + 1 < len(tex) and tex[end + 1] == "{":
            close = _group(tex, end + 1)
            widths.append(SCRIPT * measure(tex[end + 2 : close - 1]))
        else:
            close = end + 2
            widths.append(SCRIPT * measure(tex[end + 1 : close]))
        end = close
    return max(widths), end


def measure(tex: str) -> float:
    """width_pt, with each \\frac as wide as the wider of its numerator and denominator, each
    display \\sum as wide as the wider of the sign and its limits, highlights and boxes free."""
    tex = _FREE_MARKS.sub("", tex)
    at_sum = tex.find(r"\sum")
    at = tex.find(r"\frac{")
    if at_sum >= 0 and (at < 0 or at_sum < at):
        width, end = _limits(tex, at_sum)
        return width_pt(tex[:at_sum]) + width + measure(tex[end:])
    if at < 0:
        return width_pt(tex)
    top_end = _group(tex, at + 5)
    if top_end >= len(tex) or tex[top_end] != "{":
        return width_pt(tex)
    bottom_end = _group(tex, top_end)
    top, bottom = tex[at + 6 : top_end - 1], tex[top_end + 1 : bottom_end - 1]
    fraction = max(measure(top), measure(bottom)) + 2.0
    return width_pt(tex[:at]) + fraction + measure(tex[bottom_end:])


def lines_beside(tex: str, lhs: str, width: float = ALIGN_WIDTH) -> tuple[NoEscape, ...]:
    """tex as the lines of an aligned equation lhs &= ..., each within width."""
    room = width - measure(lhs) - EQUALS
    return tuple(NoEscape(line) for line in break_lines(tex, room, room - CONTINUATION_INDENT))


def term_breaks(
    terms: Sequence[str],
    gaps: Sequence[int],
    marked: Sequence[int],
    lhs: str,
    width: float = ALIGN_WIDTH,
    highlight: bool = False,
) -> tuple[int, ...]:
    """The positions of the terms of a written-out sum that start a new line, greedily; a last
    line that would hold one short term stays on the line before when the slack lets it."""
    room = width - measure(lhs) - EQUALS
    breaks: list[int] = []
    used, last = 0.0, 0.0
    for index, term in enumerate(terms):
        size = measure(term) + (EQUALS if index else 0.0)
        size += BOX if highlight and index in marked else 0.0
        size += DOTS if index in gaps else 0.0
        if index and used + size > room:
            breaks.append(index)
            room = width - measure(lhs) - EQUALS - CONTINUATION_INDENT
            last, used = used, size
        else:
            used += size
    widow = breaks and breaks[-1] == len(terms) - 1 and used < WIDOW
    if widow and last + used <= room + CONTINUATION_INDENT * (len(breaks) == 1) + SLACK:
        breaks.pop()
    return tuple(breaks)


def _generalization(values: Mapping[str, Any]) -> dict[str, Any]:
    example_lhs, lhs = str(values["example_lhs"]), str(values["lhs"])
    example_rhs, rhs = str(values["example_rhs"]), str(values["rhs"])
    one_line = measure(example_lhs) + measure(example_rhs) + measure(lhs) + measure(rhs)
    # width_pt overestimates most equations by 10-25% (TeX's widths of every example's
    # generalizations, read from a log), so both sides stay on one line up to the full width.
    stacked = one_line + 2 * EQUALS + ARROW > TEXT_WIDTH
    if not stacked:
        return {"stacked": False, "example_rhs_lines": (), "rhs_lines": ()}
    column = max(measure(example_lhs), measure(lhs) + ARROW / 2)  # the left-hand sides' column
    room = ALIGN_WIDTH + measure(lhs) - column
    return {
        "stacked": True,
        "example_rhs_lines": lines_beside(example_rhs, example_lhs, room),
        "rhs_lines": lines_beside(rhs, lhs, room),
    }


def _sum_expansion(values: Mapping[str, Any]) -> dict[str, Any]:
    lhs = str(values["lhs"])
    terms = [str(t) for t in values["terms"]]
    return {"breaks": term_breaks(terms, values["gaps"], values["marked"], lhs, highlight=True)}


def _term_partial(values: Mapping[str, Any]) -> dict[str, Any]:
    lhs = str(values["lhs"])
    partials = [str(t) for t in values["partials"]]
    return {
        "breaks": term_breaks(partials, values["gaps"], values["marked"], lhs),
        "result_lines": lines_beside(str(values["result"]), lhs),
    }


def _chain_rule(values: Mapping[str, Any]) -> dict[str, Any]:
    component_lhs, rule_lhs = str(values["component_lhs"]), str(values["rule_lhs"])
    result = values["result"]
    return {
        # the local derivatives put in may already read as the index result: one line then
        "substituted_same": str(values["substituted"]) == str(values["result_index"]),
        "substituted_lines": lines_beside(str(values["substituted"]), component_lhs),
        "result_index_lines": lines_beside(
            str(values["result_index"]), component_lhs, ALIGN_WIDTH - TAG
        ),
        "result_lines": () if result is None else lines_beside(str(result), rule_lhs),
    }


# kind -> (the fields it adds, the function that computes them from the step's inert values)
LAYOUTS: dict[str, tuple[tuple[str, ...], Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "generalization": (("stacked", "example_rhs_lines", "rhs_lines"), _generalization),
    "sum_expansion": (("breaks",), _sum_expansion),
    "term_partial": (("breaks", "result_lines"), _term_partial),
    "chain_rule": (
        ("substituted_same", "substituted_lines", "result_index_lines", "result_lines"),
        _chain_rule,
    ),
}


def layout_fields(kind: str) -> tuple[str, ...]:
    """The names of the fields layout adds to a step of this kind."""
    return LAYOUTS[kind][0] if kind in LAYOUTS else ()


def layout_values(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The layout fields of a step of this kind, from the step's inert values."""
    return LAYOUTS[kind][1](values) if kind in LAYOUTS else {}
