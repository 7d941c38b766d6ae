"""Division, elementwise powers, broadcasting, sizes, identities and the new functions (issue 12).

Every expected Jacobian is written by hand in numpy from the calculus (never from derivtex's own
output); derive() has already checked the result exactly and by finite differences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import derivtex
from derivtex.calculus import numeric as N
from derivtex.calculus import verify as V
from derivtex.derivation import stepmath
from derivtex.language import ir
from derivtex.language.parser import parse
from derivtex.language.typecheck import lower
from derivtex.language.unparse import unparse_program

Values = dict[str, np.ndarray]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def sigmoid(u: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-u))


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    wrt: str
    shapes: dict[str, str]
    expected: Callable[[Values], np.ndarray]  # numerator layout: out.shape + wrt.shape
    sample: str = "normal"  # normal | positive | unit | away (|value| >= 0.3)
    matrix_form: bool = True


def _norm_x(v: Values) -> np.ndarray:
    x = v["x"]
    n = np.linalg.norm(x)
    return (np.eye(len(x)) - np.outer(x, x) / n**2) / n


def _bias_rows(v: Values) -> np.ndarray:
    y = v["X"] @ v["W"] + v["b"]  # numpy broadcasting: b repeats down the rows
    return (1 - np.tanh(y) ** 2).sum(axis=0)


def _log_softmax(v: Values) -> np.ndarray:
    p = softmax(v["W"] @ v["x"])
    return (np.eye(len(p)) - np.outer(np.ones(len(p)), p)) @ v["W"]


def _eye3(n: int) -> np.ndarray:
    """T[i, j, k] = 1 where i = j = k: the derivative of diag(x) by x, and of diag(A) by A."""
    out = np.zeros((n, n, n))
    for i in range(n):
        out[i, i, i] = 1
    return out


MATRIX = {"W": "C x D", "x": "D", "t": "C"}
BATCH = {"X": "N x D", "W": "D x C", "b": "C"}
CASES = [
    Case("normalized", "y = x / norm(x)", "x", {"x": "D"}, _norm_x),
    Case("half-square", "L = norm(W x - t)^2 / 2", "W", MATRIX,
         lambda v: np.outer(v["W"] @ v["x"] - v["t"], v["x"])),
    Case("reciprocal-norm", "L = 1 / norm(x)", "x", {"x": "D"},
         lambda v: -v["x"] / np.linalg.norm(v["x"]) ** 3),
    Case("by-number", "y = x / 4", "x", {"x": "D"}, lambda v: np.eye(len(v["x"])) / 4),
    Case("by-scalar", "y = x / s", "s", {"x": "D", "s": "1"},
         lambda v: -v["x"] / v["s"] ** 2, sample="away"),
    Case("ediv-num", "y = x ./ z", "x", {"x": "D", "z": "D"},
         lambda v: np.diag(1 / v["z"]), sample="away"),
    Case("ediv-den", "y = x ./ z", "z", {"x": "D", "z": "D"},
         lambda v: np.diag(-v["x"] / v["z"] ** 2), sample="away"),
    Case("scalar-over-vector", "y = s ./ x", "x", {"x": "D", "s": "1"},
         lambda v: np.diag(-v["s"] / v["x"] ** 2), sample="away"),
    Case("cube", "y = x.^3", "x", {"x": "D"}, lambda v: np.diag(3 * v["x"] ** 2)),
    Case("sqrt-power", "y = x.^0.5", "x", {"x": "D"},
         lambda v: np.diag(0.5 * v["x"] ** -0.5), sample="positive"),
    Case("sum-squares", "L = sum(x.^2)", "x", {"x": "D"}, lambda v: 2 * v["x"]),
    Case("mse", "L = norm(X w - y)^2 / N", "w", {"X": "N x D", "w": "D", "y": "N"},
         lambda v: 2 / len(v["y"]) * v["X"].T @ (v["X"] @ v["w"] - v["y"])),
    Case("mse-sum", "L = sum((X w - y).^2) / N", "w", {"X": "N x D", "w": "D", "y": "N"},
         lambda v: 2 / len(v["y"]) * v["X"].T @ (v["X"] @ v["w"] - v["y"])),
    Case("logistic", "L = sum(log(1 + exp(-t .* (X w))))", "w",
         {"X": "N x D", "w": "D", "t": "N"},
         lambda v: -v["X"].T @ (v["t"] * sigmoid(-v["t"] * (v["X"] @ v["w"])))),
    Case("cross-entropy", "L = -sum(t .* log(softmax(W x)))", "W", MATRIX,
         lambda v: np.outer(v["t"].sum() * softmax(v["W"] @ v["x"]) - v["t"], v["x"])),
    Case("softmax", "p = softmax(z)", "z", {"z": "C"},
         lambda v: np.diag(softmax(v["z"])) - np.outer(softmax(v["z"]), softmax(v["z"]))),
    Case("softmax-row", "p = softmax(z)", "z", {"z": "1 x C"},
         lambda v: (np.diag(softmax(v["z"][0])) - np.outer(*[softmax(v["z"][0])] * 2))
         .reshape(1, -1, 1, v["z"].shape[1])),
    Case("bias-by-b", "L = sum(tanh(X W + b^T))", "b", BATCH, _bias_rows),
    Case("bias-ones-by-b", "L = sum(tanh(X W + 1 b^T))", "b", BATCH, _bias_rows),
    Case("bias-by-W", "L = sum(tanh(X W + b^T))", "W", BATCH,
         lambda v: v["X"].T @ (1 - np.tanh(v["X"] @ v["W"] + v["b"]) ** 2)),
    Case("bias-row-declared", "L = sum(tanh(X W + b))", "b", {**BATCH, "b": "1 x C"},
         lambda v: (1 - np.tanh(v["X"] @ v["W"] + v["b"]) ** 2).sum(axis=0, keepdims=True)),
    Case("bias-tensor", "Y = X W + b^T", "b", BATCH,
         lambda v: np.broadcast_to(np.eye(len(v["b"])), (len(v["X"]), len(v["b"]), len(v["b"]))),
         matrix_form=False),
    Case("column-bias", "L = sum(tanh(A + c))", "c", {"A": "D x M", "c": "D"},
         lambda v: (1 - np.tanh(v["A"] + v["c"][:, None]) ** 2).sum(axis=1)),
    Case("ones-row", "L = 1^T exp(x)", "x", {"x": "D"}, lambda v: np.exp(v["x"])),
    Case("ones-row-product", "L = 1^T X w", "w", {"X": "N x D", "w": "D"},
         lambda v: v["X"].sum(axis=0)),
    Case("ones-column-sums", "y = 1' X", "X", {"X": "N x D"},
         lambda v: np.broadcast_to(np.eye(v["X"].shape[1])[None, :, None, :],
                                   (1, v["X"].shape[1], *v["X"].shape)),
         matrix_form=False),
    Case("scalar-plus", "y = 2 + x", "x", {"x": "D"}, lambda v: np.eye(len(v["x"]))),
    Case("scalar-times-ones", "L = sum(s + X)", "s", {"X": "N x D", "s": "1"},
         lambda v: np.array(v["X"].size, dtype=float)),
    Case("abs", "y = abs(x)", "x", {"x": "D"}, lambda v: np.diag(np.sign(v["x"])), "away"),
    Case("norm1", "L = norm1(x)", "x", {"x": "D"}, lambda v: np.sign(v["x"]), "away"),
    Case("norm2", "L = norm2(x)", "x", {"x": "D"}, lambda v: v["x"] / np.linalg.norm(v["x"])),
    Case("sign", "y = sign(x) .* z", "z", {"x": "D", "z": "D"},
         lambda v: np.diag(np.sign(v["x"])), "away"),
    Case("tan", "y = tan(x)", "x", {"x": "D"}, lambda v: np.diag(1 / np.cos(v["x"]) ** 2), "unit"),
    Case("arcsin", "y = arcsin(x)", "x", {"x": "D"},
         lambda v: np.diag(1 / np.sqrt(1 - v["x"] ** 2)), "unit"),
    Case("arccos", "y = arccos(x)", "x", {"x": "D"},
         lambda v: np.diag(-1 / np.sqrt(1 - v["x"] ** 2)), "unit"),
    Case("arctan", "y = arctan(W x)", "x", {"W": "C x D", "x": "D"},
         lambda v: np.diag(1 / (1 + (v["W"] @ v["x"]) ** 2)) @ v["W"]),
    Case("mean", "L = mean(X)", "X", {"X": "N x D"},
         lambda v: np.full(v["X"].shape, 1 / v["X"].size)),
    Case("mean-fixed", "L = mean(x)", "x", {"x": "4"}, lambda v: np.full(4, 0.25)),
    Case("diag-vector", "Y = diag(x)", "x", {"x": "D"}, lambda v: _eye3(len(v["x"])),
         matrix_form=False),
    Case("diag-row", "Y = diag(r)", "r", {"r": "1 x D"},
         lambda v: _eye3(v["r"].shape[1]).reshape(v["r"].shape[1], v["r"].shape[1], 1, -1),
         matrix_form=False),
    Case("diag-matrix", "y = diag(A)", "A", {"A": "D x D"}, lambda v: _eye3(len(v["A"])),
         matrix_form=False),
    Case("diag-quadratic", "L = x^T diag(a) x", "x", {"x": "D", "a": "D"},
         lambda v: 2 * v["a"] * v["x"]),
    Case("logsumexp", "s = logsumexp(W x)", "x", {"W": "C x D", "x": "D"},
         lambda v: v["W"].T @ softmax(v["W"] @ v["x"])),
    Case("log-softmax", "y = log_softmax(W x)", "x", {"W": "C x D", "x": "D"}, _log_softmax),
    Case("identity-name", "y = (I_D + A) x", "x", {"A": "D x D", "x": "D"},
         lambda v: np.eye(len(v["x"])) + v["A"]),
    Case("eye", "y = (A - 2 eye(D)) x", "x", {"A": "D x D", "x": "D"},
         lambda v: v["A"] - 2 * np.eye(len(v["x"]))),
]  # fmt: skip


def sample(case: Case, rng: np.random.Generator, sizes: dict[str, int]) -> Values:
    values = {}
    for name, text in case.shapes.items():
        dims = [
            sizes.get(p, int(p) if p.isdigit() else 1) for p in text.replace(" ", "").split("x")
        ]
        shape = tuple(dims) if "x" in text else () if text.strip() == "1" else (dims[0],)
        raw = {
            "normal": lambda s: rng.normal(0, 0.7, s),
            "positive": lambda s: rng.uniform(0.5, 1.5, s),
            "unit": lambda s: rng.uniform(-0.5, 0.5, s),
            "away": lambda s: rng.uniform(0.3, 1.0, s) * rng.choice([-1, 1], s),
        }[case.sample](shape)
        values[name] = np.asarray(raw, dtype=float)
    return values


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_jacobian_against_hand_derived_formula(case: Case) -> None:
    d = derivtex.derive(case.text, wrt=case.wrt, shapes=case.shapes)
    assert d.report is not None and d.report.exact and d.report.max_error < 1e-6
    assert d.has_matrix_form is case.matrix_form
    rng = np.random.default_rng(len(case.id))
    for sizes in ({"C": 3, "D": 4, "N": 5, "M": 2}, {"C": 4, "D": 2, "N": 3, "M": 3}):
        values = sample(case, rng, sizes)
        got = d.evaluate(values)
        want = np.asarray(case.expected(values), dtype=float)
        np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-9, atol=1e-12)
        assert got.shape == want.shape or want.ndim == 0


@settings(max_examples=15, deadline=None)
@given(
    c=st.integers(2, 6),
    d_=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    case=st.sampled_from([c for c in CASES if c.matrix_form]),
)
def test_matrix_form_at_random_sizes(c: int, d_: int, seed: int, case: Case) -> None:
    """The matrix form, evaluated as matrices, is the hand-derived Jacobian at any size."""
    d = derivtex.derive(case.text, wrt=case.wrt, shapes=case.shapes, steps=False)
    values = sample(case, np.random.default_rng(seed), {"C": c, "D": d_, "N": c + 1, "M": d_})
    arrays, dims = N.bind(d.graph, values)
    got = N.eval_matrix(d.matrix, N.eval_graph(d.graph, arrays), dims)
    want = np.asarray(case.expected(values), dtype=float)
    np.testing.assert_allclose(np.reshape(got, -1), np.reshape(want, -1), atol=1e-9)


# -- matrix forms ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "wrt", "shapes", "latex"),
    [
        ("p = softmax(z)", "z", {"z": "C"},
         r"\operatorname{diag}\left(\vec{p}\right) - \vec{p} \vec{p}^{\top}"),
        ("L = norm(X w - y)^2 / N", "w", {"X": "N x D", "w": "D", "y": "N"},
         r"\frac{2}{N} X^{\top} \left(X \vec{w} - \vec{y}\right)"),
        ("L = sum(x.^2)", "x", {"x": "D"}, r"2 \vec{x}"),
        ("y = x.^3", "x", {"x": "D"}, r"3 \operatorname{diag}\left(\vec{x}^{\circ 2}\right)"),
        ("L = sum(x.^4)", "x", {"x": "D"}, r"4 \vec{x}^{\circ 3}"),
        ("L = mean(x)", "x", {"x": "D"}, r"\frac{1}{D} \vec{1}"),
        ("y = x ./ z", "x", {"x": "D", "z": "D"},
         r"\operatorname{diag}\left(\vec{z}^{\circ -1}\right)"),
        ("y = (I_D + A) x", "x", {"A": "D x D", "x": "D"}, r"\mathbf{I} + A"),
    ],
)  # fmt: skip
def test_matrix_form_reads_as_written_by_hand(text, wrt, shapes, latex) -> None:
    assert derivtex.derive(text, wrt=wrt, shapes=shapes).latex() == latex


def test_softmax_jacobian_is_diag_p_minus_p_p_transpose() -> None:
    d = derivtex.derive("p = softmax(z)", wrt="z", shapes={"z": "C"})
    p = sympy.MatrixSymbol("p", sympy.Symbol("C", positive=True, integer=True), 1)
    from sympy.matrices.expressions.diagonal import DiagMatrix

    assert d.result == sympy.MatAdd(DiagMatrix(p), -sympy.MatMul(p, p.T))


# -- printing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shapes", "wanted"),
    [
        ("y = x ./ z", {"x": "D", "z": "D"}, r"\vec{x} \oslash \vec{z}"),
        ("y = x.^3", {"x": "D"}, r"\vec{x}^{\circ 3}"),
        ("Y = X W + 1 b^T", BATCH, r"X W + \vec{1} \vec{b}^{\top}"),
        ("Y = X W + b^T", BATCH, r"X W + \vec{1} \vec{b}^{\top}"),
        ("y = 1 + x", {"x": "D"}, r"\vec{1} + \vec{x}"),
        ("p = softmax(W x)", MATRIX, r"\operatorname{softmax}\left(W \vec{x}\right)"),
        ("s = logsumexp(x)", {"x": "D"}, r"\operatorname{logsumexp}\left(\vec{x}\right)"),
        ("y = abs(x)", {"x": "D"}, r"\left|\vec{x}\right|"),
        ("y = sign(x) .* x", {"x": "D"}, r"\operatorname{sign}"),
        ("y = arcsin(x)", {"x": "D"}, r"\arcsin"),
        ("y = x / N", {"x": "N"}, r"\frac{1}{N} \vec{x}"),
        ("y = diag(A)", {"A": "D x D"}, r"\operatorname{diag}\left(A\right)"),
    ],
)  # fmt: skip
def test_given_expression_prints_in_cookbook_notation(text, shapes, wanted) -> None:
    wrt = next(iter(shapes))
    tex = derivtex.render(derivtex.derive(text, wrt=wrt, shapes=shapes))
    assert wanted in tex


@pytest.mark.parametrize(
    "text",
    [
        "y = x ./ z + x.^3 - 2.5 x / N",
        "L = -sum(t .* log(softmax(W x))) / 4",
        "Y = X W + 1 b^T; L = mean(tanh(Y).^2)",
        "y = x.^(-1) + abs(x) ./ (1 + x.^2)",
        "L = norm1(x) + norm2(x) + logsumexp(x) + sum(log_softmax(x))",
        "y = diag(diag(x) + I_N) + 0.001 x",
        "L = 1^T x + 1' X x",
    ],
)
def test_parse_unparse_round_trip(text: str) -> None:
    """Writing the tree back as text and reading it again gives the same typed operations."""
    shapes = {"x": "N", "z": "N", "W": "N x N", "t": "N", "X": "N x N", "b": "N"}
    again = unparse_program(parse(text))
    first, second = (
        [(d.name, d.op, d.auto) for d in lower(parse(t), shapes).definitions] for t in (text, again)
    )
    assert first == second
    assert unparse_program(parse(again)) == again


# -- what the handout states -------------------------------------------------------------------
def test_broadcasting_is_recorded_on_the_ir_and_in_notes() -> None:
    d = derivtex.derive("Y = X W + b^T; L = sum(Y)", wrt="W", shapes=BATCH)
    (add,) = [o for o in ir.walk(d.graph.definition("Y").op) if isinstance(o, ir.Add)]
    assert add.broadcast
    assert ir.broadcasts(d.graph) == ("Y",)
    assert d.derivative.notes == (
        "In Y, a row (1 x C) is repeated down the N rows to fit N x C (broadcasting, as in numpy).",
    )


def test_same_shapes_do_not_broadcast() -> None:
    d = derivtex.derive("y = x + z", wrt="x", shapes={"x": "D", "z": "D"})
    assert ir.broadcasts(d.graph) == () and d.derivative.notes == ()


def test_kink_note_and_sampling_away_from_zero() -> None:
    d = derivtex.derive("L = sum(abs(W x))", wrt="x", shapes={"W": "C x D", "x": "D"})
    assert any("where u is not 0" in n for n in d.derivative.notes)
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = V.random_values(d.graph, {sympy.Symbol("C", positive=True, integer=True): 5,
                                           sympy.Symbol("D", positive=True, integer=True): 5},
                                 rng)  # fmt: skip
        assert np.abs(values["W"] @ values["x"]).min() >= 0.05


def test_divisors_are_sampled_away_from_zero() -> None:
    d = derivtex.derive("y = x ./ z", wrt="z", shapes={"x": "D", "z": "D"})
    rng = np.random.default_rng(1)
    size = {sympy.Symbol("D", positive=True, integer=True): 6}
    for _ in range(20):
        assert np.abs(V.random_values(d.graph, size, rng)["z"]).min() > 0.15


# -- misuse --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shapes", "error", "says", "column", "hint"),
    [
        ("y = x ./ z", {"x": "D", "z": "C"}, derivtex.ShapeError,
         "elementwise division of different shapes", 9, "same shape"),
        ("y = x .* z", {"x": "D", "z": "C"}, derivtex.ShapeError,
         "elementwise product of different shapes", 9, "b^T"),
        ("Y = X W + b", BATCH, derivtex.ShapeError, "cannot add", 10, "b^T"),
        ("p = softmax(A)", {"A": "C x D"}, derivtex.ShapeError,
         "softmax() of 'A', which is C x D, needs an axis", 4, "softmax(W x)"),
        ("p = log_softmax(A)", {"A": "C x D"}, derivtex.ShapeError, "needs an axis", 4, "vector"),
        ("p = softmax(A, 1)", {"A": "C x D"}, derivtex.ParseError,
         "softmax() takes 1 argument(s), got 2", 4, "softmax(Z, axis) is not supported yet"),
        ("p = softmax(s)", {"s": "1"}, derivtex.ShapeError, "softmax() takes a vector", 4, "W x"),
        ("y = x.^s", {"x": "D", "s": "1"}, derivtex.ParseError,
         "an elementwise power .^ needs a numeric exponent", 7, "exp(y .* log(x))"),
        ("y = x^3", {"x": "D"}, derivtex.ShapeError, "only scalars have powers", 4, "x.^2"),
        ("Y = A^2", {"A": "C x D"}, derivtex.ShapeError, "needs a square matrix", 4, "D x D"),
        ("y = W / x", {"W": "C x D", "x": "D"}, derivtex.ShapeError,
         "'/' divides by a scalar", 8, "./"),
        ("y = x / 0", {"x": "D"}, derivtex.ShapeError, "division by zero", 8, "nonzero"),
        ("y = inv(A) x", {"A": "C x D", "x": "D"}, derivtex.ShapeError,
         "inv() needs a square matrix; 'A' is C x D", 4, "X^T X"),
        ("L = logdet(x)", {"x": "D"}, derivtex.ShapeError,
         "logdet() needs a square matrix; 'x' is D", 4, "x^T x"),
        ("L = det(s)", {"s": "1"}, derivtex.ShapeError, "det() needs a square", 4, "1 / s"),
        ("L = max(x)", {"x": "D"}, derivtex.UnknownFunctionError,
         "max() is not supported yet", 4, "logsumexp(x)"),
        ("y = diag(A)", {"A": "C x D"}, derivtex.ShapeError,
         "diag() takes a vector or a square matrix", 4, "diag(x)"),
        ("y = I_Q x", {"x": "D"}, derivtex.ShapeError, "the identity's size 'Q'", 4, "I_D"),
        ("y = I_hat x", {"x": "D"}, derivtex.UndeclaredNameError, "'I_hat' has no declared", 4,
         "declare it"),
        ("y = eye(x) x", {"x": "D"}, derivtex.ShapeError, "eye() takes a size", 4, "eye(D)"),
        ("y = x + 1^T", {"x": "D"}, derivtex.ShapeError,
         "1^T, the ones row, takes its length from a product", 8, "1^T x"),
        ("y = 1^T s", {"s": "1"}, derivtex.ShapeError, "needs a vector or a matrix", 4, "1^T x"),
        ("y = x ./ (1 - 1) + x", {"x": "D"}, derivtex.ShapeError, "division by zero", 10, ""),
    ],
)  # fmt: skip
def test_misuse_is_a_clear_error(text, shapes, error, says, column, hint) -> None:
    wrt = next(iter(shapes))
    with pytest.raises(error) as info:
        derivtex.derive(text, wrt=wrt, shapes=shapes)
    message = str(info.value)
    assert says in message and hint in message
    source_line, caret = message.splitlines()[1:3]
    assert source_line.strip() == text
    assert caret.index("^") - source_line.index(text[0]) == column
    assert "Traceback" not in message


def test_misuse_exits_2_on_the_command_line() -> None:
    from click.testing import CliRunner

    from derivtex.cli import main

    result = CliRunner().invoke(
        main, ["derive", "y = x.^s", "--wrt", "x", "-s", "x=D", "-s", "s=1"]
    )
    assert result.exit_code == 2 and "numeric exponent" in result.output
    assert "Traceback" not in result.output


def test_numbers_go_where_scalars_go() -> None:
    d = derivtex.derive("L = 0.5 sum(x.^2) / 2 + 3 - 1e-1 x^T x", wrt="x", shapes={"x": "D"})
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(d.evaluate({"x": x}), 0.5 * x - 0.2 * x)


# -- broadcasting against numpy's own ------------------------------------------------------------
# Operand kinds and their numpy shapes for N = 3 rows, C = 4 columns: numpy broadcasts each
# against the N x C matrix exactly as derivtex does.
KIND_SHAPES = {"matrix": ("N x C", (3, 4)), "row": ("1 x C", (1, 4)), "column": ("N", (3,)),
               "scalar": ("1", ())}  # fmt: skip
NUMPY_OPS = {"+": np.add, "-": np.subtract, ".*": np.multiply, "./": np.divide}


def _numpy_shape(value: np.ndarray) -> np.ndarray:
    """derivtex's "N" column is numpy's (N,); numpy needs (N, 1) to broadcast it over columns."""
    return value[:, None] if value.ndim == 1 else value


@settings(max_examples=30, deadline=None)
@given(
    op=st.sampled_from(sorted(NUMPY_OPS)),
    left=st.sampled_from(sorted(KIND_SHAPES)),
    right=st.sampled_from(sorted(KIND_SHAPES)),
    wrt=st.sampled_from(("P", "Q")),
    seed=st.integers(0, 2**16),
)
def test_broadcasting_matches_numpy(op: str, left: str, right: str, wrt: str, seed: int) -> None:
    from checks import central_differences

    shapes = {"P": KIND_SHAPES[left][0], "Q": KIND_SHAPES[right][0], "M": "N x C"}
    # M fixes the result to N x C whatever the operands are.
    text = f"Y = tanh(P {op} Q) .* M"
    d = derivtex.derive(text, wrt=wrt, shapes=shapes, steps=False)
    rng = np.random.default_rng(seed)
    values = {
        "P": rng.uniform(0.5, 1.5, KIND_SHAPES[left][1]),
        "Q": rng.uniform(0.5, 1.5, KIND_SHAPES[right][1]),
        "M": rng.normal(size=(3, 4)),
    }

    def f(v: Values) -> np.ndarray:
        p, q = _numpy_shape(np.asarray(v["P"])), _numpy_shape(np.asarray(v["Q"]))
        return np.tanh(NUMPY_OPS[op](p, q)) * v["M"]

    want = central_differences(f, values, wrt)
    np.testing.assert_allclose(d.evaluate(values), want, atol=1e-6)
    assert bool(ir.broadcasts(d.graph)) is _broadcasts(op, left, right)


def _broadcasts(op: str, left: str, right: str) -> bool:
    """Whether tanh(P op Q) .* M repeats a value; a scalar .* anything is a scalar multiple."""
    sizes = {"matrix": (3, 4), "row": (1, 4), "column": (3, 1), "scalar": (1, 1)}
    a, b = sizes[left], sizes[right]
    inner = (max(a[0], b[0]), max(a[1], b[1]))
    inner_repeats = a != b and not (op == ".*" and "scalar" in (left, right))
    return inner_repeats or inner not in ((3, 4), (1, 1))


def test_rational_zero_decides_softmax_quotients_soundly() -> None:
    a, b, t = sympy.symbols("a b t")
    p = sympy.exp(a) / (sympy.exp(a) + sympy.exp(b))
    # p (1 - p) is the derivative of p by a; written two ways.
    assert V._rational_zero(sympy.expand(sympy.diff(p, a) - p * (1 - p)))
    assert V._rational_zero(sympy.exp(-a) * sympy.exp(a) - 1)
    assert not V._rational_zero(sympy.diff(p, a) - p)
    assert not V._rational_zero(t * sympy.exp(a) - sympy.exp(b))


# -- fuzzing the new vocabulary ------------------------------------------------------------------
NEW_FUNCS = ["softmax", "log_softmax", "logsumexp", "diag", "mean", "norm1", "norm2", "abs",
             "sign", "tan", "arcsin", "arccos", "arctan", "eye", "inv", "max"]  # fmt: skip
NEW_OPS = [" ./ ", " / ", " .* ", " + ", " - ", " "]
NEW_SUFFIXES = [".^2", ".^(-1)", ".^0.5", ".^x", "^2", "^T", "'", "./", "/"]
FUZZ_SHAPES = {"x": "D", "r": "1 x D", "A": "D x D", "W": "C x D", "s": "1", "X": "N x D"}


def _fuzz_expr(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(NEW_OPS), children).map("".join),
        st.tuples(st.sampled_from(NEW_FUNCS), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.sampled_from(NEW_SUFFIXES)).map("".join),
        children.map(lambda e: f"({e})"),
    )


FUZZ_ATOMS = st.sampled_from([*FUZZ_SHAPES, "N", "D", "I_D", "I_3", "1", "0", "2.5", "1e-3"])


@settings(max_examples=150, deadline=None)
@given(
    expr=st.recursive(FUZZ_ATOMS, _fuzz_expr, max_leaves=8),
    wrt=st.sampled_from(sorted(FUZZ_SHAPES)),
)
def test_new_vocabulary_returns_or_raises_derivtex_error(expr: str, wrt: str) -> None:
    try:
        derivtex.derive(f"y = {expr}", wrt, FUZZ_SHAPES, steps=False, timeout=5)
    except derivtex.DerivtexError as err:
        assert "Traceback" not in str(err)
        assert "cannot derive this expression yet" not in str(err), str(err)


@pytest.mark.parametrize("op", [" / ", " ./ "])
def test_divisions_count_as_factors_against_the_limit(op: str) -> None:
    text = "y = x" + op.join([""] + ["s"] * 30)
    with pytest.raises(derivtex.errors.TooLargeError, match="max_factors"):
        derivtex.derive(text, wrt="x", shapes={"x": "D", "s": "1"})


def test_a_divisor_that_is_always_zero_is_unsupported_not_a_bug() -> None:
    with pytest.raises(derivtex.errors.UnsupportedError, match="divides by zero"):
        derivtex.derive("y = x ./ (s - s)", wrt="x", shapes={"x": "D", "s": "1"})


@pytest.mark.parametrize(
    ("text", "wrt", "shapes", "latex"),
    [
        ("y = tanh(x)", "x", {"x": "D"},
         r"\operatorname{diag}\left(1 - \tanh^{2}{\left(\vec{x} \right)}\right)"),
        ("y = W x + x", "x", {"W": "D x D", "x": "D"}, r"W^{\top} + \mathbf{I}"),
        ("y = x ./ z", "z", {"x": "D", "z": "D"},
         r"- \operatorname{diag}\left(\vec{z}^{\circ -2} \odot \vec{x}\right)"),
    ],
)  # fmt: skip
def test_denominator_layout_does_not_transpose_symmetric_factors(text, wrt, shapes, latex) -> None:
    d = derivtex.derive(text, wrt=wrt, shapes=shapes, layout="denominator")
    assert d.latex() == latex


def test_relu_is_sampled_away_from_its_kink_too() -> None:
    d = derivtex.derive("y = relu(W x)", wrt="x", shapes={"W": "C x D", "x": "D"})
    assert any("relu" in note for note in d.derivative.notes)
    rng = np.random.default_rng(3)
    size = {sympy.Symbol(s, positive=True, integer=True): 5 for s in "CD"}
    for _ in range(20):
        values = V.random_values(d.graph, size, rng)
        assert np.abs(values["W"] @ values["x"]).min() >= 0.05


def test_sizes_and_tensors_of_one_name_do_not_mix() -> None:
    """A size n beside a scalar n, and a norm the tool would have named n."""
    d = derivtex.derive("L = mean(X) + n", wrt="X", shapes={"X": "n x D", "n": "1"})
    np.testing.assert_allclose(d.evaluate({"X": np.ones((2, 3)), "n": 7.0}), np.full((2, 3), 1 / 6))
    d = derivtex.derive("y = x / norm(x) / n", wrt="x", shapes={"x": "n"})
    assert "n" not in [df.name for df in d.graph.definitions if df.auto]
    x = np.array([0.5, -1.0, 2.0])
    want = (np.eye(3) - np.outer(x, x) / (x @ x)) / np.linalg.norm(x) / 3
    np.testing.assert_allclose(d.evaluate({"x": x}), want)


# -- plan --json: srepr of the new sympy classes evaluates back ------------------------------------
def _math_fields(value: object):
    if isinstance(value, sympy.Basic):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _math_fields(item)


@pytest.mark.parametrize(
    ("text", "wrt", "shapes"),
    [
        ("L = -sum(t .* log(softmax(W x)))", "W", MATRIX),
        ("y = abs(x) ./ (1 + x.^2) + sign(x)", "x", {"x": "D"}),
        ("s = logsumexp(W x) / N", "x", {"W": "C x D", "x": "D", "N": "1"}),
        ("Y = X W + 1 b^T; L = mean(Y)", "b", BATCH),
        ("y = diag(A) + 1^T A x", "x", {"A": "D x D", "x": "D"}),
        ("L = x' A x + tr(B A)", "A", {"A": "D x D symmetric", "x": "D", "B": "D x D"}),
        ("L = x' A x", "x", {"A": "D x D symmetric", "x": "D"}),
        ("L = log(det(X)) + tr(inv(X) A)", "X", {"X": "D x D", "A": "D x D"}),
    ],
)  # fmt: skip
def test_srepr_of_every_step_field_evaluates_back(text, wrt, shapes) -> None:
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
    from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

    from derivtex.calculus import mexpr
    from derivtex.calculus.symmetric import SymmetricSymbol
    from derivtex.language import functions as F
    from derivtex.rendering.printer import _Verbatim

    namespace = {
        **vars(sympy),
        "Str": sympy.core.symbol.Str,
        "ElementwiseApplyFunction": ElementwiseApplyFunction,
        "DiagMatrix": DiagMatrix,
        "DiagonalOf": DiagonalOf,
        "_Verbatim": _Verbatim,
        "Held": stepmath.Held,
        "SumExcept": stepmath.SumExcept,
        "SymmetricSymbol": SymmetricSymbol,
        **{n: getattr(F, n) for n in ("absval", "signum", "sigmoid", "relu", "softplus")},
        **{n: getattr(mexpr, n) for n in ("Norm", "Scalar", "SumOf", "Slice", "LogSumExp",
                                          "SoftmaxOf", "ElementwiseDivide", "LogDet",
                                          "InverseEntry")},
    }  # fmt: skip
    d = derivtex.derive(text, wrt=wrt, shapes=shapes)
    for step in d.steps:
        for name in step.__slots__:
            for value in _math_fields(getattr(step, name)):
                rebuilt = eval(sympy.srepr(value), namespace)  # noqa: S307 - our own srepr
                # display forms are unevaluated (the user's factor order): equal once evaluated
                assert rebuilt == value or _evaluated(rebuilt) == _evaluated(value), name


def _evaluated(e: sympy.Basic) -> sympy.Basic:
    """The expression rebuilt with evaluation: display products (1 x_7 W_{7,3}) made plain."""
    if not e.args or isinstance(e, sympy.MatrixSymbol | sympy.IndexedBase | sympy.Indexed):
        return e
    args = [_evaluated(a) for a in e.args]
    if isinstance(e, sympy.MatAdd):
        args.sort(key=sympy.default_sort_key)
    return e.func(*args)
