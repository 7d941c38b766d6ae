"""Random well-shaped expressions: derivtex's Jacobian against finite differences of numpy."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pytest
from checks import central_differences
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import derivtex
from derivtex.errors import UnsupportedError

Env = Mapping[str, np.ndarray]

# On a failure hypothesis imports libcst, which warns through mypy_extensions; with pyproject's
# filterwarnings = ["error"] that turned a failing example into a pytest INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

# Declared inputs: A, B are D x D; x, y are D; s is a scalar; P is D x D, near the identity, the
# matrix that is inverted (well conditioned, det P > 0: finite differences stay meaningful).
SHAPES = {"A": "D x D", "B": "D x D", "x": "D", "y": "D", "s": "1", "P": "D x D"}
# Kinds: M a D x D matrix (numpy (D, D)), V a column (D,), R a row 1 x D (1, D), S a scalar ().
KINDS = ("M", "V", "R", "S")


@dataclass(frozen=True)
class Expr:
    """Source text and the same expression as a numpy function of the inputs."""

    text: str
    fn: Callable[[Env], np.ndarray]


def sigmoid(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


BOUNDED = {"tanh": np.tanh, "sigmoid": sigmoid, "sin": np.sin}
FUNCS = {**BOUNDED, "exp": np.exp}
CONSTANTS = ("2", "0.5", "3")


def leaf(name: str) -> Expr:
    return Expr(name, lambda e: e[name])


def _logdet(p: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.slogdet(p)[1])


LEAVES = {
    "M": [
        leaf("A"),
        leaf("B"),
        Expr("inv(P)", lambda e: np.linalg.inv(e["P"])),
        Expr("(P^-1)", lambda e: np.linalg.inv(e["P"])),
        Expr("(A^2)", lambda e: e["A"] @ e["A"]),
    ],
    "V": [leaf("x"), leaf("y")],
    "R": [Expr("x^T", lambda e: e["x"][None, :]), Expr("y'", lambda e: e["y"][None, :])],
    "S": [
        leaf("s"),
        Expr("det(P)", lambda e: np.asarray(np.linalg.det(e["P"]))),
        Expr("logdet(P)", lambda e: _logdet(e["P"])),
    ],
}


# Every composite is wrapped in parentheses: `.*` and juxtaposition share one precedence level.
def transpose(a: Expr, kind: str, suffix: str) -> Expr:
    flip = {"M": lambda u: u.T, "V": lambda u: u[None, :], "R": lambda u: u.reshape(-1)}[kind]
    return Expr(f"(({a.text}){suffix})", lambda e: flip(a.fn(e)))


def binary(a: Expr, op: str, b: Expr, fn: Callable) -> Expr:
    return Expr(f"({a.text} {op} {b.text})", lambda e: fn(a.fn(e), b.fn(e)))


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A matrix product with derivtex's storage: a D-vector is a column, a D x 1 result (D,)."""
    a2, b2 = (u[:, None] if u.ndim == 1 else u for u in (a, b))
    out = a2 @ b2
    return out.reshape(()) if out.shape == (1, 1) else out[:, 0] if out.shape[1] == 1 else out


def product(a: Expr, op: str, b: Expr) -> Expr:
    """A matrix product written as `@`, `*` or juxtaposition."""
    return Expr(f"(({a.text}){op}({b.text}))", lambda e: matmul(a.fn(e), b.fn(e)))


def scaled(c: Expr, a: Expr) -> Expr:
    return Expr(f"(({c.text}) ({a.text}))", lambda e: c.fn(e) * a.fn(e))


def constant(value: str, a: Expr) -> Expr:
    return Expr(f"({value} ({a.text}))", lambda e: float(value) * a.fn(e))


def apply(func: str, a: Expr) -> Expr:
    return Expr(f"{func}({a.text})", lambda e: FUNCS[func](a.fn(e)))


def reduce(text: str, a: Expr, fn: Callable) -> Expr:
    return Expr(text.format(a.text), lambda e: fn(a.fn(e)))


