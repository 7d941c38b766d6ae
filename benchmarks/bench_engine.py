"""Time derivtex.derive (the result alone: no steps, no verification) beside sympy's matrix diff.

Prints, in one run:
  1. the reference examples and the identities: median derivtex time, median time of sympy's own
     matrix-level `.diff` on the same expression (n/a where sympy cannot express or differentiate
     it), their ratio; warm (sympy's cache kept) and cold (cache cleared before every call);
  2. cost against the size of the dimensions: symbolic (C, D, H) vs integer sizes 2 and 200;
  3. cost against chain length for y = W_L ... W_2 W_1 x, L = 1, 2, 4, ..., 32: time and time / L;
  4. issue 13 (inv, det, logdet, matrix powers): each tool's derivative against central
     differences at D = 3, N = 4, naming where sympy's .diff is wrong, a silent zero or fails.
Targets printed beside the figures: each reference example under 10 ms warm, the two-layer network
under 50 ms warm.

    PYTHONPATH=. python benchmarks/bench_engine.py [--repeats 7] [--quick] [--issue13]
"""

from __future__ import annotations

import argparse
import inspect
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy
from sympy import (
    Determinant,
    HadamardPower,
    HadamardProduct,
    Identity,
    Lambda,
    MatrixSymbol,
    OneMatrix,
    Trace,
)
from sympy.core.cache import clear_cache

import derivtex
from derivtex.language.functions import sigmoid

REFERENCE_MS = 10.0
NETWORK_MS = 50.0
_RESULT_ONLY = {"steps": False} if "steps" in inspect.signature(derivtex.derive).parameters else {}


# -- sympy's side: the same expressions as MatrixSymbol expressions -------------------------------
def dims(text: str) -> tuple[sympy.Expr, ...]:
    parts = [p for p in re.split(r"\s*x\s*", text.strip()) if p]
    out = tuple(
        sympy.Integer(int(p)) if p.isdigit() else sympy.Symbol(p, positive=True, integer=True)
        for p in parts
    )
    return (*out, sympy.Integer(1)) if len(out) == 1 else out


def symbols(shapes: dict[str, str]) -> dict[str, sympy.Basic]:
    """A MatrixSymbol per declared input ("D" is D x 1), a Symbol for a scalar."""
    out: dict[str, sympy.Basic] = {}
    for name, shape in shapes.items():
        rows, cols = dims(shape)
        out[name] = sympy.Symbol(name) if rows == cols == 1 else MatrixSymbol(name, rows, cols)
    return out


def elementwise(f: Callable, arg: sympy.MatrixExpr) -> sympy.MatrixExpr:
    u = sympy.Dummy("u")
    return arg.applyfunc(Lambda(u, f(u)))


def norm2(r: sympy.MatrixExpr) -> sympy.Expr:
    return (r.T * r)[0, 0]


Builder = Callable[[dict[str, sympy.Basic]], sympy.Basic]


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    shapes: dict[str, str]
    wrt: str
    sympy_expr: Builder | None  # None: sympy has no matrix-level form of it
    target_ms: float | None = None


WX = {"W": "C x D", "x": "D"}
WXT = {"W": "C x D", "x": "D", "t": "C"}
WXB = {"W": "C x D", "x": "D", "b": "C"}
ROW = {"x": "1 x D", "W": "D x C"}
QUAD = {"A": "D x D", "x": "D"}
VEC = {"x": "D"}
XZ = {"x": "D", "z": "D"}
SX = {"s": "1", "x": "D"}
AXB = {"A": "C x D", "X": "D x E", "B": "E x C"}
CHAIN = {"V": "N x M", "W": "M x D", "x": "D"}
NET = {"W1": "H x D", "x": "D", "b1": "H", "W2": "C x H", "b2": "C", "t": "C"}
NET_L = "h = sigmoid(W1 x + b1); y = W2 h + b2; L = norm(y - t)^2"


