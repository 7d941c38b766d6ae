"""The planner's steps: the five reference examples step for step, and every step's claim checked.

Each claim a step makes is recomputed here independently of derivtex: sums written out against
the summand and against explicit sums at concrete sizes (the terms hidden in the gaps and the
sums that leave values out, SumExcept, written out by the test itself), marked terms and
per-term partials with sympy.diff, local derivatives against finite differences of their own
component formula and of the intermediate's definition, chain-rule sums against finite
differences of every intermediate by the input, zero and nonzero entries, assembled grids and
matrix forms against finite differences of plain numpy forward functions, tensor patterns
against every entry of the evaluated derivative.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pytest
import sympy
from checks import central_differences, dim, idx
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import (
    Derivative,
    Indexed,
    IndexedBase,
    KroneckerDelta,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    Sum,
    Transpose,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

import derivtex
from derivtex.calculus import mexpr
from derivtex.cli import main as cli_main
from derivtex.derivation import steps as S
from derivtex.derivation.stepmath import Held, SumExcept  # read by the tests, never run
from derivtex.language import functions as F

Values = dict[str, np.ndarray]
Forward = Callable[[Values], np.ndarray]
SIZE = 8  # every symbolic dimension, in numeric checks: the default example y_3, W_{7,8} fits


# -- symbols -------------------------------------------------------------------------------------
C, D, M, N = map(dim, "CDMN")
i, j, k, l = map(idx, "ijkl")  # noqa: E741 - the reference's index names
V, W, X, Y, m, x, y = map(IndexedBase, ("V", "W", "X", "Y", "m", "x", "y"))
Fb, G = IndexedBase("F"), IndexedBase("G")


def partial(a: sympy.Basic, b: sympy.Basic) -> Derivative:
    return Derivative(a, b, evaluate=False)


# -- equality up to the names of summed indices ---------------------------------------------------
def canon(e: sympy.Basic, depth: int = 0) -> sympy.Basic:
    """Summed indices renamed by nesting depth; products and sums put in canonical order."""
    if isinstance(e, Sum):
        names = {
            lim[0]: sympy.Symbol(f"_s{depth}_{n}", integer=True) for n, lim in enumerate(e.limits)
        }
        body = canon(e.function.xreplace(names), depth + 1)
        return Sum(body, *((names[v], canon(a), canon(b)) for v, a, b in e.limits))
    if not e.args or isinstance(e, MatrixSymbol | IndexedBase):
        return e
    args = tuple(canon(a, depth) for a in e.args)
    if args == e.args and not isinstance(e, sympy.Mul | sympy.Add):
        return e
    return e.func(*args)


def _sum_except_written_out(e: SumExcept) -> sympy.Expr:
    """A sum that leaves out some index values, written out term by term (sizes concrete).

    The test's own reading of SumExcept's arguments, (function, (indices, left-out values,
    sizes), ...): every combination of values of each limit's indices but the left-out one.
    """
    function, limits = e.args[0], e.args[1:]
    choices = []
    for indices, values, sizes in limits:
        assert len(indices) == len(values) == len(sizes), e
        ranges = [range(1, int(s) + 1) for s in sizes]
        left_out = tuple(int(v) for v in values)
        choices.append([(tuple(indices), c) for c in itertools.product(*ranges) if c != left_out])
    total = sympy.Integer(0)
    for combo in itertools.product(*choices):
        mapping = {k: v for indices, c in combo for k, v in zip(indices, c, strict=True)}
        total += function.xreplace(mapping)
    return total


def explicit_sums(e: sympy.Basic) -> sympy.Basic:
    """Every Sum and every SumExcept written out (the sizes must be concrete already)."""
    while e.atoms(SumExcept):
        innermost = [a for a in e.atoms(SumExcept) if not a.args[0].atoms(SumExcept)]
        e = e.xreplace({a: _sum_except_written_out(a) for a in innermost})
    return e.replace(lambda a: isinstance(a, Sum), lambda a: a.doit())


def evaluated(e: sympy.Basic) -> sympy.Basic:
    """The expression rebuilt with evaluation: display products (1 x_7 W_{7,3}) made plain."""
    if not e.args or isinstance(e, MatrixSymbol | IndexedBase | Indexed):
        return e
    args = [evaluated(a) for a in e.args]
    if isinstance(e, sympy.MatAdd):  # a sum of matrices in a canonical order too
        args.sort(key=sympy.default_sort_key)
    return e.func(*args)


def concrete(e: sympy.Basic, n: int = 9) -> sympy.Basic:
    """Every symbolic size set to n and every sum written out."""
    e = evaluated(sympy.sympify(e))
    sizes = {s: n for s in e.free_symbols if s.is_positive and s.is_integer}
    return explicit_sums(e.xreplace(sizes))


def same(got: sympy.Basic | None, want: sympy.Basic | None) -> bool:
    """Equal up to the names of summed indices, or equal at concrete sizes and indices."""
    if got is None or want is None:
        return got is want
    if got == want or canon(got) == canon(want):
        return True
    if isinstance(got, MatrixExpr) or isinstance(want, MatrixExpr):
        return False
    if sympy.expand(concrete(got) - concrete(want)) == 0:
        return True
    free = sorted(
        {s for s in (got.free_symbols | want.free_symbols) if s.is_integer and not s.is_positive},
        key=str,
    )
    return all(
        sympy.expand(concrete(got.xreplace(at)) - concrete(want.xreplace(at))) == 0
        for at in (
            dict(zip(free, vs, strict=True)) for vs in itertools.product((1, 2), repeat=len(free))
        )
    )


def kinds(steps: tuple) -> list[str]:
    return [s.kind for s in steps]


def one(steps: tuple, kind: str):
    found = [s for s in steps if s.kind == kind]
    assert len(found) == 1, f"{kind}: {kinds(steps)}"
    return found[0]


# -- numbers: shapes, values, finite differences -------------------------------------------------
def parse_shape(text: str) -> tuple[str, str]:
    """(rows, cols) of a declared shape: "C x D", "D" (a column), "1 x D", "1"."""
    parts = [p.strip() for p in re.split(r"\s+x\s+", text.strip())]
    return (parts[0], "1") if len(parts) == 1 else (parts[0], parts[1])


def size_of(part: str, sizes: Mapping[str, int]) -> int:
    return int(part) if part.isdigit() else sizes[part]


def storage(text: str, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """How the user stores a value: "D" -> (D,), "1 x D" -> (1, D), "1" -> ()."""
    rows, cols = parse_shape(text)
    if rows == cols == "1":
        return ()
    if len(re.split(r"\s+x\s+", text.strip())) == 1:
        return (size_of(rows, sizes),)
    return (size_of(rows, sizes), size_of(cols, sizes))


def free_dims(text: str, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """The sizes of the axes that carry an index (axes of size 1 carry none)."""
    return tuple(size_of(p, sizes) for p in parse_shape(text) if p != "1")


def close(got, want, what: str, tol: float = 1e-5) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


def sig(u):
    return 1.0 / (1.0 + np.exp(-u))


# -- numbers: evaluating the steps' sympy math ---------------------------------------------------
def _value_of(atom: sympy.Basic, env: Mapping[str, np.ndarray]) -> float:
    if isinstance(atom, Indexed):
        arr = env[str(atom.base.label)]
        pos = [int(p) - 1 for p in atom.indices]
        return float(arr.reshape(-1)[pos[0]] if len(pos) == 1 else arr[pos[0], pos[1]])
    return float(env[atom.name].reshape(-1)[0])


def scalar_value(expr: sympy.Basic, env: Mapping[str, np.ndarray], sizes: Mapping) -> float:
    """A scalar expression (entries x[3], W[2, 7], sums, sigmoid, norms) as a number."""
    e = sympy.sympify(expr).xreplace(dict(sizes))
    e = e.replace(
        lambda a: isinstance(a, mexpr.Norm | mexpr.Scalar | mexpr.SumOf | sympy.Trace),
        lambda a: sympy.Float(_wrapped(a, env, sizes)),
    )
    e = explicit_sums(e)
    e = e.replace(F.sigmoid, lambda u: 1 / (1 + sympy.exp(-u)))
    e = e.replace(F.sigmoid_prime, lambda u: sympy.exp(-u) / (1 + sympy.exp(-u)) ** 2)
    e = e.replace(F.relu, lambda u: sympy.Max(u, 0))
    e = e.replace(F.relu_prime, lambda u: sympy.Piecewise((1, u > 0), (0, True)))
    e = e.replace(F.softplus, lambda u: sympy.log(1 + sympy.exp(u)))
    subs = {a: sympy.Float(_value_of(a, env)) for a in e.atoms(Indexed)}
    subs.update({s: sympy.Float(_value_of(s, env)) for s in e.free_symbols if s.name in env})
    return float(e.xreplace(subs))


def _wrapped(atom, env, sizes) -> float:
    if isinstance(atom, sympy.Trace):
        return float(np.trace(matrix_value(atom.arg, env, sizes)))
    inner = matrix_value(atom.args[0], env, sizes)
    if isinstance(atom, mexpr.Norm):
        return float(np.sqrt(np.sum(inner**2)))
    return float(np.sum(inner)) if isinstance(atom, mexpr.SumOf) else float(inner.reshape(-1)[0])


def matrix_value(expr: sympy.Basic, env: Mapping[str, np.ndarray], sizes: Mapping) -> np.ndarray:
    """A matrix expression as a 2-D array; a scalar as 1 x 1."""
    if not isinstance(expr, MatrixExpr):
        return np.full((1, 1), scalar_value(expr, env, sizes))
    val = lambda e: matrix_value(e, env, sizes)  # noqa: E731
    match expr:
        case MatrixSymbol():
            return env[expr.name]
        case Transpose():
            return val(expr.arg).T
        case MatMul():
            out = np.ones((1, 1))
            for a in expr.args:
                v = val(a)
                out = out * v if (v.shape == (1, 1) or out.shape == (1, 1)) else out @ v
            return out
        case sympy.MatAdd():
            return sum((val(a) for a in expr.args), np.zeros((1, 1)))
        case sympy.HadamardProduct():
            return np.prod([val(a) for a in expr.args], axis=0)
        case DiagMatrix():
            return np.diag(val(expr.args[0]).reshape(-1))
        case ElementwiseApplyFunction():
            f, (var,) = expr.function, expr.function.variables
            apply = lambda u: scalar_value(f.expr.xreplace({var: sympy.Float(u)}), {}, {})  # noqa: E731
            return np.vectorize(apply, otypes=[float])(val(expr.expr))
        case sympy.Identity():
            return np.eye(int(expr.rows.xreplace(dict(sizes))))
    raise TypeError(f"cannot evaluate {type(expr).__name__}: {expr}")


def entries_of(e: sympy.Basic) -> tuple[sympy.Basic, tuple]:
    """The tensor and the indices of one component: y[3] -> (y, (3,)), L -> (L, ())."""
    if isinstance(e, Indexed):
        return e.base, tuple(e.indices)
    return e, ()


def unheld(e: sympy.Basic) -> tuple[Derivative, tuple]:
    """A partial and the intermediates it holds fixed: Held(d y_i / d x_j, z) -> (.., (z,))."""
    if isinstance(e, Held):
        return e.args[0], tuple(e.args[1:])
    return e, ()


def derivative_parts(e: Derivative) -> tuple[sympy.Basic, sympy.Basic]:
    assert isinstance(e, Derivative), e
    ((var, count),) = e.variable_count
    assert count == 1
    return e.expr, var


# -- one planned derivation, with everything the checks need -----------------------------------
@dataclass
class Case:
    """A request, its forward function in numpy, and the derivation with its steps."""

    text: str
    shapes: Mapping[str, str]
    wrt: str
    forward: Forward
    out_shape: str  # the output's declared-style shape, e.g. "C", "1 x C", "N x C", "1"
    layout: str = "numerator"
    example: Mapping | None = None
    seed: int = 0
    named: Callable[[Values], Values] | None = None  # the request's own intermediates, in numpy

    @cached_property
    def d(self) -> derivtex.Derivation:
        return derivtex.derive(
            self.text, self.wrt, dict(self.shapes), layout=self.layout, example=self.example
        )

    @cached_property
    def steps(self) -> tuple:
        return self.d.steps

    @cached_property
    def sizes(self) -> dict[str, int]:
        names = {p for s in self.shapes.values() for p in parse_shape(s) if not p.isdigit()}
        return {n: SIZE for n in sorted(names)}

    @cached_property
    def dims(self) -> dict[sympy.Symbol, int]:
        return {dim(n): v for n, v in self.sizes.items()}

    @cached_property
    def values(self) -> Values:
        rng = np.random.default_rng(self.seed)
        return {n: rng.normal(0.0, 0.7, storage(s, self.sizes)) for n, s in self.shapes.items()}

    @cached_property
    def jacobian(self) -> np.ndarray:
        """d out / d wrt by finite differences of the numpy forward, axes = free indices."""
        jac = central_differences(self.forward, self.values, self.wrt)
        shape = free_dims(self.out_shape, self.sizes) + free_dims(self.shapes[self.wrt], self.sizes)
        return jac.reshape(shape)

    def definitions(self) -> list:
        """(name, matrix expression) of every intermediate a step names."""
        return _all_definitions(self)

    def env_for(self, values: Values) -> dict[str, np.ndarray]:
        """The inputs (as 2-D arrays) and every named intermediate computed from them."""
        env = {}
        for name, text in self.shapes.items():
            rows, cols = parse_shape(text)
            env[name] = np.asarray(values[name], dtype=float).reshape(
                size_of(rows, self.sizes), size_of(cols, self.sizes)
            )
        defined = {str(n.name) for n, _ in self.definitions()}
        for name, value in (self.named(values) if self.named else {}).items():
            if name not in defined:  # an intermediate no step defines, computed in numpy
                env[name] = np.asarray(value, dtype=float).reshape(-1, 1)
        pending = list(dict.fromkeys(self.definitions()))
        while pending:
            ready = [(n, e) for n, e in pending if _names(e) <= set(env)]
            assert ready, f"cannot evaluate the definitions {pending}"
            for name, expr in ready:
                env[str(name.name)] = matrix_value(expr, env, self.dims)
            pending = [p for p in pending if p not in ready]
        out = np.asarray(self.forward(values), dtype=float)
        env.setdefault(self.d.output, out.reshape(-1, 1) if out.ndim < 2 else out)
        return env

    @cached_property
    def env(self) -> dict[str, np.ndarray]:
        """Every input and every named intermediate the steps mention, as 2-D arrays."""
        env = self.env_for(self.values)
        # the request's own intermediates, computed in numpy, agree with the steps' definitions
        for name, value in (self.named(self.values) if self.named else {}).items():
            want = np.asarray(value, dtype=float).reshape(-1, 1)
            if name in env:
                close(env[name], want, f"the definition of {name}")
            env[name] = want
        return env

    def num(self, expr: sympy.Basic) -> float:
        return scalar_value(expr, self.env, self.dims)

    def jac_at(self, position: tuple) -> float:
        return float(self.jacobian[tuple(int(p) - 1 for p in position)])

    def arranged(self, layout: str | None = None) -> np.ndarray:
        """The Jacobian as the matrix form arranges it."""
        layout = layout or self.layout
        n_out, n_wrt = len(self.d.index.out_idx), len(self.d.index.wrt_idx)
        jac = self.jacobian
        if n_out == 1 and n_wrt == 1:
            return jac if layout == "numerator" else jac.T
        if n_out == 0 or n_wrt == 0:
            return jac
        raise AssertionError("no matrix arrangement")

    def index_at(self, expr: sympy.Basic, position: tuple) -> sympy.Basic:
        names = self.d.index.out_idx + self.d.index.wrt_idx
        return expr.xreplace(dict(zip(names, position, strict=True)))


def _names(expr: sympy.Basic) -> set[str]:
    """The tensors an expression reads (not its sizes)."""
    out = {s.name for s in expr.atoms(MatrixSymbol)}
    symbols = expr.free_symbols - set(expr.atoms(MatrixSymbol))
    return out | {s.name for s in symbols if isinstance(s, sympy.Symbol) and not s.is_positive}


def matrix_close(case: Case, expr: sympy.Basic, want: np.ndarray, what: str) -> None:
    got = matrix_value(expr, case.env, case.dims)
    close(got.reshape(want.shape) if got.size == want.size else got, want, what)


# -- the checks, one per step kind ---------------------------------------------------------------
def check_plan_shape(case: Case) -> None:
    names = kinds(case.steps)
    assert names, "no steps"
    assert names[0] == "component_formula" and names[-1] == "summary", names
    assert set(names) <= set(S.KINDS)
    singles = [n for n in names if n not in ("chain_rule", "local_derivative")]
    assert len(singles) == len(set(singles)), names
    # local derivatives come in front of the chain rule that uses them, the chain before the rest
    if "chain_rule" in names:
        first = names.index("local_derivative")
        last = len(names) - 1 - names[::-1].index("chain_rule")
        assert set(names[first : last + 1]) == {"local_derivative", "chain_rule"}, names


def check_component_formula(case: Case, out: tuple, wrt: tuple) -> None:
    f = one(case.steps, "component_formula")
    d = case.d
    assert f.lhs == (IndexedBase(d.output)[out] if out else sympy.Symbol(d.output))
    assert f.wrt_entry == (IndexedBase(d.wrt)[wrt] if wrt else sympy.Symbol(d.wrt))
    assert isinstance(f.justification, str) and f.justification
    # the formula holds: its value is the output's component, computed by the numpy forward
    want = np.asarray(case.forward(case.values)).reshape(free_dims(case.out_shape, case.sizes))
    got = case.num(f.rhs)
    close(got, want[tuple(p - 1 for p in out)], f"component formula {f.lhs} = {f.rhs}")


def _canon(expr: sympy.Basic) -> sympy.Basic:
    """A product rebuilt with evaluation, so factor order written for display does not matter."""
    return expr.func(*expr.args) if isinstance(expr, sympy.Mul) else expr


def _summand_values(total: Sum, terms: tuple, extra: tuple[int, ...]) -> list:
    """The value of the summed index each displayed term stands for."""
    v, lo, hi = total.limits[0]
    assert lo == 1
    candidates = [*range(1, 10), *extra, hi]
    found = []
    for term in terms:
        hits = [c for c in candidates if _canon(total.function.xreplace({v: c})) == _canon(term)]
        assert hits, f"{term} is not the summand {total.function} at any index value"
        found.append(hits[0])
    return found


def _order(v) -> float:
    v = sympy.sympify(v)
    return float(v) if v.is_Integer else float("inf")


EXPAND = 10  # the size at which written-out sums are checked: past every example index + 1


def _at_size(e: sympy.Basic) -> sympy.Basic:
    return sympy.expand(concrete(e, EXPAND))


def _summed_part(part: sympy.Expr) -> tuple[sympy.Expr, Sum] | None:
    """(coefficient, the sum) of a part that is one sum times constants: 2 sum_j r_j^2."""
    sums = [a for a in sympy.Mul.make_args(part) if isinstance(a, Sum)]
    if len(sums) != 1:
        return None
    coeff = sympy.Mul(*(a for a in sympy.Mul.make_args(part) if a is not sums[0]))
    return coeff, sums[0]


def _one_value(coeff: sympy.Expr, total: Sum, n_lim: int, v) -> sympy.Expr:
    """The part with one summed index set to v, the other indices still summed."""
    k = total.limits[n_lim][0]
    rest = tuple(lim for n, lim in enumerate(total.limits) if n != n_lim)
    body = total.function.xreplace({k: v})
    return coeff * (Sum(body, *rest) if rest else body)


def _enumerated_values(parts: list, terms: tuple, signs: tuple) -> dict[tuple, list[tuple]]:
    """Shown terms that are a sum's part at one value of one summed index.

    {(part, limit): [(position, value), ...]}: sum_k f(k) written f(1) + f(2) + ... + f(N).
    """
    found: dict[tuple, list[tuple]] = {}
    for pos, (term, sign) in enumerate(zip(terms, signs, strict=True)):
        if term.atoms(SumExcept):
            continue  # a region of a split sum, not one value of one index
        inner = _summed_part(term)
        n_inner = len(inner[1].limits) if inner else 0
        have, hit = None, None
        for n, part in enumerate(parts):
            split = _summed_part(part)
            if split is None or len(split[1].limits) != n_inner + 1:
                continue  # one value of one index leaves the other indices summed
            coeff, total = split
            have = _at_size(sign * term) if have is None else have
            for n_lim, (_, lo, hi) in enumerate(total.limits):
                assert lo == 1, total
                for v in [*range(1, EXPAND), hi]:
                    if _at_size(_one_value(coeff, total, n_lim, v)) == have:
                        hit = (n, n_lim), v
                        break
                if hit:
                    break
            if hit:
                break
        if hit:
            found.setdefault(hit[0], []).append((pos, hit[1]))
    return found


def check_expansion(
    lhs: sympy.Expr,
    rhs: sympy.Expr,
    wrt_entry: sympy.Expr,
    e: S.SumExpansion,
    p: S.TermPartial,
    example_rhs: sympy.Expr,
) -> None:
    """A component formula lhs = rhs written out (e) and differentiated term by term (p).

    At a concrete size: the shown terms and the terms hidden in the gaps add up to rhs; exactly
    the marked terms have a nonzero partial (sympy.diff of the explicit terms), the hidden ones
    none; the worked-out values are those partials, and their signed sum is the result.
    """
    assert e.lhs == lhs
    n = len(e.terms)
    assert n >= 1 and len(e.signs) == n and set(e.signs) <= {1, -1}, e
    assert all(0 <= g < n - 1 for g in e.gaps) and list(e.gaps) == sorted(set(e.gaps)), e.gaps
    # which terms stand for the summand of a single-index sum at one value, and which values
    parts = list(sympy.Add.make_args(rhs)) if isinstance(rhs, sympy.Add) else [rhs]
    split = any(t.atoms(SumExcept) for t in e.terms)  # regions of a split sum, no values
    enumerated = {} if split else _enumerated_values(parts, e.terms, e.signs)
    hidden: list[tuple[int, sympy.Expr]] = []  # (the gap's position, a term it hides)
    gaps: list[int] = []
    assert len({n_part for n_part, _ in enumerated}) == len(enumerated), enumerated
    for (n_part, n_lim), shown in enumerated.items():
        coeff, total = _summed_part(parts[n_part])
        _, _, hi = total.limits[n_lim]
        positions, values = [a for a, _ in shown], [v for _, v in shown]
        assert positions == list(range(positions[0], positions[-1] + 1)), shown
        assert values[0] == 1 and values[-1] == hi, (total, values)  # first and last shown
        order = [_order(v) for v in values]
        assert order == sorted(set(order)), values
        for q in range(len(values) - 1):
            if not sympy.sympify(values[q + 1]).is_Integer or order[q + 1] - order[q] > 1:
                gaps.append(positions[q])
        # the values a gap hides, at the concrete size
        top = int(sympy.sympify(hi).xreplace({s: EXPAND for s in sympy.sympify(hi).free_symbols}))
        seen = {top if v == hi else int(v) for v in values}
        for v in range(1, top + 1):
            if v not in seen:  # the gap it falls in: after the last shown value below it
                after = max(q for q, u in enumerate(values) if (top if u == hi else int(u)) < v)
                hidden.append((positions[after], _one_value(coeff, total, n_lim, v)))
    assert tuple(sorted(gaps)) == tuple(e.gaps), (e.terms, gaps, e.gaps)
    # the shown terms, with their signs, and the hidden ones are the formula
    written = sum((s * t for s, t in zip(e.signs, e.terms, strict=True)), sympy.Integer(0))
    assert _at_size(written + sympy.Add(*(t for _, t in hidden)) - rhs) == 0, (lhs, e.terms)
    # marked: exactly the terms whose partial is not zero; hidden terms have none
    diffs = [sympy.expand(sympy.diff(concrete(t, EXPAND), wrt_entry)) for t in e.terms]
    assert tuple(m for m, dt in enumerate(diffs) if dt != 0) == tuple(e.marked), (e.terms, diffs)
    assert e.marked, e.terms
    # a term the dots hide is a constant: "every unmarked term gives zero" holds for it too
    hidden_diffs = []
    for _gap, t in hidden:
        dt = sympy.expand(sympy.diff(concrete(t, EXPAND), wrt_entry))
        assert dt == 0, (t, e.terms)
        hidden_diffs.append(dt)
    # term by term
    assert p.lhs == partial(lhs, wrt_entry) and p.wrt_entry == wrt_entry
    assert (p.gaps, p.marked) == (e.gaps, e.marked)
    assert len(p.partials) == len(p.signs) == n
    for m in range(n):
        if m in e.marked:
            assert p.partials[m] == partial(e.terms[m], wrt_entry), p.partials[m]
            assert p.signs[m] == e.signs[m]
        else:
            assert p.partials[m] == 0, p.partials[m]
    assert len(p.values) == len(e.marked)
    for m, value in zip(e.marked, p.values, strict=True):
        assert _at_size(value - diffs[m]) == 0, (e.terms[m], value, diffs[m])
    assert p.rules and all(isinstance(r, str) and r for r in p.rules)
    assert len(p.rules) == len(set(p.rules))
    mine = sympy.Add(*(e.signs[m] * diffs[m] for m in e.marked), *hidden_diffs)
    assert _at_size(p.result - mine) == 0, (p.result, mine)
    assert same(p.result, example_rhs), (p.result, example_rhs)


def steps_on_data(e: sympy.Basic) -> bool:
    """Whether an entry's being zero depends on the data: relu'(z_3) W_{3,7}, 0 when z_3 < 0."""
    return bool(e.atoms(F.relu_prime))


def check_generalization(case: Case, out: tuple, wrt: tuple) -> None:
    g, d = one(case.steps, "generalization"), case.d
    assert g.lhs == partial(_entry(d.output, d.index.out_idx), _entry(d.wrt, d.index.wrt_idx))
    assert g.example_lhs == partial(_entry(d.output, out), _entry(d.wrt, wrt))
    assert same(g.rhs, d.index_result)
    assert same(g.example_rhs, case.index_at(g.rhs, out + wrt))
    close(case.num(g.example_rhs), case.jac_at(out + wrt), f"{g.example_lhs} = {g.example_rhs}")
    # never generalized from a zero entry
    assert g.example_rhs != 0 and not same(g.example_rhs, sympy.Integer(0)), g.example_rhs
    if not steps_on_data(g.example_rhs):
        assert case.jac_at(out + wrt) != 0, f"{g.example_lhs} is zero by finite differences"
    # the index form, evaluated by derivtex, is the Jacobian everywhere
    got = np.asarray(d.evaluate(case.values)).reshape(case.jacobian.shape)
    close(got, case.jacobian, "d.evaluate against finite differences")


def _entry(name: str, index: tuple) -> sympy.Basic:
    return IndexedBase(name)[index] if index else sympy.Symbol(name)


def _as_dim(part: str) -> sympy.Expr:
    return sympy.Integer(int(part)) if part.isdigit() else dim(part)


def _whole(case: Case, name: str) -> sympy.Basic:
    """A named tensor in matrix form: an input, the output, or an intermediate a step names."""
    if name == case.d.output:
        shape = case.out_shape
    elif name in case.shapes:
        shape = case.shapes[name]
    else:
        return next(a for a, _ in _all_definitions(case) if str(a.name) == name)
    rows, cols = parse_shape(shape)
    if rows == cols == "1":
        return sympy.Symbol(name)
    return MatrixSymbol(name, _as_dim(rows), _as_dim(cols))


def _all_definitions(case: Case) -> list:
    out = [pair for s in case.steps if s.kind == "component_formula" for pair in s.definitions]
    return out + [pair for s in case.steps if s.kind == "chain_rule" for pair in s.intermediates]


def _coordinates(case: Case, cell: Derivative) -> tuple[tuple, tuple, tuple]:
    """(out indices, wrt indices, (row, col) in the matrix form's arrangement) of one partial."""
    o, w = derivative_parts(cell)
    (ob, oi), (wb, wi) = entries_of(o), entries_of(w)
    assert str(ob) == case.d.output and str(wb) == case.d.wrt
    if oi and wi:
        assert len(oi) == len(wi) == 1
        rc = oi + wi if case.layout == "numerator" else wi + oi
    else:
        rc = oi + wi
    return oi, wi, rc


def _sized(position: tuple, case: Case) -> tuple:
    return tuple(int(sympy.sympify(p).xreplace(case.dims)) for p in position)


def _axis_values(values: list, size) -> None:
    """An axis of the grid: 1, 2, ..., its size, with None for the dots."""
    assert values[0] == 1 and values[-1] == size, (values, size)
    order = [_order(v) for v in values if v is not None]
    assert order == sorted(set(order)), values


def _word(text: str, name: str) -> int:
    found = re.search(rf"\b{re.escape(name)}\b", text)
    assert found, (name, text)
    return found.start()


def check_jacobian(case: Case) -> None:
    a, d = one(case.steps, "jacobian_assembly"), case.d
    assert a.lhs == partial(_whole(case, d.output), _whole(case, d.wrt))
    assert a.layout == case.layout and a.result == d.result
    rows_seen: dict[int, set] = {}
    cols_seen: dict[int, set] = {}
    for r, row in enumerate(a.partials):
        for c, cell in enumerate(row):
            if cell is None:
                assert a.entries is None or a.entries[r][c] is None
                continue
            oi, wi, rc = _coordinates(case, cell)
            assert len(rc) == 2, rc
            rows_seen.setdefault(r, set()).add(rc[0])
            cols_seen.setdefault(c, set()).add(rc[1])
            if a.entries is not None:
                value = a.entries[r][c]
                assert same(value, case.index_at(d.index_result, oi + wi)), (cell, value)
                close(case.num(value), case.jac_at(_sized(oi + wi, case)), f"{cell} = {value}")
    assert all(len(v) == 1 for v in (*rows_seen.values(), *cols_seen.values()))
    rows = [next(iter(rows_seen[r])) if r in rows_seen else None for r in range(len(a.partials))]
    cols = [next(iter(cols_seen[c])) if c in cols_seen else None for c in range(len(a.partials[0]))]
    assert isinstance(a.result, MatrixExpr)
    _axis_values(rows, a.result.shape[0])
    _axis_values(cols, a.result.shape[1])
    assert "row" in a.arrangement and "column" in a.arrangement
    if d.index.out_idx and d.index.wrt_idx:
        first, second = (d.output, d.wrt) if case.layout == "numerator" else (d.wrt, d.output)
        assert _word(a.arrangement, first) < _word(a.arrangement, second), a.arrangement
    matrix_close(case, a.result, case.arranged(), f"matrix form {a.result}")
    if a.other_layout is not None:
        other = "denominator" if case.layout == "numerator" else "numerator"
        matrix_close(case, a.other_layout, case.arranged(other), f"other layout {a.other_layout}")


def inside(position: tuple, shape: tuple) -> bool:
    """1-based indices that name an entry of an array of this shape."""
    return all(1 <= int(p) <= n for p, n in zip(position, shape, strict=True))


def check_tensor(case: Case) -> None:
    t, d = one(case.steps, "tensor_structure"), case.d
    f = one(case.steps, "component_formula")
    free = d.index.out_idx + d.index.wrt_idx
    assert len(free) >= 3
    assert t.definition_lhs == Fb[free]
    assert t.definition_rhs == partial(
        _entry(d.output, d.index.out_idx), _entry(d.wrt, d.index.wrt_idx)
    )
    # the zero entry: the output component does not involve that wrt component
    values = np.asarray(d.evaluate(case.values), dtype=float).reshape(case.jacobian.shape)
    if t.zero_lhs is not None:
        assert t.zero_lhs == partial(t.zero_out, t.zero_wrt)
        zo, zw = entries_of(t.zero_out)[1], entries_of(t.zero_wrt)[1]
        assert inside(zo + zw, values.shape)
        assert same(case.index_at(d.index_result, zo + zw), sympy.Integer(0))
        if t.zero_out == f.lhs and not f.definitions:
            assert t.zero_wrt not in concrete(f.rhs).atoms(Indexed)
        close(case.jac_at(zo + zw), 0.0, f"{t.zero_lhs} = 0")
    # the nonzero entry
    n_out, n_wrt = (entries_of(e)[1] for e in derivative_parts(t.nonzero_lhs))
    assert same(t.nonzero_rhs, case.index_at(d.index_result, n_out + n_wrt))
    if inside(n_out + n_wrt, values.shape):
        close(case.num(t.nonzero_rhs), case.jac_at(n_out + n_wrt), f"{t.nonzero_lhs}")
    # every entry of the evaluated derivative is where the pattern says, or zero
    assert isinstance(t.pattern_lhs, Indexed) and t.pattern_lhs.base == Fb
    axes = tuple(t.pattern_lhs.indices)
    assert len(axes) == len(free) and set(axes) <= set(free)
    kept = tuple(dict.fromkeys(axes))
    ranges = {s: values.shape[axes.index(s)] for s in kept}
    assert all(values.shape[n] == ranges[s] for n, s in enumerate(axes))
    compact = np.zeros(tuple(ranges[s] for s in kept))
    expected = np.zeros_like(values)
    for combo in np.ndindex(compact.shape):
        at = {s: v + 1 for s, v in zip(kept, combo, strict=True)}
        compact[combo] = case.num(t.pattern_rhs.xreplace(at))
        expected[tuple(at[s] - 1 for s in axes)] = compact[combo]
    close(values, expected, f"every entry of F against {t.pattern_lhs} = {t.pattern_rhs}")
    close(values, case.jacobian, "F against finite differences")
    if t.compact_lhs is None:
        assert t.compact_rhs is None and kept == free
    else:
        assert kept != free
        assert t.compact_lhs == G[kept] and t.compact_rhs == t.pattern_lhs


def check_batch_rows(case: Case) -> None:
    b, d = one(case.steps, "batch_rows"), case.d
    assert b.layout == case.layout
    out_e, wrt_e = derivative_parts(b.zero_lhs)
    (ob, (a1, b1)), (wb, (c1, d1)) = entries_of(out_e), entries_of(wrt_e)
    assert (str(ob), str(wb)) == (d.output, d.wrt) and len({a1, b1, c1, d1}) == 4
    values = np.asarray(d.evaluate(case.values), dtype=float).reshape(case.jacobian.shape)
    close(values, case.jacobian, "d.evaluate against finite differences")
    n_rows, n_cols, n_rows2, n_in = values.shape
    assert n_rows == n_rows2
    # zero unless the rows match
    off = ~np.eye(n_rows, dtype=bool)
    assert np.all(values.transpose(0, 2, 1, 3)[off] == 0)
    assert same(case.index_at(d.index_result, (1, 2, 2, 1)), sympy.Integer(0))
    # the shared partial, by meaning: d Y_{p,q} / d X_{p,r}, the same row p on both sides
    out_e, wrt_e = derivative_parts(b.shared_lhs)
    (_, (p, q)), (_, (p2, r)) = entries_of(out_e), entries_of(wrt_e)
    assert p == p2 and len({p, q, r}) == 3
    for row, col, inner in {(1, 1, 1), (2, 2, 1), (n_rows, n_cols, n_in), (n_rows, 1, 2)}:
        at = {p: row, q: col, r: inner}
        assert same(
            b.shared_rhs.xreplace(at), case.index_at(d.index_result, (row, col, row, inner))
        )
        close(
            case.num(b.shared_rhs.xreplace(at)),
            values[row - 1, col - 1, row - 1, inner - 1],
            f"{b.shared_lhs} = {b.shared_rhs} at {at}",
        )
    out_e, wrt_e = derivative_parts(b.row_lhs)
    (_, (p3, colon)), (_, (p4, colon2)) = entries_of(out_e), entries_of(wrt_e)
    assert p3 == p4 and str(colon) == str(colon2) == ":"
    block = values[0, :, 0, :]
    for row in range(1, n_rows):
        if p not in b.shared_rhs.free_symbols:
            close(values[row, :, row, :], block, "every row repeats the same block")
    if b.row_rhs is not None:
        want = block if case.layout == "numerator" else block.T
        matrix_close(case, b.row_rhs, want, f"row block {b.row_rhs}")


# -- finite differences of single entries ---------------------------------------------------------
H = 1e-6


def _position(env: Mapping[str, np.ndarray], e: sympy.Basic) -> tuple[str, tuple]:
    """Where one component (x[7], W[2, 3], L) sits in its 2-D array in env."""
    name, index = entries_of(e)
    name = str(name.label) if isinstance(name, IndexedBase) else str(name)
    arr = env[name]
    pos = tuple(int(p) - 1 for p in index)
    if len(pos) == 2:
        return name, pos
    if len(pos) == 1:
        return name, np.unravel_index(pos[0], arr.shape)
    return name, (0, 0)


def _nudged(env: Mapping[str, np.ndarray], e: sympy.Basic, h: float) -> dict:
    name, pos = _position(env, e)
    arr = np.array(env[name], dtype=float)
    arr[pos] += h
    return {**env, name: arr}


def fd_entry(f: Callable[[Mapping], float], env: Mapping, e: sympy.Basic) -> float:
    """d f / d (one component e of env) by central differences."""
    return (f(_nudged(env, e, H)) - f(_nudged(env, e, -H))) / (2 * H)


def _free_shape(arr: np.ndarray) -> tuple[int, ...]:
    return tuple(n for n in np.shape(arr) if n != 1)


def _corners(shape: tuple[int, ...], *extra: tuple) -> list[tuple]:
    """A few 1-based positions of an array: the first, the last, (2, 2, ...), and extra ones."""
    found = [tuple(1 for _ in shape), tuple(shape), tuple(min(2, n) for n in shape)]
    found += [tuple(int(v) for v in x) for x in extra if len(x) == len(shape) and inside(x, shape)]
    return list(dict.fromkeys(found))


def _value_at(case: Case, values: Values, name: str, position: tuple) -> float:
    """One component of the output or of an intermediate, computed from the inputs."""
    if name == case.d.output:
        out = np.asarray(case.forward(values), dtype=float)
        out = out.reshape(free_dims(case.out_shape, case.sizes))
    else:
        out = case.env_for(values)[name]
        out = out.reshape(_free_shape(out))
    return float(out[tuple(p - 1 for p in position)])


def jacobian_entry(case: Case, name: str, out: tuple, wrt: tuple) -> float:
    """d name[out] / d wrt[wrt] by central differences, wrt being the derivation's input."""
    if name == case.d.output:
        return case.jac_at(out + wrt)
    base = np.asarray(case.values[case.wrt], dtype=float)
    shape = free_dims(case.shapes[case.wrt], case.sizes)

    def moved(h: float) -> Values:
        arr = base.copy()
        arr.reshape(shape)[tuple(p - 1 for p in wrt)] += h
        return {**case.values, case.wrt: arr}

    return (_value_at(case, moved(H), name, out) - _value_at(case, moved(-H), name, out)) / (2 * H)


# -- local derivatives and the chain rule ----------------------------------------------------------
def _definition(case: Case, name: str) -> sympy.Basic | None:
    return next((e for n, e in case.definitions() if str(n.name) == name), None)


def _tensor_name(e: sympy.Basic) -> str:
    base = entries_of(e)[0]
    return str(base.label) if isinstance(base, IndexedBase) else str(base)


def check_local(case: Case, s: S.LocalDerivative) -> None:
    """d of / d by derived by the method; its index form against finite differences."""
    assert re.fullmatch(r"L\d+", s.label), s.label
    lhs, held = unheld(s.lhs)
    of_e, by_e = derivative_parts(lhs)
    of, by = _tensor_name(of_e), _tensor_name(by_e)
    of_idx, by_idx = entries_of(of_e)[1], entries_of(by_e)[1]
    assert len(set(of_idx + by_idx)) == len(of_idx + by_idx), s.lhs  # distinct index names
    assert _tensor_name(s.formula_lhs) == of and _tensor_name(s.wrt_entry) == by
    f_out, f_by = entries_of(s.formula_lhs)[1], entries_of(s.wrt_entry)[1]
    assert all(p.is_Integer for p in f_out + f_by), (s.formula_lhs, s.wrt_entry)
    # its component formula holds
    name, pos = _position(case.env, s.formula_lhs)
    close(case.num(s.formula_rhs), case.env[name][pos], f"{s.formula_lhs} = {s.formula_rhs}")
    if s.formula_cited:
        f = one(case.steps, "component_formula")
        assert f.lhs == s.formula_lhs and same(f.rhs, s.formula_rhs)
    # the worked entry is the general form at the example, and it is not zero
    # held intermediates (the other paths) are named, and not the one differentiated by
    assert all(str(h.name) != by and _definition(case, str(h.name)) is not None for h in held)
    example = partial(s.formula_lhs, s.wrt_entry)
    assert s.example_lhs == (Held(example, *held) if held else example), s.example_lhs
    at = dict(zip(of_idx + by_idx, f_out + f_by, strict=True))
    assert same(s.example_rhs, s.rhs.xreplace(at)), (s.example_rhs, s.rhs, at)

    def formula_value(env: Mapping) -> float:
        return scalar_value(s.formula_rhs, env, case.dims)

    fd = fd_entry(formula_value, case.env, s.wrt_entry)
    close(case.num(s.example_rhs), fd, f"{s.example_lhs} = {s.example_rhs}")
    assert s.example_rhs != 0 and (fd != 0 or steps_on_data(s.example_rhs)), s.example_lhs
    # written out and differentiated term by term
    if s.expansion is None:
        assert s.partial is None
    else:
        assert s.partial is not None
        check_expansion(
            s.formula_lhs, s.formula_rhs, s.wrt_entry, s.expansion, s.partial, s.example_rhs
        )
        close(case.num(s.partial.result), fd, f"{s.partial.lhs} = {s.partial.result}")
    # the index form at a few positions: finite differences of the local map `of` of `by`
    definition = _definition(case, of)
    by_base = entries_of(by_e)[0]
    by_shape = _free_shape(case.env[by])
    if definition is None:  # the output: only its worked component has a formula
        assert of == case.d.output, of
        outs = [f_out]
    else:
        outs = _corners(_free_shape(case.env[of]), f_out)
    for o in outs:
        for w in _corners(by_shape, f_by):
            w_e = by_base[w] if w else by_base
            if definition is None:
                want = fd_entry(formula_value, case.env, w_e)
            else:

                def local_map(env: Mapping, o: tuple = o) -> float:
                    arr = matrix_value(definition, env, case.dims)
                    return float(arr.reshape(_free_shape(arr))[tuple(p - 1 for p in o)])

                want = fd_entry(local_map, case.env, w_e)
            got = case.num(s.rhs.xreplace(dict(zip(of_idx + by_idx, o + w, strict=True))))
            close(got, want, f"{s.lhs} = {s.rhs} at {o + w}")


def check_chain(case: Case) -> None:
    """Each chain rule uses only local derivatives derived (or chain rules stated) before it."""
    d = case.d
    wrt_whole = _whole(case, d.wrt)
    earlier: dict[str, object] = {}
    n_local = n_chain = 0
    for step in case.steps:
        if step.kind == "local_derivative":
            n_local += 1
            assert step.label == f"L{n_local}" and step.label not in earlier
            check_local(case, step)
            earlier[step.label] = step
        elif step.kind == "chain_rule":
            n_chain += 1
            assert step.label == f"C{n_chain}" and step.label not in earlier
            _check_chain_rule(case, step, earlier, wrt_whole)
            earlier[step.label] = step
    chain = [s for s in case.steps if s.kind == "chain_rule"]
    if chain:  # the last one reaches the output
        out_e, _ = derivative_parts(chain[-1].component_lhs)
        assert _tensor_name(out_e) == d.output
        assert chain[-1].component_lhs == partial(
            _entry(d.output, d.index.out_idx), _entry(d.wrt, d.index.wrt_idx)
        )
    # every local derivative derived is used by a chain rule
    cited = {cite for c in chain for _, _, cite in c.local}
    assert {s.label for s in case.steps if s.kind == "local_derivative"} <= cited


def _parts_of(e: sympy.Basic) -> list:
    """The terms of a displayed sum, in the order shown."""
    return list(e.args) if isinstance(e, sympy.Add) else [e]


def _check_chain_rule(case: Case, c: S.ChainRule, earlier: dict, wrt_whole) -> None:
    d = case.d
    links = [link for link, _ in c.intermediates]
    assert links and all(str(link.name) in c.justification for link in links)
    out_e, wrt_e = derivative_parts(c.component_lhs)
    name, out_idx = _tensor_name(out_e), entries_of(out_e)[1]
    assert wrt_e == _entry(d.wrt, d.index.wrt_idx)
    name_whole = _whole(case, name)
    assert c.rule_lhs == partial(name_whole, wrt_whole)
    # one product per intermediate, and the direct partial (the others held fixed) if any
    rule_parts = _parts_of(c.rule_rhs)
    parts = _parts_of(c.component_rhs)
    direct = [p for p in parts if isinstance(p, Held)]
    summed = [p for p in parts if not isinstance(p, Held)]
    assert len(summed) == len(links) and len(direct) <= 1, c.component_rhs
    assert len(rule_parts) == len(parts), (c.rule_rhs, c.component_rhs)
    for link, product in zip(links, rule_parts, strict=False):
        assert set(product.args) == {partial(name_whole, link), partial(link, wrt_whole)}
    factors, substituted = [], []
    values = {lhs: rhs for lhs, rhs, _ in c.local}
    for link, total in zip(links, summed, strict=True):
        link_dims = tuple(s for s in link.shape if s != 1)
        if link_dims:  # summed over every component of the intermediate
            assert isinstance(total, Sum)
            mids = tuple(v for v, _, _ in total.limits)
            assert tuple(hi for _, _, hi in total.limits) == link_dims
            assert all(lo == 1 for _, lo, _ in total.limits)
            mid_e, summand = IndexedBase(link.name)[mids], total.function
        else:
            mids, mid_e, summand = (), sympy.Symbol(str(link.name)), total
        outer, inner = partial(out_e, mid_e), partial(mid_e, wrt_e)
        if isinstance(summand.args[0], Held):  # other links held fixed
            assert summand.args[0].args[0] == outer, summand.args
            outer = summand.args[0]
        assert summand.args == (outer, inner), summand.args
        factors += [outer, inner]
        product = values[outer] * values[inner]
        substituted.append(Sum(product, *total.limits) if link_dims else product)
        if len(mids) == 1 and len(parts) == 1:
            shown = _summand_values(total, c.expanded, ())
            assert shown[0] == 1 and shown[-1] == link_dims[0], shown
            order = [_order(v) for v in shown]
            assert order == sorted(set(order))
            skips = [n for n in range(len(shown) - 1) if order[n + 1] - order[n] > 1]
            assert tuple(skips) == tuple(c.gaps), (shown, c.gaps)
    if len(parts) > 1:
        assert c.expanded == () and c.gaps == ()
    if direct:
        ((held_e),) = direct
        plain, held = unheld(held_e)
        assert plain == c.component_lhs and set(held) == set(links), held_e
        assert isinstance(rule_parts[-1], Held), c.rule_rhs
        assert rule_parts[-1] == Held(c.rule_lhs, *rule_parts[-1].args[1:])
        assert set(rule_parts[-1].args[1:]) == set(links)
        factors.append(held_e)
        substituted.append(values[held_e])
    # each factor is cited from an earlier step that derived it
    assert [lhs for lhs, _, _ in c.local] == factors, c.local
    for lhs, rhs, cite in c.local:
        assert cite in earlier, f"{lhs} cites {cite}, not derived before {c.label}"
        source = earlier[cite]
        if source.kind == "local_derivative":
            # with several paths, d y / d z means z's path alone: the others held fixed
            assert source.lhs == lhs or unheld(source.lhs)[0] == lhs, (source.lhs, lhs)
            if isinstance(source.lhs, Held) and not isinstance(lhs, Held):
                assert len(links) > 1
            assert same(source.rhs, rhs), (source.rhs, rhs)
        else:
            assert source.component_lhs == lhs, (source.component_lhs, lhs)
            assert same(source.result_index, rhs), (source.result_index, rhs)
    want = sympy.Add(*substituted)
    assert same(c.substituted, want), (c.substituted, want)
    # both the substituted sum and the result are the Jacobian, by finite differences
    names = out_idx + d.index.wrt_idx
    if name == d.output:
        out_shape = free_dims(case.out_shape, case.sizes)
    else:
        out_shape = _free_shape(case.env[name])
    wrt_shape = free_dims(case.shapes[d.wrt], case.sizes)
    example = example_of(case)
    for o in _corners(out_shape, example[0] if name == d.output else ()):
        for w in _corners(wrt_shape, example[1]):
            want = jacobian_entry(case, name, o, w)
            at = dict(zip(names, o + w, strict=True))
            what = f"{c.label} {c.component_lhs} at {o + w}"
            close(case.num(c.substituted.xreplace(at)), want, f"{what}: {c.substituted}")
            close(case.num(c.result_index.xreplace(at)), want, f"{what}: {c.result_index}")
    if name == d.output:
        assert same(c.result_index, d.index_result)
        if d.matrix is not None:
            assert c.result == d.result
            matrix_close(case, c.result, case.arranged(), f"chain-rule result {c.result}")
        else:
            assert c.result is None
    else:
        assert c.result is None


def _reads(case: Case, expr: sympy.Basic) -> set[str]:
    """The named values an expression reads, through every definition, inputs included."""
    found, todo = set(), set(_names(expr))
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        definition = _definition(case, name)
        if definition is not None:
            todo |= _names(definition)
    return found


def check_method(case: Case) -> None:
    """Issue #10: the sum written out or a chain rule; one through every intermediate."""
    present = set(kinds(case.steps))
    chain = [s for s in case.steps if s.kind == "chain_rule"]
    assert chain or {"sum_expansion", "term_partial"} <= present, kinds(case.steps)
    links = {str(link.name) for c in chain for link, _ in c.intermediates}
    f = one(case.steps, "component_formula")
    readers = [f.rhs] + [e for n, e in case.definitions() if str(n.name) in links]
    for expr in readers:
        for name in sorted(_entry_names(expr)):
            definition = _definition(case, name)
            if definition is not None and case.d.wrt in _reads(case, definition):
                assert name in links, f"{name} gets no chain-rule step: {kinds(case.steps)}"


def _entry_names(expr: sympy.Basic) -> set[str]:
    """The tensors a component expression reads: x[3] -> x, L -> L."""
    found = {str(a.base.label) for a in expr.atoms(Indexed)}
    if isinstance(expr, MatrixExpr):
        return found | _names(expr)
    return found | {a.name for a in expr.atoms(sympy.Symbol) if not a.is_integer}


def check_sparsity(case: Case) -> None:
    """Zero entries shown (one zero, one nonzero) unless the tensor-structure step shows them."""
    d, present = case.d, set(kinds(case.steps))
    found = [s for s in case.steps if s.kind == "sparsity"]
    # zero entries by finite differences that are zero for any data (not relu'(z_3) at z_3 < 0)
    zeros = [tuple(int(a) + 1 for a in pos) for pos in np.argwhere(case.jacobian == 0)[:20]]
    has_zero = any(same(case.index_at(d.index_result, pos), sympy.Integer(0)) for pos in zeros)
    if "tensor_structure" in present:
        assert not found
        return
    assert bool(found) == has_zero, (kinds(case.steps), has_zero)
    if not found:
        return
    (s,) = found
    zo, zw = derivative_parts(s.zero_lhs)
    assert (zo, zw) == (s.out_entry, s.zero_wrt)
    zpos = entries_of(zo)[1] + entries_of(zw)[1]
    assert inside(zpos, case.jacobian.shape), zpos
    assert case.jac_at(zpos) == 0, f"{s.zero_lhs} is not zero by finite differences"
    assert same(case.index_at(d.index_result, zpos), sympy.Integer(0))
    no, nw = derivative_parts(s.nonzero_lhs)
    npos = entries_of(no)[1] + entries_of(nw)[1]
    assert inside(npos, case.jacobian.shape), npos
    assert same(s.nonzero_rhs, case.index_at(d.index_result, npos))
    close(case.num(s.nonzero_rhs), case.jac_at(npos), f"{s.nonzero_lhs} = {s.nonzero_rhs}")
    assert s.nonzero_rhs != 0, s.nonzero_lhs
    assert case.jac_at(npos) != 0 or steps_on_data(s.nonzero_rhs), s.nonzero_lhs
    # the nonzero entry is the one the derivation works with and generalizes from
    if "generalization" in present:
        assert s.nonzero_lhs == one(case.steps, "generalization").example_lhs


def requested_example(case: Case) -> tuple[tuple, tuple]:
    """The example asked for (the user's, else y_3 and x_7 / W_{7,8}, cut to the sizes)."""
    d = case.d
    given = {k: (v,) if isinstance(v, int) else tuple(v) for k, v in (case.example or {}).items()}

    def default(start: tuple, dims: tuple) -> tuple:
        return tuple(
            min(a, int(n)) if n.is_Integer else a for a, n in zip(start, dims, strict=False)
        )

    out = given.get(d.output, default((3, 4), d.index.out_dims))
    wrt = given.get(d.wrt, default((7, 8), d.index.wrt_dims))
    return out, wrt


def check_examples(case: Case) -> None:
    """The requested example is worked when its entry is not zero; else it is shown as a zero."""
    d, zero = case.d, sympy.Integer(0)
    out, wrt = requested_example(case)
    worked = example_of(case)
    asked_zero = case.jac_at(out + wrt) == 0 and same(
        case.index_at(d.index_result, out + wrt), zero
    )
    if not asked_zero:
        # kept, unless a term of the index form vanishes there (tanh(z_i) delta_{i,j} + ...)
        terms = sympy.Add.make_args(sympy.expand(evaluated(d.index_result)))
        vanish = [t for t in terms if same(case.index_at(t, out + wrt), zero)]
        assert worked == (out, wrt) or vanish, (worked, (out, wrt))
        if worked != (out, wrt):  # then the worked entry has every term
            assert not any(same(case.index_at(t, worked[0] + worked[1]), zero) for t in terms)
        return
    assert worked != (out, wrt)
    # the zero entry asked for is the one shown as zero
    shown = [s for s in case.steps if s.kind in ("sparsity", "tensor_structure")]
    for s in shown:
        if s.zero_lhs is not None:
            assert s.zero_lhs == partial(_entry(d.output, out), _entry(d.wrt, wrt)), s.zero_lhs


def check_elementwise(case: Case) -> None:
    e, d = one(case.steps, "elementwise"), case.d
    f = one(case.steps, "component_formula")
    h_e, z_e = derivative_parts(e.lhs)
    (hb, (hi,)), (zb, (zj,)) = entries_of(h_e), entries_of(z_e)
    assert str(hb) == d.output and hi != zj
    # d f(z_i) / d z_j by sympy.diff of the component formula, moved to index i
    inner = [a for a in f.rhs.atoms(Indexed) if a.base == zb]
    assert len(inner) == 1, f.rhs
    want = sympy.diff(f.rhs.xreplace({inner[0]: zb[hi]}), zb[zj])
    assert same(e.rhs, want), (e.rhs, want)
    h_whole, z_whole = derivative_parts(e.matrix_lhs)
    assert h_whole == _whole(case, d.output) and str(z_whole.name) == str(zb)
    size = case.env[str(zb)].size
    grid = np.array(
        [
            [case.num(e.rhs.xreplace({hi: a, zj: b})) for b in range(1, size + 1)]
            for a in range(1, size + 1)
        ]
    )
    assert np.array_equal(grid, np.diag(np.diag(grid)))  # diagonal
    matrix_close(case, e.matrix_rhs, grid, f"{e.matrix_lhs} = {e.matrix_rhs}")
    if e.in_chain_rhs is not None:
        assert e.in_chain_lhs == partial(h_whole, _whole(case, d.wrt))
        matrix_close(case, e.in_chain_rhs, case.arranged(), f"{e.in_chain_lhs}")


def check_summary(case: Case) -> None:
    s, d = case.steps[-1], case.d
    assert s.kind == "summary"
    if d.has_matrix_form:
        assert s.lhs == partial(_whole(case, d.output), _whole(case, d.wrt))
        assert s.result == d.result
    else:  # no matrix form: the index form, with its indices on both sides
        assert s.lhs == s.index_lhs and same(s.result, d.index_result)
    assert s.index_result == d.index_result
    assert s.index_lhs == partial(_entry(d.output, d.index.out_idx), _entry(d.wrt, d.index.wrt_idx))
    assert s.has_matrix_form == d.has_matrix_form and s.layout == case.layout
    assert s.report is not None and s.report.exact
    assert s.report.max_error <= s.report.tolerance
    if d.has_matrix_form:
        matrix_close(case, d.result, case.arranged(), f"result {d.result}")


def example_of(case: Case) -> tuple[tuple, tuple]:
    f = one(case.steps, "component_formula")
    return entries_of(f.lhs)[1], entries_of(f.wrt_entry)[1]


def check_all(case: Case) -> None:
    """Every claim of every step that is present, and issue #10's steps all there."""
    check_plan_shape(case)
    out, wrt = example_of(case)
    check_component_formula(case, out, wrt)
    present = set(kinds(case.steps))
    if "sum_expansion" in present or "term_partial" in present:
        f = one(case.steps, "component_formula")
        e, p = one(case.steps, "sum_expansion"), one(case.steps, "term_partial")
        example = case.index_at(case.d.index_result, out + wrt)
        check_expansion(f.lhs, f.rhs, f.wrt_entry, e, p, example)
        close(case.num(p.result), case.jac_at(out + wrt), f"{p.lhs} = {p.result}")
    if "generalization" in present:
        check_generalization(case, out, wrt)
    checks = {
        "jacobian_assembly": check_jacobian,
        "tensor_structure": check_tensor,
        "batch_rows": check_batch_rows,
        "elementwise": check_elementwise,
    }
    for kind, check in checks.items():
        if kind in present:
            check(case)
    check_chain(case)
    check_sparsity(case)
    check_examples(case)
    check_method(case)
    check_summary(case)


# == the reference examples =======================================================================
ROW = {"x": "1 x D", "W": "D x C"}
CHAIN = {"V": "C x M", "W": "M x D", "x": "D"}


def ex1(layout: str = "numerator") -> Case:
    return Case(
        "y = W x",
        {"W": "C x D", "x": "D"},
        "x",
        lambda v: v["W"] @ v["x"],
        "C",
        layout,
        {"y": 3, "x": 7},
    )


def ex2(layout: str = "numerator") -> Case:
    return Case("y = x W", ROW, "x", lambda v: v["x"] @ v["W"], "1 x C", layout)


def ex3() -> Case:
    return Case(
        "y = x W", ROW, "W", lambda v: v["x"] @ v["W"], "1 x C", example={"y": 3, "W": (7, 8)}
    )


def ex4(layout: str = "numerator") -> Case:
    return Case(
        "Y = X W", {"X": "N x D", "W": "D x C"}, "X", lambda v: v["X"] @ v["W"], "N x C", layout
    )


def ex5(layout: str = "numerator") -> Case:
    return Case("y = V W x", CHAIN, "x", lambda v: v["V"] @ v["W"] @ v["x"], "C", layout)


@pytest.fixture(scope="module")
def case1() -> Case:
    return ex1()


@pytest.fixture(scope="module")
def case2() -> Case:
    return ex2()


@pytest.fixture(scope="module")
def case3() -> Case:
    return ex3()


@pytest.fixture(scope="module")
def case4() -> Case:
    return ex4()


@pytest.fixture(scope="module")
def case5() -> Case:
    return ex5()


# -- 1. y = W x ----------------------------------------------------------------------------------
def factors(e: sympy.Basic) -> tuple:
    """A displayed product's factors in the order shown (a leading 1 the printer skips dropped)."""
    args = e.args if isinstance(e, sympy.Mul) else (e,)
    return args[1:] if args and args[0] == 1 else args


def test_1_step_kinds(case1: Case) -> None:
    assert kinds(case1.steps) == [
        "component_formula",
        "sum_expansion",
        "term_partial",
        "generalization",
        "jacobian_assembly",
        "summary",
    ]


def test_1_component_formula_and_expansion(case1: Case) -> None:
    f, e, p = case1.steps[:3]
    assert (f.lhs, f.wrt_entry, f.definitions) == (y[3], x[7], ())
    assert same(f.rhs, Sum(W[3, j] * x[j], (j, 1, D)))  # y_3 = sum_j W_{3,j} x_j
    assert factors(f.rhs.function) == (W[3, f.rhs.limits[0][0]], x[f.rhs.limits[0][0]])
    assert e.lhs == y[3]
    # y_3 = W_{3,1} x_1 + W_{3,2} x_2 + ... + W_{3,7} x_7 + ... + W_{3,D} x_D, in the user's order
    assert [factors(t) for t in e.terms] == [(W[3, v], x[v]) for v in (1, 2, 7, D)]
    assert e.signs == (1, 1, 1, 1) and e.gaps == (1, 2) and e.marked == (2,)
    assert p.lhs == partial(y[3], x[7]) and p.result == W[3, 7] and p.values == (W[3, 7],)
    assert p.partials == (0, 0, partial(e.terms[2], x[7]), 0)
    assert p.rules == ("constant-factor rule",)


def test_1_explicit_sum_at_concrete_sizes(case1: Case) -> None:
    """y = W x with explicit 4 x 9 matrices of entries: y_3 is the component formula at D = 9."""
    f, e = case1.steps[:2]
    w = sympy.Matrix(4, 9, lambda r, c: W[r + 1, c + 1])
    xs = sympy.Matrix(9, 1, lambda r, _: x[r + 1])
    explicit = (w * xs)[2]
    assert sympy.expand(concrete(f.rhs, 9) - explicit) == 0
    assert {sympy.expand(concrete(t, 9)) for t in e.terms} <= set(sympy.Add.make_args(explicit))


def test_1_generalization_and_jacobian(case1: Case) -> None:
    g, a, s = case1.steps[3:]
    assert g.lhs == partial(y[i], x[j]) and g.rhs == W[i, j]
    assert g.example_lhs == partial(y[3], x[7]) and g.example_rhs == W[3, 7]
    assert a.result == MatrixSymbol("W", C, D) and a.layout == "numerator"
    assert a.lhs == partial(MatrixSymbol("y", C, 1), MatrixSymbol("x", D, 1))
    assert a.partials[0][0] == partial(y[1], x[1]) and a.partials[-1][-1] == partial(y[C], x[D])
    assert a.entries is not None
    assert a.entries[0][1] == W[1, 2] and a.entries[-1][-1] == W[C, D]
    assert a.other_layout is None
    assert s.result == MatrixSymbol("W", C, D) and s.index_result == W[i, j]


def test_1_claims_hold(case1: Case) -> None:
    check_all(case1)


# -- 2. y = x W with a row vector x --------------------------------------------------------------
def test_2_steps(case2: Case) -> None:
    assert kinds(case2.steps) == kinds(ex1().steps)
    f, e, p, g, a, s = case2.steps
    assert (f.lhs, f.wrt_entry) == (y[3], x[7])
    assert same(f.rhs, Sum(x[j] * W[j, 3], (j, 1, D)))  # y_3 = x_1 W_{1,3} + ... + x_D W_{D,3}
    # the reference's order: x before W
    assert [factors(t) for t in e.terms] == [(x[v], W[v, 3]) for v in (1, 2, 7, D)]
    assert e.marked == (2,) and e.gaps == (1, 2)
    assert p.result == W[7, 3]  # the indexing into W is the opposite of example 1
    assert g.rhs == W[j, i] and g.example_rhs == W[7, 3]
    # numerator layout: rows follow y, so the matrix is W^T; the other arrangement is W
    assert a.result == Transpose(MatrixSymbol("W", D, C))
    assert a.other_layout == MatrixSymbol("W", D, C)
    assert _word(a.arrangement, "y") < _word(a.arrangement, "x")
    assert s.result == Transpose(MatrixSymbol("W", D, C))


def test_2_denominator_layout_is_the_reference_arrangement() -> None:
    case = ex2("denominator")
    a = one(case.steps, "jacobian_assembly")
    assert a.result == MatrixSymbol("W", D, C)  # the reference's d y / d x = W
    assert a.other_layout == Transpose(MatrixSymbol("W", D, C))
    assert a.partials[0][1] == partial(y[2], x[1])  # rows follow x
    assert _word(a.arrangement, "x") < _word(a.arrangement, "y")
    check_all(case)


def test_2_claims_hold(case2: Case) -> None:
    check_all(case2)


# -- 3. y = x W, d y / d W -----------------------------------------------------------------------
def test_3_steps(case3: Case) -> None:
    assert kinds(case3.steps) == [
        "component_formula",
        "sum_expansion",
        "term_partial",
        "generalization",
        "tensor_structure",
        "summary",
    ]
    f, e, p, g, t, s = case3.steps
    # W_{7,8} was asked for, but y_3 does not involve it: the worked entry is a nonzero one
    assert (f.lhs, f.wrt_entry) == (y[3], W[7, 3])
    assert same(f.rhs, Sum(x[j] * W[j, 3], (j, 1, D)))
    assert [factors(t) for t in e.terms] == [(x[v], W[v, 3]) for v in (1, 2, 7, D)]
    assert e.marked == (2,) and p.result == x[7]
    assert g.lhs == partial(y[i], W[j, k]) and same(g.rhs, KroneckerDelta(i, k) * x[j])
    assert g.example_lhs == partial(y[3], W[7, 3]) and g.example_rhs == x[7]
    assert t.definition_lhs == Fb[i, j, k] and t.definition_rhs == partial(y[i], W[j, k])
    assert t.zero_lhs == partial(y[3], W[7, 8])  # y_3 does not involve W_{7,8} (the notes' eq. 8)
    assert (t.zero_out, t.zero_wrt) == (y[3], W[7, 8])
    assert t.nonzero_lhs == partial(y[3], W[7, 3]) and t.nonzero_rhs == x[7]
    assert (t.pattern_lhs, t.pattern_rhs) == (Fb[i, j, i], x[j])  # F_{i,j,i} = x_j
    assert (t.compact_lhs, t.compact_rhs) == (G[i, j], Fb[i, j, i])  # G_{i,j} = F_{i,j,i}
    assert not s.has_matrix_form and same(s.result, KroneckerDelta(i, k) * x[j])
    assert s.lhs == partial(y[i], W[j, k])  # no matrix form: the index form, indices both sides


def test_3_claims_hold(case3: Case) -> None:
    check_all(case3)


# -- 4. Y = X W, d Y / d X -----------------------------------------------------------------------
def test_4_steps(case4: Case) -> None:
    assert kinds(case4.steps) == [
        "component_formula",
        "sum_expansion",
        "term_partial",
        "sparsity",
        "generalization",
        "batch_rows",
        "summary",
    ]
    f, e, p, z, g, b, s = case4.steps
    # the default X_{7,8} gives a zero entry of Y_{3,4}: the worked one is X_{3,8}
    assert (f.lhs, f.wrt_entry) == (Y[3, 4], X[3, 8])
    assert same(f.rhs, Sum(X[3, k] * W[k, 4], (k, 1, D)))  # Y_{i,j} = sum_k X_{i,k} W_{k,j}
    assert factors(f.rhs.function) == (X[3, f.rhs.limits[0][0]], W[f.rhs.limits[0][0], 4])
    assert [factors(t) for t in e.terms] == [(X[3, v], W[v, 4]) for v in (1, 2, 8, D)]
    assert e.marked == (2,) and p.result == W[8, 4]
    # one zero entry, then the nonzero one the derivation works with
    assert z.zero_lhs == partial(Y[3, 4], X[7, 8]) and (z.out_entry, z.zero_wrt) == (
        Y[3, 4],
        X[7, 8],
    )
    assert z.nonzero_lhs == partial(Y[3, 4], X[3, 8]) and z.nonzero_rhs == W[8, 4]
    assert same(g.rhs, KroneckerDelta(i, k) * W[l, j])
    assert g.example_lhs == partial(Y[3, 4], X[3, 8]) and g.example_rhs == W[8, 4]
    # d Y_{i,j} / d X_{i,k} = W_{k,j}: read the shared partial's own indices
    out_e, wrt_e = derivative_parts(b.shared_lhs)
    (_, (row, col)), (_, (row2, inner)) = entries_of(out_e), entries_of(wrt_e)
    assert row == row2
    assert b.shared_rhs.xreplace({row: 5, col: 3, inner: 2}) == W[2, 3]
    assert row not in b.shared_rhs.free_symbols  # the same for every row
    # row by row: d Y_{i,:} / d X_{i,:} is W arranged by the layout (numerator: rows follow Y)
    assert b.row_rhs == Transpose(MatrixSymbol("W", D, C))
    assert not s.has_matrix_form and s.lhs == partial(Y[i, j], X[k, l])


def test_4_denominator_row_block_is_w() -> None:
    case = ex4("denominator")
    b = one(case.steps, "batch_rows")
    assert b.row_rhs == MatrixSymbol("W", D, C)  # the reference's d Y_{i,:} / d X_{i,:} = W
    check_all(case)


def test_4_claims_hold(case4: Case) -> None:
    check_all(case4)


# -- 5. the chain rule: y = V W x ----------------------------------------------------------------
def test_5_steps(case5: Case) -> None:
    assert kinds(case5.steps) == [
        "component_formula",
        "local_derivative",
        "local_derivative",
        "chain_rule",
        "generalization",
        "jacobian_assembly",
        "summary",
    ]
    f, l1, l2, c, g, a, s = case5.steps
    Mm, Vm, Wm = MatrixSymbol("m", M, 1), MatrixSymbol("V", C, M), MatrixSymbol("W", M, D)
    ym, xm = MatrixSymbol("y", C, 1), MatrixSymbol("x", D, 1)
    assert f.lhs == y[3] and same(f.rhs, Sum(V[3, k] * m[k], (k, 1, M)))
    assert f.definitions == ((Mm, Wm * xm),)  # m = W x, named
    # (L1) d m_k / d x_j = W_{k,j}, derived innermost first: m_5 = sum_l W_{5,l} x_l, by x_7
    assert l1.label == "L1" and l1.lhs == partial(m[k], x[j]) and l1.rhs == W[k, j]
    assert l1.formula_lhs == m[5] and not l1.formula_cited and l1.wrt_entry == x[7]
    assert same(l1.formula_rhs, Sum(W[5, l] * x[l], (l, 1, D)))
    assert [factors(t) for t in l1.expansion.terms] == [(W[5, v], x[v]) for v in (1, 2, 7, D)]
    assert l1.partial.result == W[5, 7] and l1.example_rhs == W[5, 7]
    # (L2) d y_i / d m_k = V_{i,k}, from the section's own component formula y_3 (by m_5)
    assert l2.label == "L2" and l2.lhs == partial(y[i], m[k]) and l2.rhs == V[i, k]
    assert l2.formula_lhs == y[3] and l2.formula_cited and l2.wrt_entry == m[5]
    assert l2.partial.result == V[3, 5]
    assert c.label == "C1"
    assert c.intermediates == ((Mm, Wm * xm),)
    assert c.rule_lhs == partial(ym, xm)
    assert c.rule_rhs == partial(ym, Mm) * partial(Mm, xm)  # (d y / d m)(d m / d x)
    assert c.component_lhs == partial(y[i], x[j])
    total = c.component_rhs
    ((kk, one_, upper),) = total.limits
    assert (one_, upper) == (1, M)  # summed over the M components of m
    assert same(total, Sum(partial(y[i], m[k]) * partial(m[k], x[j]), (k, 1, M)))
    assert same(c.expanded[0], partial(y[i], m[1]) * partial(m[1], x[j]))
    assert same(c.expanded[-1], partial(y[i], m[M]) * partial(m[M], x[j]))
    assert c.local == (
        (partial(y[i], m[kk]), V[i, kk], "L2"),  # by (L2)
        (partial(m[kk], x[j]), W[kk, j], "L1"),  # by (L1)
    )
    assert same(c.substituted, Sum(V[i, k] * W[k, j], (k, 1, M)))
    assert same(c.result_index, Sum(V[i, k] * W[k, j], (k, 1, M)))
    assert c.result == MatMul(Vm, Wm)  # d y / d x = V W
    assert same(g.rhs, Sum(V[i, k] * W[k, j], (k, 1, M)))
    assert a.result == MatMul(Vm, Wm) and s.result == MatMul(Vm, Wm)


def test_5_claims_hold(case5: Case) -> None:
    check_all(case5)


def test_5_named_intermediate_gives_the_same_chain() -> None:
    case = Case("m = W x; y = V m", CHAIN, "x", lambda v: v["V"] @ (v["W"] @ v["x"]), "C")
    assert kinds(case.steps) == kinds(ex5().steps)
    check_all(case)


def test_5_expansion_keeps_the_factor_order(case5: Case) -> None:
    """The reference: (d y_i/d m_1)(d m_1/d x_j) + ... + (d y_i/d m_M)(d m_M/d x_j)."""
    c = one(case5.steps, "chain_rule")
    assert c.component_rhs.function.args == (partial(y[i], m[k]), partial(m[k], x[j]))
    for term, v in zip(c.expanded, (1, 2, M), strict=True):
        assert term.args == (partial(y[i], m[v]), partial(m[v], x[j])), term.args
    assert factors(c.substituted.function) == (V[i, k], W[k, j])  # V_{i,k} W_{k,j}


def test_5_denominator_layout_claims_hold() -> None:
    case = ex5("denominator")
    c = one(case.steps, "chain_rule")
    wt, vt = Transpose(MatrixSymbol("W", M, D)), Transpose(MatrixSymbol("V", C, M))
    assert c.result == MatMul(wt, vt)  # (d m / d x)(d y / d m) = W^T V^T
    check_all(case)


def test_5_denominator_chain_rule_is_written_in_the_layout_order() -> None:
    """The handout prints rule_rhs as matrices: in denominator layout the factors swap."""
    c = one(ex5("denominator").steps, "chain_rule")
    m_, y_, x_ = MatrixSymbol("m", M, 1), MatrixSymbol("y", C, 1), MatrixSymbol("x", D, 1)
    assert c.rule_rhs.args == (partial(m_, x_), partial(y_, m_))  # the order, as printed


# -- beyond the reference: a two-layer network, chain rule through each named intermediate -------
NET = {"W1": "H x D", "x": "D", "b1": "H", "W2": "C x H", "b2": "C", "t": "C"}
NET_TEXT = "h = sigmoid(W1 x + b1); y = W2 h + b2; L = norm(y - t)^2"


def _net_loss(v: Values) -> np.ndarray:
    y_ = v["W2"] @ sig(v["W1"] @ v["x"] + v["b1"]) + v["b2"]
    return np.asarray(np.sum((y_ - v["t"]) ** 2))


def _net_named(v: Values) -> Values:
    """The network's intermediates in numpy: the user's h and y, the tool's z and r."""
    z_ = v["W1"] @ v["x"] + v["b1"]
    y_ = v["W2"] @ sig(z_) + v["b2"]
    return {"z": z_, "h": sig(z_), "y": y_, "r": y_ - v["t"]}


@pytest.mark.parametrize(
    ("wrt", "links"),
    [
        ("W1", ["z", "h", "y", "r"]),
        ("b1", ["z", "h", "y", "r"]),
        ("W2", ["y", "r"]),
        ("b2", ["y", "r"]),
        ("x", ["z", "h", "y", "r"]),
    ],
)
def test_network_loss_claims_hold(wrt: str, links: list[str]) -> None:
    case = Case(NET_TEXT, NET, wrt, _net_loss, "1", named=_net_named)
    chain = [s for s in case.steps if s.kind == "chain_rule"]
    # innermost first, through every intermediate: the tool's z = W1 x + b1 and r = y - t too
    assert [str(c.intermediates[0][0].name) for c in chain] == links
    n = len(links)
    assert kinds(case.steps)[: 1 + 1 + 2 * n] == [
        "component_formula",
        "local_derivative",
        *(["local_derivative", "chain_rule"] * n),
    ]
    check_all(case)


# -- beyond the reference: course derivations, every claim recomputed ---------------------------
COURSE = [
    (
        "L = norm(X w - y)^2",
        {"X": "N x D", "w": "D", "y": "N"},
        "w",
        "1",
        lambda v: np.sum((v["X"] @ v["w"] - v["y"]) ** 2),
    ),
    (
        "L = norm(X w - y)^2 + lambda norm(w)^2",
        {"X": "N x D", "w": "D", "y": "N", "lambda": "1"},
        "w",
        "1",
        lambda v: np.sum((v["X"] @ v["w"] - v["y"]) ** 2) + v["lambda"] * np.sum(v["w"] ** 2),
    ),
    ("s = x^T A x", {"A": "D x D", "x": "D"}, "x", "1", lambda v: v["x"] @ v["A"] @ v["x"]),
    (
        "s = a^T X b",
        {"a": "M", "X": "M x N", "b": "N"},
        "X",
        "1",
        lambda v: v["a"] @ v["X"] @ v["b"],
    ),
    ("L = tr(A X)", {"A": "N x M", "X": "M x N"}, "X", "1", lambda v: np.trace(v["A"] @ v["X"])),
    (
        "L = tr(A X B)",
        {"A": "N x M", "X": "M x K", "B": "K x N"},
        "X",
        "1",
        lambda v: np.trace(v["A"] @ v["X"] @ v["B"]),
    ),
    (
        "L = norm(X W - T)^2",
        {"X": "N x D", "W": "D x C", "T": "N x C"},
        "W",
        "1",
        lambda v: np.sum((v["X"] @ v["W"] - v["T"]) ** 2),
    ),
    (
        "y = W x + b",
        {"W": "C x D", "x": "D", "b": "C"},
        "x",
        "C",
        lambda v: v["W"] @ v["x"] + v["b"],
    ),
    (
        "y = W x + b",
        {"W": "C x D", "x": "D", "b": "C"},
        "W",
        "C",
        lambda v: v["W"] @ v["x"] + v["b"],
    ),
    (
        "y = W x + b",
        {"W": "C x D", "x": "D", "b": "C"},
        "b",
        "C",
        lambda v: v["W"] @ v["x"] + v["b"],
    ),
    ("Y = X W", {"X": "N x D", "W": "D x C"}, "W", "N x C", lambda v: v["X"] @ v["W"]),
    ("h = tanh(W x)", {"W": "H x D", "x": "D"}, "x", "H", lambda v: np.tanh(v["W"] @ v["x"])),
    ("y = x .* (A x)", {"A": "D x D", "x": "D"}, "x", "D", lambda v: v["x"] * (v["A"] @ v["x"])),
    # two paths: through z = A x and u = B x, each local derivative holding the other fixed
    (
        "y = tanh(A x) .* sigmoid(B x)",
        {"A": "D x D", "B": "D x D", "x": "D"},
        "x",
        "D",
        lambda v: np.tanh(v["A"] @ v["x"]) * sig(v["B"] @ v["x"]),
    ),
    # a path through z = A x and the direct one
    (
        "y = tanh(A x) .* x",
        {"A": "D x D", "x": "D"},
        "x",
        "D",
        lambda v: np.tanh(v["A"] @ v["x"]) * v["x"],
    ),
    ("y = sigmoid(x)", {"x": "D"}, "x", "D", lambda v: sig(v["x"])),
    ("y = relu(W x)", {"W": "C x D", "x": "D"}, "x", "C", lambda v: np.maximum(v["W"] @ v["x"], 0)),
    (
        "y = softplus(W x)",
        {"W": "C x D", "x": "D"},
        "W",
        "C",
        lambda v: np.logaddexp(0.0, v["W"] @ v["x"]),
    ),
]


@pytest.mark.parametrize(
    ("text", "shapes", "wrt", "out_shape", "forward"),
    COURSE,
    ids=[f"{c[0]} wrt {c[2]}" for c in COURSE],
)
def test_course_claims_hold(text: str, shapes: dict, wrt: str, out_shape: str, forward) -> None:
    case = Case(text, shapes, wrt, lambda v: np.asarray(forward(v)), out_shape)
    check_all(case)


def course_case(text: str, wrt: str) -> Case:
    ((_, shapes, _, out_shape, forward),) = [c for c in COURSE if (c[0], c[2]) == (text, wrt)]
    return Case(text, shapes, wrt, lambda v: np.asarray(forward(v)), out_shape)


def test_least_squares_goes_through_the_residual() -> None:
    """Issue #10: L = ||X w - y||^2 shows the chain rule through the tool's r = X w - y."""
    case = course_case("L = norm(X w - y)^2", "w")
    assert kinds(case.steps) == [
        "component_formula",
        "local_derivative",
        "local_derivative",
        "chain_rule",
        "generalization",
        "summary",
    ]
    f, l1, l2, c = case.steps[:4]
    r = IndexedBase("r")
    assert f.lhs == sympy.Symbol("L") and [str(a.name) for a, _ in f.definitions] == ["r"]
    w_ = IndexedBase("w")
    # (L1) d r_j / d w_i from r_5 = X_{5,1} w_1 + ... + X_{5,D} w_D - y_5, by w_7
    assert [_tensor_name(e) for e in derivative_parts(l1.lhs)] == ["r", "w"]
    assert (l1.formula_lhs, l1.wrt_entry) == (r[5], w_[7]) and l1.expansion.signs[-1] == -1
    assert l1.partial.result == X[5, 7]
    assert l2.formula_cited and l2.partial.rules == ("power rule",)
    # L = r_1^2 + r_2^2 + ... + r_5^2 + ... + r_N^2, the term r_5^2 marked
    assert list(l2.expansion.terms) == [r[v] ** 2 for v in (1, 2, 5, N)]
    assert l2.expansion.marked == (2,) and l2.partial.values == (2 * r[5],)
    assert [cite for _, _, cite in c.local] == ["L2", "L1"]
    check_all(case)


def test_quadratic_form_marks_every_term_that_holds_the_component() -> None:
    """x^T A x: x_7 sits in three regions of the double sum (p = 7, q = 7, both)."""
    case = course_case("s = x^T A x", "x")
    f, e, p = case.steps[:3]
    assert kinds(case.steps)[:3] == ["component_formula", "sum_expansion", "term_partial"]
    assert len(e.marked) == 3 and e.gaps == ()
    assert sum(isinstance(t, SumExcept) for t in e.terms) == 3
    assert "power rule" in p.rules
    check_all(case)


def test_elementwise_sparsity_then_a_nonzero_entry() -> None:
    """y = sigmoid(x): y_3 does not involve x_7 (zero), the worked entry is d y_3 / d x_3."""
    case = course_case("y = sigmoid(x)", "x")
    z = one(case.steps, "sparsity")
    assert z.zero_lhs == partial(y[3], x[7]) and z.nonzero_lhs == partial(y[3], x[3])
    e = one(case.steps, "sum_expansion")
    assert e.terms == (F.sigmoid(x[3]),) and e.marked == (0,)  # one term: y_3 = sigmoid(x_3)
    g = one(case.steps, "generalization")
    assert g.example_lhs == partial(y[3], x[3])
    check_all(case)


def test_a_zero_example_is_shown_as_the_zero_entry() -> None:
    """The user asks for d y_3 / d x_5, which is zero: shown in the sparsity step, not worked."""
    case = Case(
        "y = sigmoid(x)", {"x": "D"}, "x", lambda v: sig(v["x"]), "D", example={"y": 3, "x": 5}
    )
    z = one(case.steps, "sparsity")
    assert z.zero_lhs == partial(y[3], x[5]) and z.nonzero_lhs == partial(y[3], x[3])
    assert example_of(case) == ((3,), (3,))
    check_all(case)


# -- beyond the reference: a derivative by a matrix with no zero entry ----------------------------
@pytest.mark.parametrize(
    ("text", "shapes", "wrt"),
    [
        ("y = A B x", {"A": "C x M", "B": "M x D", "x": "D"}, "B"),
        ("m = A x; y = B m", {"A": "M x D", "B": "C x M", "x": "D"}, "A"),
    ],
)
def test_no_false_zero_entry(text: str, shapes: dict, wrt: str) -> None:
    d = derivtex.derive(text, wrt, shapes)
    t = one(d.steps, "tensor_structure")
    # no entry of these derivatives is zero, so the step must claim none
    assert t.zero_lhs is None and t.zero_out is None and t.zero_wrt is None


def test_tensor_entries_lie_inside_the_shape() -> None:
    d = derivtex.derive("y = A x", "A", {"A": "2 x D", "x": "D"})
    t = one(d.steps, "tensor_structure")
    sizes = d.index.out_dims + d.index.wrt_dims
    for lhs in (t.zero_lhs, t.nonzero_lhs):
        assert lhs is not None
        position = sum((entries_of(e)[1] for e in derivative_parts(lhs)), ())
        assert all(p <= n for p, n in zip(position, sizes, strict=True) if n.is_Integer), lhs


# == example= and steps= ===========================================================================
def test_example_chooses_the_worked_components() -> None:
    case = Case(
        "y = W x",
        {"W": "C x D", "x": "D"},
        "x",
        lambda v: v["W"] @ v["x"],
        "C",
        example={"y": 2, "x": 5},
    )
    f, e, p, g = case.steps[:4]
    assert (f.lhs, f.wrt_entry) == (y[2], x[5])
    assert e.marked == (2,) and factors(e.terms[2]) == (W[2, 5], x[5]) and p.result == W[2, 5]
    assert g.example_lhs == partial(y[2], x[5]) and g.example_rhs == W[2, 5]
    check_all(case)


def test_example_as_tuples_for_a_matrix() -> None:
    case = Case(
        "y = x W", ROW, "W", lambda v: v["x"] @ v["W"], "1 x C", example={"y": (5,), "W": (4, 5)}
    )
    f = case.steps[0]
    assert (f.lhs, f.wrt_entry) == (y[5], W[4, 5])
    t = one(case.steps, "tensor_structure")
    assert t.nonzero_lhs == partial(y[5], W[4, 5]) and t.nonzero_rhs == x[4]
    check_all(case)


@pytest.mark.parametrize(
    ("shapes", "example"),
    [
        ({"W": "C x D", "x": "D"}, {"x": 0}),  # indices count from 1
        ({"W": "C x D", "x": "D"}, {"y": 0}),
        ({"W": "C x D", "x": "D"}, {"x": (1, 2)}),  # x has one index
        ({"W": "C x D", "x": "D"}, {"y": ()}),
        ({"W": "3 x 4", "x": "4"}, {"x": 5}),  # past the end of a fixed size
        ({"W": "3 x 4", "x": "4"}, {"y": 4}),
        ({"W": "C x D", "x": "D"}, {"x": -1}),
    ],
)
def test_bad_example_raises(shapes: dict, example: dict) -> None:
    with pytest.raises(derivtex.InputError):
        derivtex.derive("y = W x", "x", shapes, example=example)


def test_bad_example_for_a_matrix_raises() -> None:
    with pytest.raises(derivtex.InputError):
        derivtex.derive("y = x W", "W", ROW, example={"W": (7,)})


def test_only_the_chosen_optional_steps() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, steps=["generalization"])
    assert kinds(d.steps) == ["component_formula", "generalization", "summary"]
    d = derivtex.derive("y = V W x", "x", CHAIN, steps=["chain_rule", "jacobian_assembly"])
    assert kinds(d.steps) == ["component_formula", "chain_rule", "jacobian_assembly", "summary"]
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, steps=[])
    assert kinds(d.steps) == ["component_formula", "summary"]


