"""Titles and intros: $...$ is derivtex's expression language, printed as the equations are."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import derivtex
from derivtex.cli import main
from derivtex.language.shapes import parse_shape
from derivtex.rendering.printer import Notation
from derivtex.rendering.prose import ProseMathError, prose_tex

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
