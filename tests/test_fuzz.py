"""Grammar-based fuzzing: any program derive() sees returns or raises a DerivtexError."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import derivtex
from derivtex.api import derive

NAMES = ["x", "y2", "W", "A", "b", "s", "t", "alpha", "x_hat", "T", "sum", "q_"]
FUNCS = ["tanh", "exp", "log", "sum", "norm", "tr", "sigmoid", "relu", "hadamard", "foo"]
FUNCS += ["inv", "det", "logdet"]
ODD = ["", "'", "^T", ".T", "^2", "^(-1)", "^0.5", ".*", "@", "*", "/", "(", ")", "#", ",", "\t"]
SHAPES = ["", "1", "D", "C", "3", "1 x D", "C x D", "D x D", "D x C", "2 x 3", "0", "D_"]


def _expr(children):
    return st.one_of(
        st.tuples(
            children, st.sampled_from([" ", " * ", " + ", " - ", " .* ", " @ "]), children
        ).map("".join),
        st.tuples(st.sampled_from(FUNCS), children).map(lambda t: f"{t[0]}({t[1]})"),
        children.map(lambda e: f"({e})"),
        children.map(lambda e: f"-{e}"),
        st.tuples(children, st.sampled_from(ODD)).map("".join),
        st.tuples(children, st.sampled_from(["^T", "'", "^2", "^(-1)", "^0.5", "^-2", "^3"])).map(
            "".join
        ),
    )


ATOMS = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(["2", "0.5", "1e3", "0", "3.", ".5"]),
    st.text(alphabet="xW(+)-'^;=\n é0", max_size=3),
)
EXPRS = st.recursive(ATOMS, _expr, max_leaves=12)


@st.composite
def programs(draw):
    lines = []
    for k in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(["y", "m", "z", "L"])) if k else "y"
        lines.append(f"{target} = {draw(EXPRS)}")
    text = draw(st.sampled_from(["\n", "; "])).join(lines)
    shapes = {
        name: draw(st.sampled_from(SHAPES))
        for name in draw(st.lists(st.sampled_from(NAMES), max_size=6, unique=True))
    }
    wrt = draw(st.sampled_from([*shapes, "x"]))
    return text, wrt, shapes


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs())
def test_derive_returns_or_raises_derivtex_error(program):
    text, wrt, shapes = program
    with contextlib.suppress(derivtex.DerivtexError):
        derive(text, wrt, shapes, steps=False, timeout=5)