def test_steps_false_plans_nothing() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, steps=False)
    assert d.steps == ()
    assert d.result == MatrixSymbol("W", C, D)


@pytest.mark.parametrize("bad", [["generalisation"], ["summary", "nonsense"], ["Jacobian"]])
def test_unknown_step_kinds_raise(bad: list[str]) -> None:
    with pytest.raises(derivtex.InputError):
        derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, steps=bad)


# == property test: random well-shaped requests ====================================================
@dataclass(frozen=True)
class Template:
    text: str
    shapes: Mapping[str, str]
    out_shape: str
    forward: Forward


def _norm_forward(v: Values) -> np.ndarray:
    return np.asarray(np.sum((v["A"] @ v["x"] - v["t"]) ** 2))


TEMPLATES = [
    Template("y = A x", {"A": "C x D", "x": "D"}, "C", lambda v: v["A"] @ v["x"]),
    Template("y = x B", {"x": "1 x D", "B": "D x C"}, "1 x C", lambda v: v["x"] @ v["B"]),
    Template(
        "y = A B x", {"A": "C x M", "B": "M x D", "x": "D"}, "C", lambda v: v["A"] @ v["B"] @ v["x"]
    ),
    Template(
        "m = A x; y = B m",
        {"A": "M x D", "B": "C x M", "x": "D"},
        "C",
        lambda v: v["B"] @ (v["A"] @ v["x"]),
    ),
    Template(
        "y = sigmoid(A x + b)",
        {"A": "C x D", "x": "D", "b": "C"},
        "C",
        lambda v: sig(v["A"] @ v["x"] + v["b"]),
    ),
    Template("L = norm(A x - t)^2", {"A": "C x D", "x": "D", "t": "C"}, "1", _norm_forward),
    Template(
        "L = x^T A x", {"A": "D x D", "x": "D"}, "1", lambda v: np.asarray(v["x"] @ v["A"] @ v["x"])
    ),
    Template("Y = X A", {"X": "N x D", "A": "D x C"}, "N x C", lambda v: v["X"] @ v["A"]),
    Template(
        "y = tanh(A x) .* x",
        {"A": "D x D", "x": "D"},
        "D",
        lambda v: np.tanh(v["A"] @ v["x"]) * v["x"],
    ),
]


