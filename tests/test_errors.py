"""Every error a user can cause: its class, its message, the caret under the source, and a hint."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import derivtex

WX = {"W": "C x D", "x": "D"}


@dataclass(frozen=True)
class Bad:
    """An input that must fail; line/column/length locate the caret (None: no source to show)."""

    id: str
    text: str
    shapes: dict[str, str]
    error: type[derivtex.DerivtexError]
    says: tuple[str, ...]
    line: str | None = None  # the source line shown above the caret
    column: int | None = None  # counted by hand within that line
    length: int = 1
    hint: str = ""  # a piece of the hint
    wrt: str = "x"
    of: str | None = None


CASES = [
    # -- unparsable text
    Bad("dangling-operator", "y = W +", WX, derivtex.ParseError,
        ("expected a name, a number or '('", "the end of the text"),
        "y = W +", 7, hint="operand on each side"),
    Bad("unclosed-paren", "y = (W x", WX, derivtex.ParseError,
        ("expected ')'",), "y = (W x", 8, hint="matching ')'"),
    Bad("stray-character", "y = W $ x", WX, derivtex.ParseError,
        ("unexpected character '$'",), "y = W $ x", 6, hint="the language has names"),
    Bad("no-statement", "W x", WX, derivtex.ParseError,
        ("a statement must start with 'name ='",), "W x", 0, hint="y = W x"),
    Bad("division-by-vector", "y = W / x", WX, derivtex.ShapeError,
        ("'x' is D: '/' divides by a scalar",), "y = W / x", 8, hint="./"),
    Bad("exponent", "L = s^x", {"s": "1", "x": "D"}, derivtex.ParseError,
        ("an exponent must be a number or T",), "L = s^x", 6, hint="A^T"),
    Bad("arity", "y = hadamard(x)", {"x": "D"}, derivtex.ParseError,
        ("hadamard() takes 2 argument(s), got 1",), "y = hadamard(x)", 4, 8),
    Bad("call-without-parens", "y = norm x", {"x": "D"}, derivtex.ParseError,
        ("norm() needs its argument in parentheses",), "y = norm x", 4, 4),
    # -- unknown functions
    Bad("unknown-function", "y = foo(x)", {"x": "D"}, derivtex.UnknownFunctionError,
        ("unknown function 'foo'",), "y = foo(x)", 4, 3, hint="known functions: abs, arccos"),
    Bad("misspelled-function", "y = sigmod(x)", {"x": "D"}, derivtex.UnknownFunctionError,
        ("unknown function 'sigmod'",), "y = sigmod(x)", 4, 6,
        hint="did you mean 'sigmoid'?"),
    Bad("misspelled-tanh", "y = tahn(W x)", WX, derivtex.UnknownFunctionError,
        ("unknown function 'tahn'",), "y = tahn(W x)", 4, 4, hint="did you mean 'tanh'?"),
    # -- undeclared names
    Bad("undeclared", "y = W q", WX, derivtex.UndeclaredNameError,
        ("'q' has no declared shape",), "y = W q", 6, hint='shapes={"q": "D"}'),
    Bad("undeclared-second-line", "m = W x\ny = V m", WX, derivtex.UndeclaredNameError,
        ("'V' has no declared shape",), "y = V m", 4, hint='shapes={"V": "D"}'),
    Bad("undeclared-wrt-missing", "y = W x", {"W": "C x D"}, derivtex.UndeclaredNameError,
        ("'x' has no declared shape",), "y = W x", 6),
    # -- shapes that do not fit
    Bad("matmul-mismatch", "y = W x", {"W": "C x D", "x": "E"}, derivtex.ShapeError,
        ("cannot multiply", "'W' is C x D", "'x' is E"), "y = W x", 6,
        hint="the columns of the left (D) must equal the rows of the right (E)"),
    Bad("matmul-mismatch-transpose", "L = a^T W x", {"a": "D", "W": "C x D", "x": "D"},
        derivtex.ShapeError, ("cannot multiply", "'a^T' is 1 x D", "'W' is C x D"),
        "L = a^T W x", 8, hint="transpose one operand"),
    Bad("add-mismatch", "y = x + z", {"x": "D", "z": "C"}, derivtex.ShapeError,
        ("cannot add", "'x' is D", "'z' is C"), "y = x + z", 8, hint="same shape"),
    Bad("hadamard-mismatch", "m = W x\ny = m .* x", WX, derivtex.ShapeError,
        ("elementwise product", "'m' is C", "'x' is D"), "y = m .* x", 9, hint="same shape"),
    Bad("power-of-vector", "L = x^2", {"x": "D"}, derivtex.ShapeError,
        ("'x' is D: only scalars have powers",), "L = x^2", 4, 3, hint="norm(x)^2"),
    Bad("trace-not-square", "L = tr(W)", WX, derivtex.ShapeError,
        ("tr() needs a square matrix", "'W' is C x D"), "L = tr(W)", 4, 5, hint="tr(X^T X)",
        wrt="W"),
    # -- wrt and of
    Bad("wrt-not-used", "y = W x", {**WX, "t": "C"}, derivtex.WrtError,
        ("'y' does not depend on 't'",), "y = W x", 0, hint="zero everywhere", wrt="t"),
    Bad("wrt-not-used-second-line", "m = W x\ny = V m", {**WX, "V": "E x C", "t": "C"},
        derivtex.WrtError, ("'y' does not depend on 't'",), "y = V m", 0, wrt="t"),
    Bad("wrt-undeclared", "y = W x", WX, derivtex.WrtError,
        ("cannot differentiate by 'q': it is not an input",), hint="W, x", wrt="q"),
    Bad("wrt-intermediate", "m = W x; y = V m", {**WX, "V": "E x C"}, derivtex.WrtError,
        ("cannot differentiate by 'm'",), hint="'m' is an intermediate", wrt="m"),
    Bad("of-unknown", "y = W x", WX, derivtex.WrtError,
        ("there is no statement 'z'",), hint="name one of: y", of="z"),
    # -- statements
    Bad("defined-twice", "y = W x; y = W x", WX, derivtex.RedefinitionError,
        ("'y' is defined twice",), "y = W x; y = W x", 9, hint="its own new name"),
    Bad("defined-twice-lines", "m = W x\nm = W x\ny = m", WX, derivtex.RedefinitionError,
        ("'m' is defined twice",), "m = W x", 0, hint="its own new name"),
    Bad("redefines-input", "x = W x", {"W": "D x D", "x": "D"}, derivtex.RedefinitionError,
        ("'x' is a declared input",), "x = W x", 0, hint="its own new name"),
    Bad("cycle", "a = W b; b = W a; y = a", {"W": "D x D"}, derivtex.CycleError,
        ("'a' depends on itself",), "a = W b; b = W a; y = a", 0, hint="defined without it",
        wrt="W"),
    Bad("self-cycle", "y = W y", {"W": "D x D"}, derivtex.CycleError,
        ("'y' depends on itself",), "y = W y", 0, wrt="W"),
    # -- shape strings
    Bad("shape-three-axes", "y = W x", {"W": "C x D x E", "x": "D"}, derivtex.ShapeError,
        ("cannot read the shape 'C x D x E' of 'W'",), "C x D x E", 8, hint='"C x D"'),
    Bad("shape-zero", "y = W x", {"W": "C x 0", "x": "D"}, derivtex.ShapeError,
        ("cannot read the shape 'C x 0' of 'W'",), "C x 0", 4, hint="positive integers"),
    Bad("shape-sign", "y = W x", {"W": "C x -D", "x": "D"}, derivtex.ShapeError,
        ("cannot read the shape 'C x -D' of 'W'",), "C x -D", 4, hint="sizes are names"),
]  # fmt: skip


def raised(case: Bad) -> derivtex.DerivtexError:
    with pytest.raises(derivtex.DerivtexError) as info:
        derivtex.derive(case.text, wrt=case.wrt, shapes=case.shapes, of=case.of)
    return info.value


def params(cases: list[Bad]) -> list:
    """The cases as parameters, named by their ids."""
    return [pytest.param(c, id=c.id) for c in cases]


@pytest.mark.parametrize("case", params(CASES))
def test_error_class_and_message(case: Bad) -> None:
    err = raised(case)
    assert type(err) is case.error
    assert issubclass(case.error, derivtex.InputError)
    assert issubclass(case.error, derivtex.DerivtexError)
    assert err.exit_code == 2
    text = str(err)
    assert text.splitlines()[0].startswith("error: ")
    for piece in case.says:
        assert piece in text


@pytest.mark.parametrize("case", params(CASES))
def test_error_has_a_hint(case: Bad) -> None:
    err = raised(case)
    hints = [line for line in str(err).splitlines() if line.startswith("hint: ")]
    assert len(hints) == 1
    assert case.hint in hints[0]


def caret_position(message: str, source_line: str) -> tuple[int, int]:
    """(column, length) of the carets on the line below `source_line` in the message."""
    lines = message.splitlines()
    shown = [n for n, line in enumerate(lines) if line.endswith(source_line)]
    assert shown, f"the source line {source_line!r} is not in:\n{message}"
    n = shown[0]
    indent = len(lines[n]) - len(source_line)
    assert n + 1 < len(lines), f"no caret line in:\n{message}"
    carets = lines[n + 1]
    assert carets.strip() and set(carets.strip()) == {"^"}, f"no caret line in:\n{message}"
    column = len(carets) - len(carets.lstrip()) - indent
    return column, len(carets.strip())


LOCATED = [c for c in CASES if c.line is not None]


@pytest.mark.parametrize("case", params(LOCATED))
def test_error_shows_the_source_with_a_caret(case: Bad) -> None:
    assert case.line is not None and case.column is not None
    err = raised(case)
    assert caret_position(str(err), case.line) == (case.column, case.length)


def test_the_table_covers_every_input_error_kind() -> None:
    kinds = {c.error for c in CASES}
    assert kinds == {
        derivtex.ParseError,
        derivtex.UnknownFunctionError,
        derivtex.UndeclaredNameError,
        derivtex.ShapeError,
        derivtex.WrtError,
        derivtex.RedefinitionError,
        derivtex.CycleError,
    }


def test_caret_at_the_start_of_a_later_line() -> None:
    err = raised(Bad("", "m = W x\ny = m q", WX, derivtex.UndeclaredNameError, ()))
    lines = str(err).splitlines()
    assert lines[1:3] == ["  y = m q", "        ^"]


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"layout": "sideways"}, "unknown layout 'sideways'"),
        ({"shapes": ["W", "x"]}, "shapes must map names to shapes"),
    ],
    ids=["layout", "shapes-not-a-mapping"],
)
def test_bad_arguments(kwargs: dict, says: str) -> None:
    call = {"shapes": WX, **kwargs}
    with pytest.raises(derivtex.InputError) as info:
        derivtex.derive("y = W x", wrt="x", **call)
    assert says in str(info.value)
    assert "hint: " in str(info.value)


def test_input_error_at_puts_the_caret_under_a_span_or_a_token() -> None:
    from derivtex.errors import ShapeError
    from derivtex.language.lexer import tokenize
    from derivtex.language.nodes import Span

    source = "y = W x"
    by_span = ShapeError.at(Span(4, 1), source, "bad W", hint="fix it")
    assert isinstance(by_span, ShapeError)
    assert str(by_span).splitlines() == ["error: bad W", "  y = W x", "      ^", "hint: fix it"]
    token = tokenize(source)[0]
    assert str(ShapeError.at(token, source, "bad y")).splitlines()[2] == "  ^"


def test_a_power_error_underlines_the_whole_exponent() -> None:
    import derivtex
    from derivtex.errors import ShapeError

    with pytest.raises(ShapeError) as caught:
        derivtex.derive("Y = X^2.5", "X", {"X": "D x D"})
    assert str(caught.value).splitlines()[1:3] == ["  Y = X^2.5", "      ^^^^^"]
