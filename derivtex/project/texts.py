"""A spec's documents as text: every derivation derived and verified, then rendered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from derivtex.errors import DerivtexError
from derivtex.project.formats import render_document
from derivtex.project.report import Problem, derivation_problem, error_lines
from derivtex.project.spec import DerivationSpec, Spec

if TYPE_CHECKING:
    from derivtex.rendering.document import Section


def spec_texts(spec: Spec, documents: Sequence[str]) -> tuple[tuple[str, ...], tuple[Problem, ...]]:
    """The .tex text of each document, or the problems that stop it."""
    sections, problems = derive_all(spec)
    if problems:
        return (), problems
    try:
        return tuple(render_spec(spec, sections, document) for document in documents), ()
    except DerivtexError as exc:  # a template failed, perhaps one of the user's
        return (), (Problem(str(spec.path), None, *error_lines(exc)),)


def derive_all(spec: Spec) -> tuple[tuple[Section, ...], tuple[Problem, ...]]:
    """Every derivation planned and verified; the problems of all that fail."""
    sections, problems = [], []
    for dspec in spec.derivations:
        try:
            sections.append(section_of(dspec))
        except DerivtexError as exc:
            key = getattr(exc, "key", "given")  # a $...$ in a title or intro names its key
            problems.append(
                derivation_problem(spec, dspec, *error_lines(exc), key=key, code=exc.exit_code)
            )
        except Exception as exc:  # noqa: BLE001 - one bug must not stop the other specs
            message = f"internal error ({type(exc).__name__}: {exc}); please report it"
            problems.append(derivation_problem(spec, dspec, message, ()))
    return tuple(sections), tuple(problems)


def section_of(dspec: DerivationSpec) -> Section:
    # Imported here: an unchanged build decides without them, so sympy need not load for it.
    from derivtex.api import derive
    from derivtex.rendering.document import section
    from derivtex.rendering.view import ANSWER_SPACE

    given, wrt, shapes = dspec.given, dspec.wrt, dict(dspec.shapes)
    example = dict(dspec.example)
    d = derive(
        given,
        wrt,
        shapes,
        of=dspec.of,
        layout=dspec.layout,
        example=example,
        steps=dspec.steps,
        order=dspec.order,
    )
    return section(
        d,
        title=dspec.title or dspec.name,
        intro=dspec.intro,
        vectors=dspec.vectors,
        answer_space=dspec.answer_space or ANSWER_SPACE,
    )


def render_spec(spec: Spec, sections: Sequence[Section], document: str) -> str:
    return render_document(  # imports the rendering layer when called; see section_of
        document,
        sections,
        title=spec.title,
        author=spec.author,
        date=spec.date,
        course=spec.course,
        intro=spec.intro,
        templates=spec.templates,
    )