def _with_sizes(shape: str, fixed: Mapping[str, int]) -> str:
    """A shape with some of its size names replaced by integers: "C x D" -> "3 x D"."""
    return " x ".join(str(fixed.get(p, p)) for p in re.split(r"\s+x\s+", shape.strip()))


@st.composite
def requests(draw) -> Case:
    t = draw(st.sampled_from(TEMPLATES))
    letters = sorted({p for s in t.shapes.values() for p in parse_shape(s) if not p.isdigit()})
    fixed = {n: draw(st.integers(2, 4)) for n in letters if draw(st.booleans())}
    shapes = {n: _with_sizes(s, fixed) for n, s in t.shapes.items()}
    out_shape = _with_sizes(t.out_shape, fixed)
    wrt = draw(st.sampled_from(sorted(shapes)))
    layout = draw(st.sampled_from(["numerator", "denominator"]))
    example = None
    if draw(st.booleans()):
        sizes = {n: fixed.get(n, SIZE) for n in letters}
        example = {}
        output = t.text.split(";")[-1].split("=")[0].strip()
        for name, shape in ((output, out_shape), (wrt, shapes[wrt])):
            dims_ = free_dims(shape, sizes)
            if dims_ and draw(st.booleans()):
                example[name] = tuple(draw(st.integers(1, n)) for n in dims_)
    seed = draw(st.integers(0, 2**16))
    return Case(t.text, shapes, wrt, t.forward, out_shape, layout, example or None, seed)