@st.composite
def expr(draw: st.DrawFn, kind: str, depth: int, top: bool = False) -> Expr:
    """A random expression of the given kind, at most `depth` operations deep."""
    if depth == 0 or (not top and draw(st.integers(0, 2)) == 0):
        return draw(st.sampled_from(LEAVES[kind]))
    sub = lambda k: expr(k, depth - 1)  # noqa: E731
    product_op = st.sampled_from([" ", " @ ", " * "])
    same = [
        st.builds(binary, sub(kind), st.just("+"), sub(kind), st.just(np.add)),
        st.builds(binary, sub(kind), st.just("-"), sub(kind), st.just(np.subtract)),
        st.builds(constant, st.sampled_from(CONSTANTS), sub(kind)),
        st.builds(lambda a: Expr(f"(-({a.text}))", lambda e: -a.fn(e)), sub(kind)),
        st.builds(scaled, sub("S"), sub(kind)),
        st.builds(apply, st.sampled_from(sorted(BOUNDED)), sub(kind)),
        st.builds(apply, st.just("exp"), st.sampled_from(LEAVES[kind])),  # exp(exp(..)) overflows
    ]
    same += [  # issue 12: / by a scalar, ./, .^, scalar broadcasting
        st.builds(lambda a: Expr(f"(({a.text}).^2)", lambda e: a.fn(e) ** 2), sub(kind)),
        st.builds(
            lambda a: Expr(f"({a.text} / (1 + s^2))", lambda e: a.fn(e) / (1 + e["s"] ** 2)),
            sub(kind),
        ),
        st.builds(
            lambda a, b: Expr(
                f"({a.text} ./ (2 + sin({b.text})))", lambda e: a.fn(e) / (2 + np.sin(b.fn(e)))
            ),
            sub(kind),
            sub(kind),
        ),
    ]
    if kind == "M":  # a scalar, a row and a column added to every entry, row and column
        same += [
            st.builds(binary, sub("M"), st.just("+"), sub("S"), st.just(np.add)),
            st.builds(binary, sub("M"), st.just("-"), sub("R"), st.just(np.subtract)),
            st.builds(
                binary, sub("M"), st.just("+"), sub("V"), st.just(lambda a, b: a + b[:, None])
            ),
        ]
    if kind != "S":
        same += [
            st.builds(binary, sub(kind), st.just(".*"), sub(kind), st.just(np.multiply)),
            st.builds(
                lambda a, b: Expr(f"hadamard({a.text}, {b.text})", lambda e: a.fn(e) * b.fn(e)),
                sub(kind),
                sub(kind),
            ),
        ]
    suffixes = st.sampled_from(["^T", "'", ".T"])
    by_kind = {
        "M": [
            st.builds(product, sub("M"), product_op, sub("M")),
            st.builds(product, sub("V"), product_op, sub("R")),  # an outer product
            st.builds(transpose, sub("M"), st.just("M"), suffixes),
        ],
        "V": [
            st.builds(product, sub("M"), product_op, sub("V")),
            st.builds(transpose, sub("R"), st.just("R"), suffixes),
        ],
        "R": [
            st.builds(product, sub("R"), product_op, sub("M")),
            st.builds(transpose, sub("V"), st.just("V"), suffixes),
        ],
        "S": [
            st.builds(lambda a, b: product(a, " ", b), sub("R"), sub("V")),
            st.builds(reduce, st.just("sum({})"), sub("V"), st.just(np.sum)),
            st.builds(reduce, st.just("sum({})"), sub("M"), st.just(np.sum)),
            st.builds(reduce, st.just("tr({})"), sub("M"), st.just(np.trace)),
            st.builds(reduce, st.just("norm({})^2"), sub("V"), st.just(lambda u: np.sum(u**2))),
            st.builds(reduce, st.just("norm({})^2"), sub("M"), st.just(lambda u: np.sum(u**2))),
        ],
    }
    return draw(st.one_of(*same, *by_kind[kind]))


def inputs_in(text: str) -> list[str]:
    return sorted(set(re.findall(r"[A-Za-z_]\w*", text)) & set(SHAPES))


def values(sizes: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    dims = {"D x D": (sizes, sizes), "D": (sizes,), "1": ()}
    out = {name: rng.normal(0.0, 0.6, dims[shape]) for name, shape in SHAPES.items()}
    out["P"] = np.eye(sizes) + rng.normal(0.0, 0.15, (sizes, sizes))
    return out


def derive(text: str, wrt: str) -> derivtex.Derivation:
    try:
        return derivtex.derive(text, wrt=wrt, shapes=SHAPES)
    except UnsupportedError as err:
        # Known limits of sympy's matrix expressions that derive() reports as UnsupportedError
        # (a clear error, not a wrong result): a MatAdd of scalar and matrix heads, a MatMul with
        # repeated scalar factors. Skip them so the property keeps looking for wrong math.
        known = ("Mix of Matrix and Scalar symbols", "repeated commutative arguments")
        if not any(k in str(err) for k in known):
            raise
        reject()


@st.composite
def problems(draw: st.DrawFn) -> tuple[Expr, str]:
    kind = draw(st.sampled_from(KINDS))
    e = draw(expr(kind, 4, top=True))
    wrt = draw(st.sampled_from(inputs_in(e.text)))
    return e, wrt


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_evaluate_matches_finite_differences(problem: tuple[Expr, str], size: int, seed: int):
    e, wrt = problem
    d = derive(f"out = {e.text}", wrt)
    env = values(size, seed)
    got = d.evaluate(env)
    want = central_differences(e.fn, env, wrt)
    assert got.shape == want.shape, (e.text, wrt)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale, err_msg=e.text)
    try:
        assert d.result is not None
    except NotImplementedError as err:
        # Known bug, recorded in test_identities.py (test_bug_scalar_function_of_a_product):
        # an auto-named 1 x 1 product put back inside a scalar function.
        if "noncommutative scalars" not in str(err):
            raise
