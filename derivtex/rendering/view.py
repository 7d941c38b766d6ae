"""What templates see: inert views of sections and steps, their math already printed.

A sympy object handed to a template is a hole in the sandbox: its methods parse strings as Python
(``expr.subs(x, "__import__('os')...")``). So at the rendering boundary every Section and step
becomes a frozen dataclass of printed LaTeX (Tex, which the finalize hook trusts), plain str
(escaped when printed), int, float, bool, None and tuples of these: no sympy object, no Notation,
no callable. Steps in the Python API keep holding sympy math; only templates see the view.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

import sympy
from pylatex.utils import NoEscape

from derivtex.calculus.verify import VerificationReport
from derivtex.rendering.layout import layout_fields, layout_values
from derivtex.rendering.linebreak import break_lines, width_pt
from derivtex.rendering.printer import Notation, to_latex
from derivtex.rendering.prose import justification_tex, math_prose, plain_prose

Tex: TypeAlias = NoEscape  # trusted LaTeX: code printed it, so templates print it unescaped

INERT = (str, int, float, bool, type(None))
ANSWER_SPACE = "6cm"  # the room after each exercise, where a spec does not say


@dataclass(frozen=True, slots=True)
class NotationView:
    """A Notation's data without its methods: what the name filter needs."""

    kinds: tuple[tuple[str, str], ...]
    vectors: str


@dataclass(frozen=True, slots=True)
class ReportView:
    """A verification report, formatted in Python."""

    exact: bool
    exact_sizes: Tex  # "$n=3, m=2$"
    numeric_sizes: Tex  # "$n=2, m=3$; $n=4, m=1$", each set of sizes once
    max_error: Tex  # "$1.2 \\times 10^{-15}$"
    tolerance: Tex


@dataclass(frozen=True, slots=True)
class SectionView:
    """One derivation as a template sees it."""

    title: str  # Tex (already escaped, math printed) or str
    intro: str | None
    statements: tuple[tuple[Tex, Tex], ...]
    inputs: tuple[tuple[Tex, Tex], ...]  # (name, its space)
    asked: Tex
    layout: str
    steps: tuple[Any, ...]
    notation: NotationView
    label: str = "dtx"  # a prefix for \label{}: the result is \label{<label>:result}
    plain_title: str = ""  # the title as written, for HTML (escaped there)
    plain_intro: str | None = None
    notes: tuple[str, ...] = ()  # plain sentences (escaped by the template's environment)
    answer_space: str = ANSWER_SPACE  # a validated TeX length: the room after an exercise


def notation_view(note: Notation) -> NotationView:
    return NotationView(tuple((str(n), str(k)) for n, k in note.kinds), str(note.vectors))


def report_view(report: VerificationReport) -> ReportView:
    """Sizes and figures as math ($D=5$, $1.4 \\times 10^{-10}$): they never hyphenate."""
    numeric = tuple(dict.fromkeys(report.numeric_sizes))  # each trial's sizes once, in order
    return ReportView(
        exact=bool(report.exact),
        exact_sizes=_sizes_tex(report.exact_sizes),
        numeric_sizes=Tex("; ".join(_sizes_tex(sizes) for sizes in numeric) + _condition(report)),
        max_error=number_tex(report.max_error),
        tolerance=number_tex(report.tolerance),
    )


def _condition(report: VerificationReport) -> str:
    """(inverted matrices with condition number at most $5.6$), where something is inverted."""
    if report.condition is None:
        return ""
    return f" (inverted matrices with condition number at most {number_tex(report.condition)})"


def _sizes_tex(sizes: tuple[tuple[str, int], ...]) -> Tex:
    if not sizes:
        return Tex("fixed sizes")
    return Tex("$" + ", ".join(f"{_size_name(k)}={int(v)}" for k, v in sizes) + "$")


def _size_name(name: str) -> str:
    return to_latex(sympy.Symbol(name, integer=True), Notation(()))


def number_tex(value: float) -> Tex:
    """A figure in math mode with two significant digits: $1.4 \\times 10^{-10}$, $0$, $0.25$."""
    if value == 0:
        return Tex("$0$")
    mantissa, exponent = f"{value:.1e}".split("e")
    power = int(exponent)
    if -2 <= power <= 2:
        return Tex(f"${value:.2g}$")
    return Tex(f"${mantissa} \\times 10^{{{power}}}$")


def grid_view(
    grid: tuple[tuple[sympy.Basic | None, ...], ...], note: Notation
) -> tuple[tuple[object, ...], ...]:
    """Each cell classified: printed math, or the dots that stand for the cells between."""
    rows = []
    for row in grid:
        dots_row = all(cell is None for cell in row)
        cells = []
        for col, cell in enumerate(row):
            if cell is not None:
                cells.append(Tex(r"\displaystyle " + to_latex(cell, note)))
            elif not dots_row:
                cells.append(Tex(r"\cdots"))
            elif grid[0][col] is None:
                cells.append(Tex(r"\ddots"))
            else:
                cells.append(Tex(r"\vdots"))
        rows.append(tuple(cells))
    return tuple(rows)


GRID_FIELDS = {("jacobian_assembly", "partials"), ("jacobian_assembly", "entries")}
GRID_FIELDS |= {("hessian_assembly", "partials"), ("hessian_assembly", "entries")}
# Equations a template may set over several lines: (kind, field) -> the points its lines may fill
# beside the left-hand side (summary: a 0.9 \linewidth box; jacobian_assembly: an align*).
BROKEN_FIELDS = {("summary", "result"): 340.0, ("jacobian_assembly", "result"): 420.0}
BROKEN_FIELDS[("hessian_assembly", "result")] = 420.0
CONTINUATION_INDENT = 24.0  # a continued line starts with \qquad after the alignment point