@settings(max_examples=25, deadline=None)
@given(requests())
def test_random_requests_plan_and_every_claim_holds(case: Case) -> None:
    steps = case.steps
    assert steps and steps[0].kind == "component_formula" and steps[-1].kind == "summary"
    report = steps[-1].report
    assert report is not None and report.max_error < report.tolerance
    check_all(case)


# == the command line ============================================================================
@dataclass(frozen=True)
class Request:
    text: str
    wrt: str
    shapes: tuple[tuple[str, str], ...]
    example: str | None = None  # as the command line takes it
    example_dict: tuple[tuple[str, tuple[int, ...]], ...] | None = None

    def args(self) -> list[str]:
        out = [self.text, "--wrt", self.wrt]
        for name, shape in self.shapes:
            out += ["-s", f"{name}={shape}"]
        return out + (["--example", self.example] if self.example else [])

    def steps(self) -> tuple:
        example = dict(self.example_dict) if self.example_dict else None
        return derivtex.derive(self.text, self.wrt, dict(self.shapes), example=example).steps


REQUESTS = [
    Request("y = W x", "x", (("W", "C x D"), ("x", "D")), "y=3,x=7", (("y", (3,)), ("x", (7,)))),
    Request("y = x W", "x", (("x", "1 x D"), ("W", "D x C"))),
    Request(
        "y = x W", "W", (("x", "1 x D"), ("W", "D x C")), "y=3;W=7 8", (("y", (3,)), ("W", (7, 8)))
    ),
    Request("Y = X W", "X", (("X", "N x D"), ("W", "D x C"))),
    Request("y = V W x", "x", (("V", "C x M"), ("W", "M x D"), ("x", "D"))),
    Request("y = sigmoid(A x + b)", "x", (("A", "C x D"), ("x", "D"), ("b", "C"))),
    # the method's own objects: sums that leave values out, partials with others held fixed
    Request("L = x^T A x", "x", (("A", "D x D"), ("x", "D"))),
    Request("y = tanh(A x) .* x", "x", (("A", "D x D"), ("x", "D"))),
    Request("L = norm(X w - y)^2", "w", (("X", "N x D"), ("w", "D"), ("y", "N"))),
]
REQUEST_IDS = [f"{r.text} wrt {r.wrt}" for r in REQUESTS]