def net_loss(s: dict) -> sympy.Expr:
    h = elementwise(sigmoid, s["W1"] * s["x"] + s["b1"])
    return norm2(s["W2"] * h + s["b2"] - s["t"])


# -- issue 12: division, elementwise powers, broadcasting, softmax and friends ---------------------
def ones_sum(m: sympy.MatrixExpr) -> sympy.Expr:
    rows, cols = m.shape
    return (OneMatrix(1, rows) * m * OneMatrix(cols, 1))[0, 0]


def sympy_softmax(z: sympy.MatrixExpr) -> sympy.MatrixExpr:
    e = elementwise(sympy.exp, z)
    return e / ones_sum(e)


XWT = {"X": "N x D", "w": "D", "t": "N"}
XWY = {"X": "N x D", "w": "D", "y": "N"}
BATCH = {"X": "N x D", "W": "D x C", "b": "C"}
BATCH_L = "L = sum(tanh(X W + 1 b^T))"
N_ = sympy.Symbol("N", positive=True, integer=True)


def batch_loss(s: dict) -> sympy.Expr:
    ones = OneMatrix(s["X"].shape[0], 1)
    return ones_sum(elementwise(sympy.tanh, s["X"] * s["W"] + ones * s["b"].T))


def logistic(s: dict) -> sympy.Expr:
    margin = HadamardProduct(s["t"], s["X"] * s["w"])
    return ones_sum(
        elementwise(sympy.log, OneMatrix(*s["t"].shape) + elementwise(sympy.exp, -margin))
    )


ISSUE_12 = [
    Case("x / norm(x)", "y = x / norm(x)", VEC, "x", lambda s: s["x"] / sympy.sqrt(norm2(s["x"]))),
    Case("norm(Wx - t)^2 / 2 wrt W", "L = norm(W x - t)^2 / 2", WXT, "W",
         lambda s: norm2(s["W"] * s["x"] - s["t"]) / 2),
    Case("1 / norm(x)", "L = 1 / norm(x)", VEC, "x", lambda s: 1 / sympy.sqrt(norm2(s["x"]))),
    Case("x ./ z wrt z", "y = x ./ z", XZ, "z",
         lambda s: HadamardProduct(s["x"], HadamardPower(s["z"], -1))),
    Case("x.^3", "y = x.^3", VEC, "x", lambda s: HadamardPower(s["x"], 3)),
    Case("sum(x.^2)", "L = sum(x.^2)", VEC, "x", lambda s: ones_sum(HadamardPower(s["x"], 2))),
    Case("MSE sum((Xw - y).^2) / N", "L = sum((X w - y).^2) / N", XWY, "w",
         lambda s: ones_sum(HadamardPower(s["X"] * s["w"] - s["y"], 2)) / N_),
    Case("logistic loss wrt w", "L = sum(log(1 + exp(-t .* (X w))))", XWT, "w", logistic),
    Case("softmax CE wrt W", "L = -sum(t .* log(softmax(W x)))", WXT, "W",
         lambda s: -(s["t"].T * elementwise(sympy.log, sympy_softmax(s["W"] * s["x"])))[0, 0]),
    Case("softmax(z)", "p = softmax(z)", {"z": "C"}, "z", lambda s: sympy_softmax(s["z"])),
    Case("logsumexp(W x)", "s = logsumexp(W x)", WX, "x",
         lambda s: sympy.log(ones_sum(elementwise(sympy.exp, s["W"] * s["x"])))),
    Case("batch + 1 b^T wrt W", BATCH_L, BATCH, "W", batch_loss),
    Case("batch + 1 b^T wrt b", BATCH_L, BATCH, "b", batch_loss),
    Case("arctan(W x)", "y = arctan(W x)", WX, "x",
         lambda s: elementwise(sympy.atan, s["W"] * s["x"])),
    Case("abs(x)", "y = abs(x)", VEC, "x", None),
    Case("mean(X)", "L = mean(X)", {"X": "N x D"}, "X",
         lambda s: ones_sum(s["X"]) / (s["X"].shape[0] * s["X"].shape[1])),
    Case("(I_D + A) x", "y = (I_D + A) x", QUAD, "x",
         lambda s: (Identity(s["x"].shape[0]) + s["A"]) * s["x"]),
]  # fmt: skip


