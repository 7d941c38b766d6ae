"""Printed math means what the sympy expression means: read back by an independent reader.

tests/latexreader.py parses the printer's LaTeX the way a reader would (refusing what could be
read two ways) and evaluates it; here it is compared at random points with a direct numeric
evaluation of the sympy expression, over generated expressions and every example's results.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

import derivtex
from derivtex.calculus.mexpr import Norm, Scalar, SumOf
from derivtex.language.functions import relu, sigmoid, sigmoid_prime, softplus
from derivtex.rendering.printer import Notation, name_latex, notation, to_latex
from tests.latexreader import Ambiguous, read

EXAMPLES = Path(__file__).parent.parent / "examples"

# --- a direct numeric evaluation of derivtex's sympy objects (no printing involved) ---------


def _np_sigmoid(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


NUMPY = {
    "sigmoid": _np_sigmoid,
    "sigmoid_prime": lambda u: _np_sigmoid(u) * (1.0 - _np_sigmoid(u)),
    "relu": lambda u: np.maximum(u, 0.0),
    "relu_prime": lambda u: (np.asarray(u) > 0).astype(float),
    "softplus": lambda u: np.log1p(np.exp(u)),
}


def value(expr: sympy.Basic, env: dict[str, object], sizes: dict[sympy.Basic, int]):
    """expr evaluated with numpy; env maps tensor names to values, sizes size symbols to ints."""
    v = functools.partial(value, env=env, sizes=sizes)
    shape = tuple(int(sympy.sympify(d).subs(sizes)) for d in getattr(expr, "shape", ()))
    match expr:
        case sympy.MatrixSymbol() | sympy.Symbol():
            return env[expr.name]
        case sympy.Identity():
            return np.eye(shape[0])
        case sympy.OneMatrix():
            return np.ones(shape)
        case sympy.ZeroMatrix():
            return np.zeros(shape)
        case sympy.MatAdd() | sympy.Add():
            return functools.reduce(lambda a, b: a + b, map(v, expr.args))
        case sympy.MatMul() | sympy.Mul():
            return functools.reduce(_times, map(v, expr.args))
        case sympy.HadamardProduct():
            return functools.reduce(lambda a, b: a * b, map(v, expr.args))
        case sympy.Transpose():
            return np.transpose(v(expr.arg))
        case DiagMatrix():
            return np.diagflat(v(expr.args[0]))
        case sympy.Trace():
            return float(np.trace(v(expr.arg)))
        case sympy.Pow() | sympy.HadamardPower():
            return np.power(v(expr.base), v(expr.exp))
        case Scalar():
            return float(np.asarray(v(expr.matrix)).reshape(()))
        case Norm():
            return float(np.sqrt(np.sum(np.square(v(expr.matrix)))))
        case SumOf():
            return float(np.sum(v(expr.matrix)))
        case ElementwiseApplyFunction():
            return _lambdified(expr.function)(v(expr.expr))
        case sympy.Function():
            args = sympy.symbols(f"a:{len(expr.args)}")
            f = sympy.lambdify(args, expr.func(*args), [NUMPY, "numpy"])
            return f(*map(v, expr.args))
        case _ if expr.is_Number:
            return float(expr)
    raise TypeError(f"cannot evaluate {sympy.srepr(expr)}")


@functools.cache
def _lambdified(function: sympy.Lambda):
    return sympy.lambdify(function.variables, function.expr, [NUMPY, "numpy"])


def _times(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    return a @ b


def same(printed: str, expr: sympy.Basic, env: dict, sizes: dict, reader_env: dict) -> None:
    expected = value(expr, env, sizes)
    try:
        got = read(printed, reader_env)
    except Ambiguous as exc:
        pytest.fail(f"{printed!r} cannot be read back: {exc}")
    if np.shape(got) == (1, 1) and np.ndim(expected) == 0:
        got = got[0, 0]  # a^T x is a 1 x 1 matrix to the reader, a scalar to derivtex
    assert np.shape(got) == np.shape(expected), printed
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, err_msg=printed)


# --- generated expressions ----------------------------------------------------------------

A, B = sympy.MatrixSymbol("A", 3, 3), sympy.MatrixSymbol("B", 3, 3)
W = sympy.MatrixSymbol("W", 2, 3)
x, y = sympy.MatrixSymbol("x", 3, 1), sympy.MatrixSymbol("y", 3, 1)
v = sympy.MatrixSymbol("v", 2, 1)
s, t = sympy.Symbol("s"), sympy.Symbol("t")
KINDS = (("A", "matrix"), ("B", "matrix"), ("W", "matrix"), ("x", "vector"), ("y", "vector"))
KINDS += (("v", "vector"), ("s", "scalar"), ("t", "scalar"))
NOTE = Notation(KINDS)
u = sympy.Dummy("u")
BODIES = (
    sympy.tanh(u),
    sigmoid(u),
    sigmoid_prime(u),
    1 - sympy.tanh(u) ** 2,
    sympy.exp(u),
    u**2,
    sigmoid(u) * (1 - sigmoid(u)),
    softplus(u),
    relu(u),
    sympy.cos(u) ** 2,
    2 * sympy.sin(u),
)
LEAVES = {
    (3, 3): (A, B, sympy.Identity(3)),
    (3, 1): (x, y),
    (2, 1): (v,),
    (2, 3): (W,),
    (1, 1): (s, t),
}


def _neg(e: sympy.Basic) -> sympy.Basic:
    return sympy.MatMul(-1, e) if isinstance(e, sympy.MatrixExpr) else -e


def exprs(shape: tuple[int, int], depth: int) -> st.SearchStrategy:
    """Random expressions of one shape ((1, 1) means a scalar), at most depth operations deep."""
    leaves = st.sampled_from(LEAVES[shape])
    if depth == 0:
        return leaves
    same_ = exprs(shape, depth - 1)
    options = [leaves, st.builds(sympy.Add if shape == (1, 1) else sympy.MatAdd, same_, same_)]
    options.append(st.builds(lambda a, b: _add(a, _neg(b)), same_, same_))
    options.append(st.builds(_neg, same_))
    scalar = exprs((1, 1), depth - 1)
    if shape == (1, 1):
        options += _scalars(depth)
    else:
        options.append(st.builds(sympy.HadamardProduct, same_, same_))
        options.append(
            st.builds(
                lambda b, a: ElementwiseApplyFunction(sympy.Lambda(u, b), a),
                st.sampled_from(BODIES),
                same_,
            )
        )
        options.append(st.builds(lambda c, a: sympy.MatMul(c, a), scalar, same_))
        options.append(
            st.builds(lambda c, a: sympy.MatMul(c, a), st.integers(-3, 3).filter(bool), same_)
        )
        options += _products(shape, depth)
    return st.one_of(options)


def _add(a, b):
    return sympy.MatAdd(a, b) if isinstance(a, sympy.MatrixExpr) else a + b


def _products(shape: tuple[int, int], depth: int) -> list[st.SearchStrategy]:
    rows, cols = shape
    inner = [(3, 3), (3, 1)] if rows == 3 else [(2, 3)]
    out = []
    for left in inner:
        if (left[1], cols) in LEAVES:
            out.append(
                st.builds(sympy.MatMul, exprs(left, depth - 1), exprs((left[1], cols), depth - 1))
            )
    if shape == (3, 3):
        out.append(st.builds(lambda a: DiagMatrix(a), exprs((3, 1), depth - 1)))
        out.append(st.builds(sympy.Transpose, exprs((3, 3), depth - 1)))
        out.append(
            st.builds(
                lambda a, b: sympy.MatMul(a, sympy.Transpose(b)),
                exprs((3, 1), depth - 1),
                exprs((3, 1), depth - 1),
            )
        )
    if shape == (3, 1):
        out.append(
            st.builds(
                lambda a, b: sympy.MatMul(sympy.Transpose(a), b),
                exprs((2, 3), depth - 1),
                exprs((2, 1), depth - 1),
            )
        )
    return out


def _scalars(depth: int) -> list[st.SearchStrategy]:
    scalar, vec, mat = exprs((1, 1), depth - 1), exprs((3, 1), depth - 1), exprs((3, 3), depth - 1)
    return [
        st.builds(lambda a, b: a * b, scalar, scalar),
        st.builds(lambda a: a**2, scalar),
        st.builds(lambda a: sympy.tanh(a), scalar),
        st.builds(lambda a: sigmoid(a), scalar),
        st.builds(lambda a, b: Scalar(sympy.MatMul(sympy.Transpose(a), b)), vec, vec),
        st.builds(lambda a: Norm(a) ** 2, st.one_of(vec, mat)),
        st.builds(Norm, st.one_of(vec, mat)),
        st.builds(sympy.Trace, mat),
        st.builds(SumOf, vec),
    ]


RNG = np.random.default_rng(11)
ENV = {
    "A": RNG.normal(size=(3, 3)),
    "B": RNG.normal(size=(3, 3)),
    "W": RNG.normal(size=(2, 3)),
    "x": RNG.normal(size=(3, 1)),
    "y": RNG.normal(size=(3, 1)),
    "v": RNG.normal(size=(2, 1)),
    "s": 0.7,
    "t": -1.3,
}
READER_ENV = {name_latex(n, k): ENV[n] for n, k in KINDS} | {r"\mathbf{I}": np.eye(3)}


# No shrinking: a failure prints the LaTeX and the expression, which is enough to reproduce it.
@settings(
    max_examples=200,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(sorted(LEAVES)).flatmap(lambda shape: exprs(shape, 3)))
def test_generated_expressions_read_back(expr: sympy.Basic) -> None:
    with np.errstate(over="ignore"):
        expected = value(expr, ENV, {})
    if not np.all(np.isfinite(expected)) or np.max(np.abs(expected)) > 1e8:
        return
    same(to_latex(expr, NOTE), expr, ENV, {}, READER_ENV)


# --- every example's statements and results -------------------------------------------------


def _example_derivations() -> list[tuple[str, dict]]:
    found = []
    # The reader knows the operators of these; ml-losses and course use newer ones (HadamardPower,
    # SoftmaxOf) that it and value() must learn first.
    for spec in (EXAMPLES / f"{stem}.toml" for stem in ("reference", "neural-network", "stress")):
        for n, d in enumerate(tomllib.loads(spec.read_text())["derivation"]):
            found.append((f"{spec.stem}-{d.get('name', n)}", d))
    return found


@pytest.mark.parametrize(
    ("name", "spec"), _example_derivations(), ids=lambda p: p if isinstance(p, str) else ""
)
def test_example_math_reads_back(name: str, spec: dict) -> None:
    d = derivtex.derive(
        spec["given"], wrt=spec["wrt"], shapes=spec["shapes"], of=spec.get("of"), steps=False
    )
    rng = np.random.default_rng(3)
    sizes, env, reader_env = {}, {}, {}
    note = notation(d.graph)
    for n, shape in d.graph.inputs:
        for dim in (shape.rows, shape.cols):
            if isinstance(dim, sympy.Symbol):
                sizes.setdefault(dim, 3 + len(sizes))
        dims = tuple(int(sympy.sympify(dim).subs(sizes)) for dim in (shape.rows, shape.cols))
        env[n] = 0.5 if shape.is_scalar else rng.normal(size=dims) * 0.5
        reader_env[name_latex(n, note.kind(n) or "scalar")] = env[n]
    from derivtex.rendering.document import _statements

    for lhs, rhs in _statements(d):  # each statement defines a name the next ones use
        same(to_latex(rhs, note), rhs, env, sizes, reader_env)
        env[lhs.name] = value(rhs, env, sizes)
        reader_env[name_latex(lhs.name, note.kind(lhs.name) or "scalar")] = env[lhs.name]
    if d.has_matrix_form:
        same(to_latex(d.result, note), d.result, env, sizes, reader_env)


@pytest.mark.parametrize(
    ("printed", "reason"),
    [
        (r"A \vec{x} \odot \vec{y}", "juxtaposition and"),
        (r"\left\|A\right\|", "subscript F"),
        (r"\tanh A", "without parentheses"),
    ],
)
def test_the_reader_refuses_ambiguity(printed: str, reason: str) -> None:
    with pytest.raises(Ambiguous, match=reason):
        read(printed, READER_ENV)