@pytest.mark.parametrize("request_", REQUESTS, ids=REQUEST_IDS)
def test_cli_plan_text_has_one_block_per_step(request_: Request) -> None:
    result = CliRunner().invoke(cli_main, ["plan", *request_.args()])
    assert result.exit_code == 0, result.output
    blocks = [b.strip() for b in result.output.strip().split("\n\n") if b.strip()]
    steps = request_.steps()
    assert [re.match(r"\[(\w+)\]", b).group(1) for b in blocks] == kinds(steps)
    for block, step in zip(blocks, steps, strict=True):
        assert step.justification in block.splitlines()[0]


def undummy(e: sympy.Basic) -> sympy.Basic:
    return e.xreplace({a: sympy.Symbol(f"_dummy_{a.name}") for a in e.atoms(sympy.Dummy)})


def _check_json(js, value, namespace: dict, where: str, exact: bool) -> None:
    """js is value as JSON: math as latex and srepr, tuples as lists, the report as a dict."""
    if isinstance(value, sympy.Basic):
        assert isinstance(js, dict) and {"latex", "srepr"} <= set(js), where
        assert isinstance(js["latex"], str) and js["latex"], where
        # rebuilt as written: the steps hold display products (x_7 W_{7,3}) sympy would reorder
        with sympy.evaluate(False):
            back = eval(js["srepr"], dict(namespace))  # noqa: S307 - srepr of our own output
        # the JSON comes from its own run: a Dummy (a Lambda's variable) is another Dummy there
        back, value = undummy(back), undummy(value)
        # srepr lists a product's factors in sympy's order, not the display order: equal up to
        # evaluation (exact), or up to the names of summed indices as well
        ok = back == value or evaluated(back) == evaluated(value)
        if not exact:
            ok = ok or canon(evaluated(back)) == canon(evaluated(value))
        assert ok, f"{where}: {js['srepr']} -> {back!r}, expected {value!r}"
    elif isinstance(value, tuple):
        assert isinstance(js, list) and len(js) == len(value), where
        for n, (a, b) in enumerate(zip(js, value, strict=True)):
            _check_json(a, b, namespace, f"{where}[{n}]", exact)
    elif value is None or isinstance(value, str | bool | int | float):
        assert js == value, where
    else:  # the verification report
        assert isinstance(js, dict), where
        for name in value.__slots__:
            _check_json(js[name], getattr(value, name), namespace, f"{where}.{name}", exact)