# -- issue 13: inverses, determinants, log-determinants, matrix powers ---------------------------
SQ = {"X": "D x D"}
SQA = {"X": "D x D", "A": "D x D"}
XA = {"x": "D", "A": "D x D"}
GAUSS = {"P": "D x D", "x": "D", "m": "D"}
GAUSS_L = "r = x - m; L = 0.5 logdet(P) - 0.5 r^T P r"


def gaussian(s: dict) -> sympy.Expr:
    r = s["x"] - s["m"]
    # Trace of the 1 x 1 product: sympy 1.14 differentiates (r^T P r)[0, 0] to a silent 0.
    return sympy.log(Determinant(s["P"])) / 2 - Trace(r.T * s["P"] * r) / 2


ISSUE_13 = [
    Case("tr(inv(X) A)", "y = tr(inv(X) A)", SQA, "X", lambda s: Trace(s["X"].I * s["A"])),
    Case("det(X)", "y = det(X)", SQ, "X", lambda s: Determinant(s["X"])),
    Case("logdet(X)", "y = logdet(X)", SQ, "X", lambda s: sympy.log(Determinant(s["X"]))),
    Case("log(det(X))", "y = log(det(X))", SQ, "X", lambda s: sympy.log(Determinant(s["X"]))),
    Case("exp(tr(X))", "y = exp(tr(X))", SQ, "X", lambda s: sympy.exp(Trace(s["X"]))),
    Case("x^T inv(A) x wrt A", "y = x^T inv(A) x", XA, "A",
         lambda s: Trace(s["x"].T * s["A"].I * s["x"])),
    Case("x^T inv(A) x, sympy [0, 0]", "y = x^T inv(A) x", XA, "A",
         lambda s: (s["x"].T * s["A"].I * s["x"])[0, 0]),
    Case("logdet(X^T X)", "y = logdet(X^T X)", {"X": "N x D"}, "X",
         lambda s: sympy.log(Determinant(s["X"].T * s["X"]))),
    Case("tr(X^3)", "y = tr(X^3)", SQ, "X", lambda s: Trace(s["X"] * s["X"] * s["X"])),
    Case("tr(X^-2 A)", "y = tr(X^-2 A)", SQA, "X", lambda s: Trace(s["X"] ** -2 * s["A"])),
    Case("Gaussian wrt P", GAUSS_L, GAUSS, "P", gaussian),
    Case("Gaussian wrt m", GAUSS_L, GAUSS, "m", gaussian),
    Case("inv(X) wrt X", "Y = inv(X)", SQ, "X", lambda s: s["X"].I),
]  # fmt: skip


