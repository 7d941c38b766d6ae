"""Render derivations into LaTeX documents through the jinja2 templates."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sympy

from derivtex.calculus.mexpr import of_op, symbol
from derivtex.derivation.model import Derivation
from derivtex.language.shapes import Shape
from derivtex.rendering.environment import LatexEnvironment, make_environment, render_template
from derivtex.rendering.printer import Notation, notation
from derivtex.rendering.prose import prose_tex
from derivtex.rendering.view import ANSWER_SPACE, SectionView, Tex, section_view

DOCUMENTS = ("handout", "exercises")


@dataclass(frozen=True, slots=True)
class Section:
    """One derivation as a document shows it."""

    title: str
    intro: str | None
    statements: tuple[tuple[sympy.Basic, sympy.Basic], ...]
    inputs: tuple[tuple[sympy.Basic, str], ...]  # (name, its space as trusted LaTeX)
    asked: sympy.Basic
    layout: str
    steps: tuple[object, ...]
    notation: Notation
    plain_title: str = ""  # as written (its $...$ too), for formats that are not TeX
    plain_intro: str | None = None
    notes: tuple[str, ...] = ()  # what the handout must state: broadcasting, kinks
    answer_space: str = ANSWER_SPACE  # a TeX length (validated): the room after an exercise


def _space(shape: Shape, notation: Notation) -> str:
    from derivtex.rendering.printer import to_latex

    if shape.is_scalar:
        return r"\mathbb{R}"
    dims = (shape.rows,) if shape.flat else (shape.rows, shape.cols)
    return r"\mathbb{R}^{" + r" \times ".join(to_latex(d, notation) for d in dims) + "}"


def _statements(d: Derivation) -> tuple[tuple[sympy.Basic, sympy.Basic], ...]:
    """The user's statements, with the names derivtex introduced (z = W x + b) put back."""
    env: dict[str, sympy.Basic] = {}
    statements = []
    for df in d.graph.definitions:
        value = of_op(df.op, env)
        if df.auto:
            env[df.name] = value
        else:
            statements.append((symbol(df.name, df.op.shape), value))
    return tuple(statements)


def section(
    d: Derivation,
    *,
    title: str | None = None,
    intro: str | None = None,
    vectors: str = "arrow",
    answer_space: str = ANSWER_SPACE,
) -> Section:
    """One derivation as a document shows it; render() makes it the inert view templates see."""
    note = notation(d.graph, vectors)
    statements = _statements(d)
    inputs = tuple((symbol(n, s), _space(s, note)) for n, s in d.graph.inputs)
    by = (symbol(d.wrt, d.wrt_shape),) * getattr(d, "order", 1)
    asked = sympy.Derivative(symbol(d.output, d.out_shape), *by, evaluate=False)
    shapes = dict(d.graph.inputs) | {df.name: df.op.shape for df in d.graph.definitions}
    if title:
        heading = Tex(prose_tex(title, shapes, note, what="title"))
    else:
        what = "Hessian" if getattr(d, "order", 1) == 2 else "derivative"
        heading = f"The {what} of {d.output} by {d.wrt}"
    text = None if intro is None else Tex(prose_tex(intro, shapes, note, what="intro"))
    plain = title or str(heading)
    notes = tuple(str(n) for n in d.derivative.notes)
    return Section(
        heading,
        text,
        statements,
        inputs,
        asked,
        d.layout,
        d.steps,
        note,
        plain,
        intro,
        notes,
        answer_space,
    )


def _shape_of(sym: sympy.Basic) -> Shape:
    if not isinstance(sym, sympy.MatrixSymbol):
        return Shape(sympy.Integer(1), sympy.Integer(1))
    rows, cols = sym.shape
    return Shape(rows, cols, flat=cols == 1 and rows != 1)


@functools.lru_cache(maxsize=8)
def _environment(user_dir: Path | None) -> LatexEnvironment:
    """One environment per template folder, so each template is compiled once per process.

    Jinja still notices a user template edited on disk (it checks file times on every load).
    """
    return make_environment(user_dir)


def section_views(
    derivations: Derivation | Sequence[Derivation | Section], vectors: str = "arrow"
) -> tuple[SectionView, ...]:
    """The inert view of each section, as templates see it (printed LaTeX, never sympy)."""
    items = [derivations] if isinstance(derivations, Derivation) else list(derivations)
    sections = [s if isinstance(s, Section) else section(s, vectors=vectors) for s in items]
    # Templates see only inert views (printed LaTeX, str, numbers, tuples), never sympy objects.
    return tuple(section_view(s, f"dtx{n}") for n, s in enumerate(sections, start=1))


def render(
    derivations: Derivation | Sequence[Derivation | Section],
    *,
    title: str = "Worked derivation",
    author: str | None = None,
    date: str | None = None,
    course: str | None = None,
    intro: str | None = None,
    document: str = "handout",
    templates: Path | str | None = None,
    vectors: str = "arrow",
) -> str:
    """The .tex text of a document holding the given derivations."""
    items = [derivations] if isinstance(derivations, Derivation) else list(derivations)
    sections = [s if isinstance(s, Section) else section(s, vectors=vectors) for s in items]
    views = section_views(sections, vectors)
    env = _environment(Path(templates).resolve() if templates else None)
    # The document's own title and intro know the shapes of all its sections' inputs.
    shapes = {str(sym.name): _shape_of(sym) for s in sections for sym, _ in s.inputs}
    note = Notation(tuple(sorted({(n, sh.kind) for n, sh in shapes.items()})))
    return render_template(
        env,
        f"{document}.tex.j2",
        title=Tex(prose_tex(title, shapes, note, what="document title")),
        author=author,
        date=date,
        course=course,
        intro=None if intro is None else Tex(prose_tex(intro, shapes, note, what="document intro")),
        sections=views,
        notation=views[0].notation if views else None,
    )