# srepr names a few sympy classes that the sympy package does not export at its top level
SYMPY = {
    **vars(sympy),
    "Str": sympy.core.symbol.Str,
    "ElementwiseApplyFunction": ElementwiseApplyFunction,
    "DiagMatrix": DiagMatrix,
}
# plus derivtex's own public sympy functions and matrix scalars
PUBLIC = {
    **SYMPY,
    **{n: getattr(F, n) for n in ("sigmoid", "sigmoid_prime", "relu", "relu_prime", "softplus")},
    **{n: getattr(mexpr, n) for n in ("Norm", "Scalar", "SumOf", "Slice")},
}


def _everything() -> dict:
    from derivtex.rendering import printer

    return {**PUBLIC, "_Verbatim": printer._Verbatim, "SumExcept": SumExcept, "Held": Held}


def _json_steps(request_: Request) -> tuple[list, tuple]:
    result = CliRunner().invoke(cli_main, ["plan", *request_.args(), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    steps = request_.steps()
    assert [s["kind"] for s in data] == kinds(steps)
    return data, steps


def _json_fields(request_: Request, namespace: dict, exact: bool, only=None) -> None:
    data, steps = _json_steps(request_)
    for js, step in zip(data, steps, strict=True):
        assert js["justification"] == step.justification
        for name in step.__slots__:
            if name != "justification" and (only is None or (step.kind, name) in only):
                value = getattr(step, name)
                _check_json(js[name], value, namespace, f"{step.kind}.{name}", exact)


@pytest.mark.parametrize("request_", REQUESTS, ids=REQUEST_IDS)
def test_cli_plan_json_round_trips(request_: Request) -> None:
    """Every field is in the JSON; srepr evaluates back to the step's own object."""
    _json_fields(request_, _everything(), exact=False)


@pytest.mark.parametrize("request_", [REQUESTS[n] for n in (0, 1, 2)], ids=REQUEST_IDS[:3])
def test_cli_plan_json_of_the_first_examples_is_exact_plain_sympy(request_: Request) -> None:
    _json_fields(request_, SYMPY, exact=True)


def test_cli_plan_json_srepr_rebuilds_the_chain_rule_sum() -> None:
    _json_fields(REQUESTS[4], SYMPY, exact=True, only={("chain_rule", "component_rhs")})


def test_cli_plan_json_row_block_needs_no_private_class() -> None:
    _json_fields(REQUESTS[3], PUBLIC, exact=False, only={("batch_rows", "row_lhs")})


def test_cli_plan_json_other_batch_fields_are_public() -> None:
    fields = {("batch_rows", n) for n in ("zero_lhs", "shared_lhs", "shared_rhs", "row_rhs")}
    _json_fields(REQUESTS[3], PUBLIC, exact=True, only=fields)


def test_cli_plan_bad_example_is_an_error() -> None:
    args = ["plan", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D", "--example", "x=0"]
    result = CliRunner().invoke(cli_main, args)
    assert result.exit_code != 0
    assert "example" in result.output