R = REFERENCE_MS
CASES = [
    Case("ref 1: y = W x", "y = W x", WX, "x", lambda s: s["W"] * s["x"], R),
    Case("ref 2: y = x W", "y = x W", ROW, "x", lambda s: s["x"] * s["W"], R),
    Case("ref 3: y = x W wrt W", "y = x W", ROW, "W", lambda s: s["x"] * s["W"], R),
    Case("ref 3: y = W x wrt W", "y = W x", WX, "W", lambda s: s["W"] * s["x"], R),
    Case("ref 4: Y = X W wrt X", "Y = X W", {"X": "N x D", "W": "D x C"}, "X",
         lambda s: s["X"] * s["W"], R),
    Case("ref 5: y = V W x", "y = V W x", CHAIN, "x", lambda s: s["V"] * s["W"] * s["x"], R),
    Case("ref 5: m = W x; y = V m", "m = W x; y = V m", CHAIN, "x",
         lambda s: s["V"] * (s["W"] * s["x"]), R),
    Case("a^T x", "L = a^T x", {"a": "D", "x": "D"}, "x", lambda s: (s["a"].T * s["x"])[0, 0]),
    Case("x^T A x", "L = x^T A x", QUAD, "x", lambda s: (s["x"].T * s["A"] * s["x"])[0, 0]),
    Case("0.5 x^T A x", "L = 0.5 x^T A x", QUAD, "x",
         lambda s: sympy.Rational(1, 2) * (s["x"].T * s["A"] * s["x"])[0, 0]),
    Case("a^T X b wrt X", "L = a^T X b", {"a": "C", "X": "C x D", "b": "D"}, "X",
         lambda s: (s["a"].T * s["X"] * s["b"])[0, 0]),
    Case("tr(A X B) wrt X", "L = tr(A X B)", AXB, "X",
         lambda s: Trace(s["A"] * s["X"] * s["B"])),
    Case("tr(X^T X)", "L = tr(X^T X)", {"X": "C x D"}, "X", lambda s: Trace(s["X"].T * s["X"])),
    Case("A X B wrt X", "Y = A X B", {"A": "C x D", "X": "D x E", "B": "E x F"}, "X",
         lambda s: s["A"] * s["X"] * s["B"]),
    Case("A B C x wrt B", "y = A B C x", {"A": "P x Q", "B": "Q x R", "C": "R x S", "x": "S"},
         "B", lambda s: s["A"] * s["B"] * s["C"] * s["x"]),
    Case("norm(Wx - t)^2 wrt W", "L = norm(W x - t)^2", WXT, "W",
         lambda s: norm2(s["W"] * s["x"] - s["t"])),
    Case("norm(Wx - t)^2 wrt x", "L = norm(W x - t)^2", WXT, "x",
         lambda s: norm2(s["W"] * s["x"] - s["t"])),
    Case("norm(x)", "L = norm(x)", VEC, "x", lambda s: sympy.sqrt(norm2(s["x"]))),
    Case("sigmoid(Wx + b) wrt x", "y = sigmoid(W x + b)", WXB, "x",
         lambda s: elementwise(sigmoid, s["W"] * s["x"] + s["b"])),
    Case("sigmoid(Wx + b) wrt b", "y = sigmoid(W x + b)", WXB, "b",
         lambda s: elementwise(sigmoid, s["W"] * s["x"] + s["b"])),
    Case("tanh(W x) wrt W", "y = tanh(W x)", WX, "W",
         lambda s: elementwise(sympy.tanh, s["W"] * s["x"])),
    Case("exp(x)", "y = exp(x)", VEC, "x", lambda s: elementwise(sympy.exp, s["x"])),
    Case("log(x)", "y = log(x)", VEC, "x", lambda s: elementwise(sympy.log, s["x"])),
    Case("sqrt(x)", "y = sqrt(x)", VEC, "x", lambda s: elementwise(sympy.sqrt, s["x"])),
    Case("sin(x)", "y = sin(x)", VEC, "x", lambda s: elementwise(sympy.sin, s["x"])),
    Case("cos(x)", "y = cos(x)", VEC, "x", lambda s: elementwise(sympy.cos, s["x"])),
    Case("relu(W x)", "y = relu(W x)", WX, "x", None),
    Case("softplus(x)", "y = softplus(x)", VEC, "x", None),
    Case("x .* z", "y = x .* z", XZ, "x", lambda s: HadamardProduct(s["x"], s["z"])),
    Case("sum(x)", "L = sum(x)", VEC, "x",
         lambda s: (OneMatrix(1, s["x"].shape[0]) * s["x"])[0, 0]),
    Case("2 W x", "y = 2 W x", WX, "x", lambda s: 2 * s["W"] * s["x"]),
    Case("-W x", "y = -W x", WX, "x", lambda s: -s["W"] * s["x"]),
    Case("A^T x", "y = A^T x", {"A": "D x C", "x": "D"}, "x", lambda s: s["A"].T * s["x"]),
    Case("s x wrt s", "y = s x", SX, "s", lambda s: s["s"] * s["x"]),
    Case("s x wrt x", "y = s x", SX, "x", lambda s: s["s"] * Identity(s["x"].shape[0]) * s["x"]),
    Case("s^2", "L = s^2", {"s": "1"}, "s", lambda s: s["s"] ** 2),
    Case("row x W wrt W", "y = x W", ROW, "W", lambda s: s["x"] * s["W"]),
    Case("batch X W wrt W", "Y = X W", {"X": "N x D", "W": "D x C"}, "W",
         lambda s: s["X"] * s["W"]),
    Case("net loss wrt W1", NET_L, NET, "W1", net_loss, NETWORK_MS),
    Case("net loss wrt W2", NET_L, NET, "W2", net_loss, NETWORK_MS),
    Case("net loss wrt b1", NET_L, NET, "b1", net_loss, NETWORK_MS),
    *ISSUE_12,
    *ISSUE_13,
]  # fmt: skip


