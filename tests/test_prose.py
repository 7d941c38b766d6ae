"""Titles and intros: $...$ is derivtex's expression language, printed as the equations are."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import derivtex
from derivtex.cli import main
from derivtex.language.shapes import parse_shape
from derivtex.rendering.printer import Notation
from derivtex.rendering.prose import ProseMathError, justification_tex, prose_tex

SHAPES = {"W1": parse_shape("C x D"), "x": parse_shape("D"), "t": parse_shape("C")}
NOTE = Notation((("W1", "matrix"), ("x", "vector"), ("t", "vector")))

CASES = [
    ("Plain & 100% {text}", r"Plain \& 100\% \{text\}"),
    (r"costs \$5 for $x$", r"costs \$5 for $\vec{x}$"),
    ("one of $W1$", r"one of $W^{(1)}$"),
    ("the loss $- t^T W1 x$", r"the loss $- \vec{t}^{\top} W^{(1)} \vec{x}$"),
    (
        "$norm(W1)^2$ and $s$",
        r"$\left\|W^{(1)}\right\|_{F}^{2}$ and $s$",
    ),  # s: undeclared, a scalar
    ("$tanh(W1 x) .* t$ # done", r"$\tanh{\left(W^{(1)} \vec{x} \right)} \odot \vec{t}$ \# done"),
]


@pytest.mark.parametrize(("text", "tex"), CASES, ids=[c[0] for c in CASES])
def test_prose_math_prints_as_the_equations_do(text: str, tex: str) -> None:
    assert prose_tex(text, SHAPES, NOTE, what="intro") == tex


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("costs $5", "unmatched \\$"),
        ("the sum $W1 + x$", "cannot add"),
        ("$\\input{/etc/passwd}$", "cannot read"),
    ],
)
def test_math_that_does_not_parse_is_an_error(text: str, message: str) -> None:
    with pytest.raises(ProseMathError, match=message) as info:
        prose_tex(text, SHAPES, NOTE, what="intro")
    assert info.value.key == "intro"


def test_a_rendered_section_title_holds_printed_math() -> None:
    d = derivtex.derive("L = t^T x", wrt="x", shapes={"t": "D", "x": "D"})
    from derivtex.rendering.document import render, section

    tex = render([section(d, title="The gradient of $t^T x$")], title="On $t^T x$")
    assert r"\section{The gradient of $\vec{t}^{\top} \vec{x}$}" in tex
    assert r"\title{On $\vec{t}^{\top} \vec{x}$}" in tex


def test_a_bad_dollar_in_a_spec_names_the_file_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(
        'title = "ok"\n[[derivation]]\ngiven = "y = W x"\nshapes = { W = "C x D", x = "D" }\n'
        'wrt = "x"\nintro = "see $W ++ x$"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["check", str(spec)])
    assert result.exit_code == 2  # bad input, like a bad expression
    assert f"{spec}:6: derivation 'derivation-1': the intro has $W ++ x$" in result.output


JUSTIFICATIONS = [
    (
        "Pick one component of $t$ and one of $W1$.",
        r"Pick one component of $\vec{t}$ and one of $W^{(1)}$.",
    ),
    ("Hold $x$ fixed (100% of it)", r"Hold $\vec{x}$ fixed (100\% of it)"),
    ("The entries of W1 unmarked", "The entries of W1 unmarked"),  # no dollars: plain text
]


@pytest.mark.parametrize(("text", "tex"), JUSTIFICATIONS, ids=[c[0] for c in JUSTIFICATIONS])
def test_names_in_a_justification_print_as_in_the_equations(text: str, tex: str) -> None:
    assert justification_tex(text, NOTE) == tex


def test_a_justification_sets_a_name_as_the_handout_equations_do() -> None:
    d = derivtex.derive("y = W1 x", wrt="W1", shapes={"W1": "C x D", "x": "D"})
    from derivtex.rendering.document import render, section
    from derivtex.rendering.printer import notation

    handout = render([section(d)], title="Layer")
    said = justification_tex(
        f"Pick one component of ${d.output}$ and one of ${d.wrt}$", notation(d.graph)
    )
    names = [part for n, part in enumerate(said.split("$")) if n % 2]
    assert names == [r"\vec{y}", "W^{(1)}"]
    assert all(name in handout for name in names)  # the equations print them the same way


def test_a_bad_name_in_a_justification_is_keyed_justification() -> None:
    with pytest.raises(ProseMathError, match="cannot read") as info:
        justification_tex("one of $W1 +$", NOTE)
    assert info.value.key == "justification"


def test_the_steps_prose_sets_names_as_the_equations_do() -> None:
    """The planner's sentences name tensors as the math prints them, a tool-made one too."""
    d = derivtex.derive("y = V W1 x", "x", {"V": "C x M", "W1": "M x D", "x": "D"})
    tex = derivtex.render(d)
    assert r"Pick one component of $\vec{y}$ and one of $\vec{x}$" in tex
    # m is the planner's name for W1 x: not in the user's graph, a vector in the equations
    assert r"$\vec{y}$ depends on $\vec{x}$ only through $\vec{m}$" in tex
    assert r"The local derivative of $\vec{m}$ by $\vec{x}$" in tex
    assert "one of x," not in tex and "through m:" not in tex


def test_the_html_page_sets_the_steps_names_as_katex_math() -> None:
    from derivtex.rendering.html import render_html

    d = derivtex.derive("y = W1 x", "W1", {"W1": "C x D", "x": "D"})
    page = render_html(d)
    span = '<span class="dtx-tex dtx-inline">'
    assert (
        f"Pick one component of {span}\\vec{{y}}</span> and one of {span}W^{{(1)}}</span>," in page
    )
    assert "one of W1" not in page
    body = page.split("<body", 1)[1].split("<script", 1)[0]
    assert "$" not in body  # the report's sizes are KaTeX spans too
    assert 'finite differences at <span class="dtx-tex dtx-inline">' in body


def test_a_notebook_sets_the_steps_names_as_math_and_escapes_the_rest() -> None:
    from derivtex.rendering.notebook import markdown

    d = derivtex.derive("y = V W1 x", "x", {"V": "C x M", "W1": "M x D", "x": "D"})
    text = markdown(d)
    assert r"Pick one component of $\vec{y}$ and one of $\vec{x}$," in text
    assert r"$\vec{y}$ depends on $\vec{x}$ only through $\vec{m}$" in text
    assert "one of x," not in text
