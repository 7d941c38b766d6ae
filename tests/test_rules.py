"""The worked rules for an inverse and a determinant: every line holds, evaluated independently.

Each line is evaluated with numpy at a random well-conditioned matrix: entries of X and of its
inverse from numpy.linalg, the partials of the inverse by central differences of numpy.linalg.inv,
cofactors from minors. Nothing here calls derivtex's own evaluation.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy

import derivtex
from derivtex.calculus import mexpr
from derivtex.derivation.stepmath import SumExcept

N = 3
RNG = np.random.default_rng(11)
X_VALUE = RNG.normal(size=(N, N)) + N * np.eye(N)
Q_VALUE = np.linalg.inv(X_VALUE)


def _inverse_partials(x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dQ[a, b] / dX[c, e] by central differences of numpy's inverse."""
    out = np.zeros((N, N, N, N))
    for c, e in itertools.product(range(N), range(N)):
        step = np.zeros((N, N))
        step[c, e] = h
        out[:, :, c, e] = (np.linalg.inv(x + step) - np.linalg.inv(x - step)) / (2 * h)
    return out


def _cofactor(x: np.ndarray, a: int, b: int) -> float:
    minor = np.delete(np.delete(x, a, axis=0), b, axis=1)
    return float((-1) ** (a + b) * np.linalg.det(minor))


DQ = _inverse_partials(X_VALUE)


def value(e: sympy.Basic, names: dict[str, str]) -> float:
    """e at X_VALUE, with `names` telling which IndexedBase is X, the inverse and the cofactors."""
    rec = lambda f: value(f, names)  # noqa: E731
    if isinstance(e, sympy.Sum):
        (var, lo, hi), *rest = e.limits
        inner = sympy.Sum(e.function, *rest) if rest else e.function
        return sum(
            rec(inner.xreplace({var: sympy.Integer(t)})) for t in range(int(lo), int(hi) + 1)
        )
    if isinstance(e, SumExcept):
        (keys, skip, sizes), *_ = e.limits
        total = 0.0
        for t in range(1, int(sizes[0]) + 1):
            if t != int(skip[0]):
                total += rec(e.function.xreplace({keys[0]: sympy.Integer(t)}))
        return total
    if isinstance(e, sympy.Derivative):
        top, (by, _) = e.expr, e.variable_count[0]
        c, f = (int(t) - 1 for t in by.indices)
        if isinstance(top, sympy.Indexed) and names[str(top.base)] == "X":
            return float(tuple(int(t) - 1 for t in top.indices) == (c, f))
        if isinstance(top, sympy.Indexed):  # an entry of the inverse
            a, b = (int(t) - 1 for t in top.indices)
            return float(DQ[a, b, c, f])
        if isinstance(top, mexpr.LogDet):  # d log det X / dX_{c,f}, by central differences
            step = np.zeros((N, N))
            step[c, f] = 1e-6
            plus, minus = np.linalg.slogdet(X_VALUE + step)[1], np.linalg.slogdet(X_VALUE - step)[1]
            return float((plus - minus) / 2e-6)
        step = np.zeros((N, N))  # det X
        step[c, f] = 1e-6
        return float((np.linalg.det(X_VALUE + step) - np.linalg.det(X_VALUE - step)) / 2e-6)
    if isinstance(e, sympy.Indexed):
        a, b = (int(t) - 1 for t in e.indices)
        kind = names[str(e.base)]
        return {"X": X_VALUE, "Q": Q_VALUE}[kind][a, b] if kind != "C" else _cofactor(X_VALUE, a, b)
    if isinstance(e, sympy.Determinant):
        return float(np.linalg.det(X_VALUE))
    if isinstance(e, sympy.KroneckerDelta):
        return float(int(e.args[0]) == int(e.args[1]))
    if isinstance(e, sympy.Add):
        return sum(rec(a) for a in e.args)
    if isinstance(e, sympy.Mul):
        return float(np.prod([rec(a) for a in e.args]))
    if isinstance(e, sympy.Pow):  # xreplace may merge Q_{1,1} Q_{1,1} into a square
        return rec(e.base) ** float(e.exp)
    return float(e)


def _rule(text: str, kind: str):
    d = derivtex.derive(text, "X", {"X": "D x D", "A": "D x D"})
    found = [s for s in d.steps if s.kind == "worked_rule" and s.rule == kind]
    assert len(found) == 1, [s.kind for s in d.steps]
    return d, found[0]


def _check_every_line(rule, names: dict[str, str]) -> None:
    size = sympy.Symbol("D", positive=True, integer=True)
    for n, (lhs, rhs) in enumerate(rule.lines):
        both = sympy.Tuple(lhs, rhs)
        bound = {lim[0] for s in both.atoms(sympy.Sum) for lim in s.limits}
        bound |= {k for s in both.atoms(SumExcept) for lim in s.limits for k in lim[0]}
        syms = {s for s in both.atoms(sympy.Symbol) if s.is_integer and s != size}
        free = sorted(syms - bound, key=str)
        for point in itertools.product(range(1, N + 1), repeat=len(free)):
            at = dict(zip(free, map(sympy.Integer, point), strict=True))
            where = {size: sympy.Integer(N), **at}
            got = value(lhs.xreplace(where), names), value(rhs.xreplace(where), names)
            assert got[0] == pytest.approx(got[1], abs=1e-6), (n, point)


def test_the_inverse_rule_holds_line_by_line() -> None:
    d, rule = _rule("L = tr(inv(X) A)", "inverse")
    assert len(rule.lines) == len(rule.reasons) == 6
    inverse = next(s.name for s in d.derivative.graph.definitions if s.auto)
    _check_every_line(rule, {"X": "X", inverse: "Q"})


@pytest.mark.parametrize("text", ["L = det(X)", "L = log(det(X))", "L = logdet(X)"])
def test_the_determinant_rule_holds_line_by_line(text: str) -> None:
    d, rule = _rule(text, "determinant")
    cofactor = str(
        next(iter(rule.lines[0][1].function.atoms(sympy.IndexedBase) - {sympy.IndexedBase("X")}))
    )
    inverse = next(
        s.name for s in d.derivative.graph.definitions if "Inverse" in type(s.op).__name__
    )
    _check_every_line(rule, {"X": "X", inverse: "Q", cofactor: "C"})
    assert len(rule.lines) == (5 if "log" in text else 4)


def test_no_rule_without_an_inverse_or_a_determinant() -> None:
    d = derivtex.derive("L = tr(A X)", "X", {"X": "D x D", "A": "D x D"})
    assert "worked_rule" not in [s.kind for s in d.steps]


def test_a_cofactor_name_never_clashes_with_a_size() -> None:
    d = derivtex.derive("L = det(X)", "X", {"X": "C x C"})
    rule = next(s for s in d.steps if s.kind == "worked_rule")
    names = {str(b) for a, b in rule.lines for b in (a, b) for b in b.atoms(sympy.IndexedBase)}
    assert "C" not in names