# -- timing ----------------------------------------------------------------------------------------
def median_seconds(fn: Callable[[], object], repeats: int, cold: bool = False) -> float:
    """Median seconds per call over `repeats` rounds, after a warm-up call."""

    def call() -> None:
        if cold:
            clear_cache()
        fn()

    call()
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    number = max(1, min(200, int(0.05 / max(once, 1e-7))))
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def derivtex_call(text: str, shapes: dict[str, str], wrt: str) -> Callable[[], object]:
    return lambda: derivtex.derive(text, wrt=wrt, shapes=shapes, **_RESULT_ONLY).result


def sympy_call(case: Case) -> Callable[[], object] | None:
    """sympy's .diff on the same expression, or None where sympy fails on it."""
    if case.sympy_expr is None:
        return None
    syms = symbols(case.shapes)
    build = case.sympy_expr

    def run() -> sympy.Basic:
        return build(syms).diff(syms[case.wrt])

    try:
        run()
    except Exception:  # noqa: BLE001 - any failure means sympy cannot do it
        return None
    return run


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:9.3f}"


def ratio(a: float, b: float | None) -> str:
    return "n/a" if b is None else f"{a / b:7.2f}"


# -- the three reports ----------------------------------------------------------------------------
def report_cases(repeats: int) -> None:
    print("1. derive (result only) vs sympy MatrixExpr.diff; medians in ms")
    head = f"{'case':28} {'derivtex':>9} {'sympy':>9} {'ratio':>7}"
    print(f"{head} | {'cold dtx':>9} {'cold sym':>9} {'ratio':>7} | target")
    warm_ratios, cold_ratios = [], []
    for case in CASES:
        ours = derivtex_call(case.text, case.shapes, case.wrt)
        theirs = sympy_call(case)
        t_ours, c_ours = median_seconds(ours, repeats), median_seconds(ours, repeats, cold=True)
        t_sym = c_sym = None
        if theirs is not None:
            t_sym, c_sym = median_seconds(theirs, repeats), median_seconds(theirs, repeats, True)
            warm_ratios.append(t_ours / t_sym)
            cold_ratios.append(c_ours / c_sym)
        target = ""
        if case.target_ms is not None:
            ok = t_ours * 1e3 < case.target_ms
            target = f"< {case.target_ms:g} ms warm: {'ok' if ok else 'MISSED'}"
        print(
            f"{case.name:28} {ms(t_ours)} {ms(t_sym)} {ratio(t_ours, t_sym)} | "
            f"{ms(c_ours)} {ms(c_sym)} {ratio(c_ours, c_sym)} | {target}"
        )
    geo = lambda xs: statistics.geometric_mean(xs) if xs else float("nan")  # noqa: E731
    print(
        f"geometric mean derivtex/sympy over {len(warm_ratios)} cases sympy can do: "
        f"warm {geo(warm_ratios):.2f}, cold {geo(cold_ratios):.2f}"
    )


