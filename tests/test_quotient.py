"""Softmax's worked quotient rule: every form it states, checked against sympy's own diff of an
explicit softmax at a concrete size, and its matrix form against finite differences."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy
from checks import central_differences
from click.testing import CliRunner

import derivtex
from derivtex.cli import main
from derivtex.derivation import steps as S
from derivtex.tex.runner import tex_available

SIZE = 4  # the explicit size the stated forms are checked at
CROSS_ENTROPY = ("L = -sum(t .* log(softmax(W x)))", "W", {"W": "C x D", "x": "D", "t": "C"})
REQUESTS = {
    "softmax": ("p = softmax(z)", "z", {"z": "C"}),
    "softmax-row": ("p = softmax(z)", "z", {"z": "1 x C"}),
    "softmax-of-a-layer": ("p = softmax(W x)", "x", {"W": "C x D", "x": "D"}),
    "cross-entropy": CROSS_ENTROPY,
    "cross-entropy-denominator": CROSS_ENTROPY,
}


def derive(name: str) -> derivtex.Derivation:
    text, wrt, shapes = REQUESTS[name]
    layout = "denominator" if name.endswith("denominator") else "numerator"
    return derivtex.derive(text, wrt, shapes, layout=layout)


def quotient_steps(d: derivtex.Derivation) -> list[S.QuotientRule]:
    found = [s for s in d.steps if isinstance(s, S.QuotientRule)]
    found += [s.cases for s in d.steps if isinstance(s, S.LocalDerivative) and s.cases]
    return found


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_softmax_is_worked_by_the_quotient_rule_once(name: str) -> None:
    assert len(quotient_steps(derive(name))) == 1


def test_where_the_step_goes() -> None:
    kinds = [s.kind for s in derive("softmax").steps]
    assert kinds[:2] == ["component_formula", "quotient_rule"]
    assert "jacobian_assembly" in kinds
    (local,) = [
        s for s in derive("softmax-of-a-layer").steps if s.kind == "local_derivative" and s.cases
    ]
    assert sympy.expand(local.rhs - local.cases.rhs) == 0  # what it cites: both cases at once
    assert local.cases.matrix_rhs is not None  # in a chain it also states the matrix


def test_other_derivations_have_no_quotient_step() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"})
    assert not quotient_steps(d)
    assert all(s.cases is None for s in d.steps if isinstance(s, S.LocalDerivative))


# -- every stated form, at a concrete size -------------------------------------------------------
def _explicit(q: S.QuotientRule):
    """The names of the step (z[k], p[k], s) as an explicit softmax of SIZE symbols."""
    p_i = q.formula_lhs
    (i,) = p_i.indices
    z_j = q.denominator_partial[0].variables[0]
    (j,) = z_j.indices
    zs = sympy.symbols(f"z1:{SIZE + 1}")
    total = sum(sympy.exp(v) for v in zs)
    softmax = [sympy.exp(v) / total for v in zs]
    s_name, _ = q.denominator

    def concrete(expr: sympy.Basic, a: int, b: int) -> sympy.Expr:
        sizes = {x: SIZE for x in expr.free_symbols if x.name in ("C", "D")}
        expr = expr.xreplace({i: a, j: b, **sizes})
        expr = expr.replace(lambda e: isinstance(e, sympy.Sum), lambda e: e.doit())
        expr = expr.replace(
            lambda e: isinstance(e, sympy.Indexed),
            lambda e: (zs if e.base == z_j.base else softmax)[int(e.indices[0]) - 1],
        )
        expr = expr.xreplace({s_name: total})
        return expr.doit()

    return concrete, zs, softmax, total


def _equal(a: sympy.Expr, b: sympy.Expr, zs: tuple) -> bool:
    rng = np.random.default_rng(5)
    for _ in range(3):
        values = (sympy.Rational(int(v), 1000) for v in rng.integers(-2000, 2000, len(zs)))
        point = dict(zip(zs, values, strict=True))  # exact: the check is at 30 digits
        if abs(complex(sympy.N((a - b).xreplace(point), 30))) > 1e-20:
            return False
    return True


def _pairs(condition: sympy.Basic) -> list[tuple[int, int]]:
    same = isinstance(condition, sympy.Eq)
    return [(a, b) for a in range(1, SIZE + 1) for b in range(1, SIZE + 1) if (a == b) == same]


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_stated_form_is_sympys_own_derivative(name: str) -> None:
    (q,) = quotient_steps(derive(name))
    concrete, zs, softmax, total = _explicit(q)
    assert _equal(concrete(q.denominator[1], 1, 1), total, zs)
    for a in range(1, SIZE + 1):
        assert _equal(concrete(q.formula_rhs, a, 1), softmax[a - 1], zs)
        for b in range(1, SIZE + 1):
            want = sympy.diff(softmax[a - 1], zs[b - 1])  # sympy's diff, not derivtex's
            assert _equal(concrete(q.rule_rhs, a, b), want, zs)
            assert _equal(concrete(q.rhs, a, b), want, zs)
            assert _equal(concrete(q.lhs, a, b), want, zs)
            dsum = concrete(q.denominator_partial[1], a, b)
            assert _equal(dsum, sympy.diff(total, zs[b - 1]), zs)
    assert [type(c) for c in q.conditions] == [sympy.Eq, sympy.Ne]
    for condition, forms in zip(q.conditions, q.cases, strict=True):
        assert len(forms) >= 3
        for a, b in _pairs(condition):
            want = sympy.diff(softmax[a - 1], zs[b - 1])
            for form in forms:
                assert _equal(concrete(form, a, b), want, zs), (condition, form)


def test_the_cases_end_in_the_textbook_values() -> None:
    (q,) = quotient_steps(derive("softmax"))
    p = q.formula_lhs.base
    i, j = q.formula_lhs.indices[0], q.denominator_partial[0].variables[0].indices[0]
    same, other = (forms[-1] for forms in q.cases)
    assert sympy.expand(same - p[i] * (1 - p[i])) == 0
    assert sympy.expand(other + p[i] * p[j]) == 0


# -- the matrix form, against finite differences ---------------------------------------------------
def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


@pytest.mark.parametrize("size", [3, 6, 11])
def test_the_stated_matrix_form_agrees_with_finite_differences(size: int) -> None:
    (q,) = quotient_steps(derive("softmax-of-a-layer"))
    (p,) = q.matrix_rhs.atoms(sympy.MatrixSymbol)
    z = np.random.default_rng(size).normal(size=size)
    explicit = q.matrix_rhs.xreplace({p: sympy.ImmutableMatrix(_softmax(z))})
    value = np.asarray(sympy.Matrix(explicit.doit()).evalf(), dtype=float)
    jac = central_differences(lambda v: _softmax(v["z"]), {"z": z}, "z")
    assert np.allclose(value, jac, atol=1e-7)


# -- on the page -----------------------------------------------------------------------------------
@pytest.mark.tex
@pytest.mark.skipif(
    not (tex_available() and shutil.which("pdftotext")), reason="needs TeX and pdftotext"
)
def test_the_cases_are_on_the_page(tmp_path: Path) -> None:
    args = ["derive", "p = softmax(W x)", "--wrt", "x", "-s", "W=C x D", "-s", "x=D"]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path), "--name", "softmax"])
    assert result.exit_code == 0, result.output
    text = subprocess.run(
        ("pdftotext", str(tmp_path / "softmax.pdf"), "-"), capture_output=True, text=True
    ).stdout
    flat = " ".join(text.split())
    assert "the quotient rule gives" in flat
    assert re.search(r"For (\w) = (\w):", flat)  # and the other case, i != k
    assert flat.count("For ") >= 2
    assert "Both cases at once" in flat and "diag" in flat