def broken_view(tex: str, lhs: str, width: float) -> tuple[Tex, ...]:
    """tex as the lines of an aligned equation whose left-hand side is lhs."""
    room = width - width_pt(lhs)
    return tuple(Tex(line) for line in break_lines(tex, room, room - CONTINUATION_INDENT))


def inert(value: object, note: Notation) -> object:
    """value with its math printed; anything that is not plain data is refused."""
    if isinstance(value, NoEscape):
        return Tex(str(value))
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, sympy.Basic):
        return Tex(to_latex(value, note))
    if isinstance(value, tuple | list):
        return tuple(inert(item, note) for item in value)
    if isinstance(value, VerificationReport):
        return report_view(value)
    if dataclasses.is_dataclass(value) and isinstance(getattr(type(value), "kind", None), str):
        return step_view(value, note)  # a step inside a step (a local derivative's partials)
    raise TypeError(f"no template view for a {type(value).__name__}")


# Step prose whose names the builders mark as math ($W1$): set as the equations print them in
# LaTeX; math_<field> holds the text with its math printed and the rest raw, for the HTML page
# and notebooks; plain_<field> the text without the marks.
PROSE_FIELDS = ("justification", "arrangement")


@functools.cache
def _view_class(step_class: type) -> type:
    fields = [("kind", str)] + [(f.name, Any) for f in dataclasses.fields(step_class)]
    names = {f.name for f in dataclasses.fields(step_class)}
    fields += [(f"plain_{name}", Any) for name in PROSE_FIELDS if name in names]
    fields += [(f"math_{name}", Any) for name in PROSE_FIELDS if name in names]
    kind = str(step_class.kind)  # type: ignore[attr-defined]
    fields += [(f"{name}_lines", Any) for known, name in BROKEN_FIELDS if known == kind]
    fields += [(name, Any) for name in layout_fields(kind)]
    return dataclasses.make_dataclass(f"{step_class.__name__}View", fields, frozen=True, slots=True)


def _with_step_names(step: object, note: Notation) -> Notation:
    """note, plus the kind of each tensor the step's math shows that the notation lacks.

    A name the planner made (m in y = V W x is V m with m = W x) is not in the user's graph;
    its components in the step's equations tell whether it is a vector or a matrix.
    """
    known = dict(note.kinds)
    found = {
        str(i.base.label): "vector" if i.rank == 1 else "matrix"
        for value in _sympy_values(step)
        for i in value.atoms(sympy.Indexed)
        if str(i.base.label) not in known
    }
    if not found:
        return note
    return Notation(tuple(sorted((known | found).items())), note.vectors)


def _sympy_values(value: object) -> Iterator[sympy.Basic]:
    if isinstance(value, sympy.Basic):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _sympy_values(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _sympy_values(getattr(value, f.name))


@functools.lru_cache(maxsize=1024)
def _prose_tex(text: str, note: Notation) -> Tex:
    return Tex(justification_tex(text, note))  # parses each $name$: the same prose recurs


@functools.lru_cache(maxsize=1024)
def _math_prose(text: str, note: Notation) -> str:
    return math_prose(text, note)


def step_view(step: object, note: Notation) -> object:
    """A step as a template sees it: the same field names, every value inert."""
    kind = str(type(step).kind)  # type: ignore[attr-defined]
    values: dict[str, Any] = {}
    prose_note: Notation | None = None  # found once per step, when it has prose
    for f in dataclasses.fields(step):  # type: ignore[arg-type]
        value = getattr(step, f.name)
        if (kind, f.name) in GRID_FIELDS and value is not None:
            values[f.name] = grid_view(value, note)
        elif f.name in PROSE_FIELDS:
            if value is None:
                values[f.name] = values[f"plain_{f.name}"] = values[f"math_{f.name}"] = None
                continue
            prose_note = prose_note or _with_step_names(step, note)
            values[f.name] = _prose_tex(str(value), prose_note)
            values[f"plain_{f.name}"] = plain_prose(str(value))
            values[f"math_{f.name}"] = _math_prose(str(value), prose_note)
        else:
            values[f.name] = inert(value, note)
    for known, name in BROKEN_FIELDS:
        if known == kind:
            lhs = str(values.get("lhs", ""))
            width = BROKEN_FIELDS[known, name]
            values[f"{name}_lines"] = broken_view(str(values[name]), lhs, width)
    values.update(layout_values(kind, values))
    return _view_class(type(step))(kind=kind, **values)  # type: ignore[arg-type]


def _prose(text: object) -> str:
    """Tex when prose_tex made it (escaped, its math printed), else plain text to escape."""
    return Tex(str(text)) if isinstance(text, NoEscape) else str(text)


def section_view(section: Any, label: str = "dtx") -> SectionView:
    """A Section (derivtex.rendering.document) as a template sees it; label prefixes its labels."""
    note = section.notation
    return SectionView(
        title=_prose(section.title),
        intro=None if section.intro is None else _prose(section.intro),
        statements=tuple(
            (Tex(to_latex(lhs, note)), Tex(to_latex(rhs, note))) for lhs, rhs in section.statements
        ),
        inputs=tuple((Tex(to_latex(sym, note)), Tex(str(space))) for sym, space in section.inputs),
        asked=Tex(to_latex(section.asked, note)),
        layout=str(section.layout),
        steps=tuple(step_view(step, note) for step in section.steps),
        notation=notation_view(note),
        label=label,
        plain_title=str(section.plain_title or section.title),
        plain_intro=None if section.plain_intro is None else str(section.plain_intro),
        notes=tuple(str(n) for n in getattr(section, "notes", ())),
        answer_space=str(getattr(section, "answer_space", ANSWER_SPACE)),
    )