SIZE_CASES = [
    ("y = W x wrt x", "y = W x", {"W": "C x D", "x": "D"}, "x"),
    ("norm(Wx - t)^2 wrt W", "L = norm(W x - t)^2", WXT, "W"),
    ("net loss wrt W1", NET_L, NET, "W1"),
]


def with_sizes(
    shapes: dict[str, str], size: int | None, each: dict[str, int] | None = None
) -> dict[str, str]:
    """Every symbolic size set to `size` (None: kept), or each to its own value in `each`."""
    if size is None and each is None:
        return shapes
    parts = {k: re.split(r"\s*x\s*", v.strip()) for k, v in shapes.items()}
    value = lambda p: str(each[p]) if each is not None else str(size)  # noqa: E731
    return {k: " x ".join(p if p.isdigit() else value(p) for p in ps) for k, ps in parts.items()}


def report_sizes(repeats: int) -> None:
    print("\n2. cost against the size of the dimensions (warm medians, ms)")
    print(f"{'case':28} {'symbolic':>9} {'all = 2':>9} {'all = 200':>9} {'200/symb':>9}")
    for name, text, shapes, wrt in SIZE_CASES:
        times = [
            median_seconds(derivtex_call(text, with_sizes(shapes, size), wrt), repeats)
            for size in (None, 2, 200)
        ]
        print(f"{name:28} {ms(times[0])} {ms(times[1])} {ms(times[2])} {times[2] / times[0]:9.2f}")


def chain(length: int) -> tuple[str, dict[str, str]]:
    shapes = {f"W{i}": f"D{i} x D{i - 1}" for i in range(1, length + 1)}
    shapes["x"] = "D0"
    return "y = " + " ".join(f"W{i}" for i in range(length, 0, -1)) + " x", shapes


def report_chain(repeats: int, lengths: tuple[int, ...]) -> None:
    print("\n3. chain length: y = W_L ... W_2 W_1 x (warm medians, ms)")
    print(f"{'L':>3} {'wrt x':>9} {'/ L':>9} {'wrt W1':>9} {'/ L':>9}")
    for length in lengths:
        text, shapes = chain(length)
        rounds = max(3, repeats // 2) if length >= 16 else repeats
        by_x = median_seconds(derivtex_call(text, shapes, "x"), rounds)
        by_w = median_seconds(derivtex_call(text, shapes, "W1"), rounds)
        print(f"{length:3} {ms(by_x)} {ms(by_x / length)} {ms(by_w)} {ms(by_w / length)}")


# -- correctness: both tools against finite differences of the expression's own value ------------
EXPLICIT = {"D": 3, "N": 4}


def _explicit_values(shapes: dict[str, str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Values at D = 3, N = 4; square matrices diagonally dominant (det > 0, well conditioned)."""
    out = {}
    for name, shape in shapes.items():
        size = tuple(EXPLICIT[p] for p in re.split(r"\s*x\s*", shape.strip()))
        value = rng.normal(0, 0.5, size + (1,) if len(size) == 1 else size)
        if value.shape[0] == value.shape[1]:
            value = value + np.diag(np.abs(value).sum(axis=1) + 1)
        out[name] = value
    return out


def _sympy_value(expr: sympy.Basic, syms: dict, values: dict) -> np.ndarray:
    mapping = {syms[k]: sympy.ImmutableMatrix(v) for k, v in values.items()}
    value = sympy.N(expr.subs(mapping).doit())
    if isinstance(value, sympy.MatrixBase):
        return np.array(value.tolist(), dtype=float).reshape(-1)
    return np.array([float(value)])


def _fd(case: Case, syms: dict, values: dict, h: float = 1e-6) -> np.ndarray:
    """d value / d wrt by central differences of sympy's own value of the expression."""
    expr, base = case.sympy_expr(syms), values[case.wrt]  # type: ignore[misc]
    out = np.zeros(base.shape)
    for pos in np.ndindex(base.shape):
        step = np.zeros(base.shape)
        step[pos] = h
        plus = _sympy_value(expr, syms, {**values, case.wrt: base + step})
        minus = _sympy_value(expr, syms, {**values, case.wrt: base - step})
        out[pos] = float((plus - minus)[0]) / (2 * h)
    return out


def sympy_verdict(case: Case, values: dict, fd: np.ndarray) -> str:
    """What sympy's MatrixExpr.diff gives: right, transposed, a silent zero, wrong, or nothing."""
    syms = symbols(with_sizes(case.shapes, None, EXPLICIT))
    try:
        got = case.sympy_expr(syms).diff(syms[case.wrt])  # type: ignore[misc]
    except Exception as error:  # noqa: BLE001 - what sympy raises is the finding
        return f"fails ({type(error).__name__})"
    if got.has(sympy.Derivative):
        return "unevaluated Derivative"
    if got == 0 or getattr(got, "is_ZeroMatrix", False):
        return "silent zero: WRONG" if np.abs(fd).max() > 1e-6 else "zero (right)"
    try:
        arr = _sympy_value(got, syms, values).reshape(fd.shape)
    except Exception as error:  # noqa: BLE001
        return f"cannot evaluate ({type(error).__name__})"
    if np.allclose(arr, fd, atol=1e-5):
        return "right"
    return "transposed" if np.allclose(arr.T, fd, atol=1e-5) else "WRONG"


def derivtex_verdict(case: Case, values: dict, fd: np.ndarray) -> str:
    shapes = with_sizes(case.shapes, None, EXPLICIT)
    d = derivtex.derive(case.text, wrt=case.wrt, shapes=shapes)
    flat = {k: v.reshape(-1) if case.shapes[k].strip().isalpha() else v for k, v in values.items()}
    got = np.asarray(d.derivative.evaluate(flat)).reshape(fd.shape)
    return "right (verified)" if np.allclose(got, fd, atol=1e-5) else "WRONG"


def report_correctness() -> None:
    print("\n4. issue 13 correctness at D = 3, N = 4: each tool against central differences")
    print(f"{'case':28} {'derivtex':18} sympy MatrixExpr.diff")
    rng = np.random.default_rng(13)
    for case in ISSUE_13:
        syms = symbols(with_sizes(case.shapes, None, EXPLICIT))
        values = _explicit_values(case.shapes, rng)
        if isinstance(case.sympy_expr(syms), sympy.MatrixExpr):  # type: ignore[misc]
            print(f"{case.name:28} {'(array: see tests)':18} {sympy_call(case) and 'an array'}")
            continue
        fd = _fd(case, syms, values)
        print(
            f"{case.name:28} {derivtex_verdict(case, values, fd):18} "
            f"{sympy_verdict(case, values, fd)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats, chains up to L = 16")
    parser.add_argument("--issue12", action="store_true", help="only the issue 12 cases (part 1)")
    parser.add_argument(
        "--issue13", action="store_true", help="only the issue 13 cases, and their correctness"
    )
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    lengths = (1, 2, 4, 8, 16) if args.quick else (1, 2, 4, 8, 16, 32)
    mode = "derive(..., steps=False).result" if _RESULT_ONLY else "derive(...).result"
    print(f"derivtex {derivtex.__version__}, sympy {sympy.__version__}; timing {mode}")
    print("cold: sympy's cache cleared before every call (both tools use sympy)\n")
    if args.issue12 or args.issue13:
        global CASES  # noqa: PLW0603 - a command-line filter on the table
        CASES = ISSUE_12 if args.issue12 else ISSUE_13
        report_cases(repeats)
        if args.issue13:
            report_correctness()
        return
    report_cases(repeats)
    report_sizes(repeats)
    report_chain(repeats, lengths)
    report_correctness()


if __name__ == "__main__":
    main()
