"""Prove a derivative: exactly with sympy at small explicit sizes, and by finite differences."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus.backends import SYMPY
from derivtex.calculus.engine import IndexDerivative
from derivtex.calculus.matrixform import Target
from derivtex.errors import UnsupportedError, VerificationError
from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.shapes import Shape


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What was checked and how well it held."""

    exact: bool
    exact_sizes: tuple[tuple[str, int], ...]
    numeric_sizes: tuple[tuple[tuple[str, int], ...], ...]
    max_error: float
    tolerance: float

    def sizes_text(self) -> str:
        def one(sizes: tuple[tuple[str, int], ...]) -> str:
            return ", ".join(f"{k}={v}" for k, v in sizes) or "fixed sizes"

        return "; ".join(one(s) for s in self.numeric_sizes)


@dataclass(frozen=True, slots=True)
class Problem:
    """Everything the checks need about one derivative."""

    graph: ir.Graph
    wrt: str
    index: IndexDerivative
    matrix: sympy.Basic | None
    target: Target | None
    layout: str


def symbolic_dims(graph: ir.Graph) -> tuple[sympy.Symbol, ...]:
    dims = {d for _, s in graph.inputs for d in (s.rows, s.cols) if not d.is_Integer}
    return tuple(sorted(dims, key=str))


# -- the exact check -----------------------------------------------------------------------------
def explicit_input(name: str, shape: Shape, dims: N.Dims) -> sympy.ImmutableMatrix:
    """A declared input as a matrix of its own entries x[1], W[1, 2], ... (a scalar: x)."""
    if shape.is_scalar:
        return sympy.ImmutableMatrix([[sympy.Symbol(name)]])
    base = sympy.IndexedBase(name)
    rows, cols = N.dim_value(shape.rows, dims), N.dim_value(shape.cols, dims)
    one_index = len(shape.free_dims) == 1

    def entry(r: int, c: int) -> sympy.Expr:
        return base[max(r, c) + 1] if one_index else base[r + 1, c + 1]

    return sympy.ImmutableMatrix(rows, cols, lambda r, c: entry(r, c))


def exact_check(p: Problem, dims: N.Dims) -> None:
    """Compare every entry with sympy's own scalar derivative; raise on the first mismatch."""
    env = {name: explicit_input(name, s, dims) for name, s in p.graph.inputs}
    env = N.eval_graph(p.graph, env, SYMPY)
    out, wrt = env[p.graph.output], env[p.wrt]
    expected = [[sympy.diff(o, w) for w in wrt] for o in out]
    index_env = _index_env(p.graph, env)
    for (oi, o_idx), (wi, w_idx) in itertools.product(
        _positions(p, True, dims), _positions(p, False, dims)
    ):
        got = _index_value(p.index, o_idx + w_idx, index_env, dims)
        _same(got, expected[oi][wi], f"d{p.graph.output}{o_idx}/d{p.wrt}{w_idx}")
    if p.matrix is not None and p.target is not None:
        got_matrix = N.eval_matrix(p.matrix, env, dims, SYMPY)
        want = _arrange(sympy.ImmutableMatrix(expected), p, dims)
        for (r, c), value in np.ndenumerate(np.array(want.tolist(), dtype=object)):
            _same(got_matrix[r, c], value, f"entry ({r + 1}, {c + 1}) of the matrix form")


def _positions(p: Problem, out: bool, dims: N.Dims):
    """(flat position, 1-based free indices) of every entry of the output or of wrt."""
    shape = p.graph.shape_of(p.graph.output if out else p.wrt)
    rows, cols = N.dim_value(shape.rows, dims), N.dim_value(shape.cols, dims)
    for flat, (r, c) in enumerate(itertools.product(range(rows), range(cols))):
        idx = tuple(i + 1 for i, d in ((r, shape.rows), (c, shape.cols)) if d != 1)
        yield flat, idx


def _index_env(graph: ir.Graph, env: dict) -> dict:
    """Entries of named intermediates (z[2], n) and scalar inputs, as their explicit values."""
    mapping: dict = {}
    for name, value in env.items():
        if name not in graph.names:
            continue  # a size, such as N in x / N (kept as "#N")
        shape = graph.shape_of(name)
        if shape.is_scalar:
            mapping[sympy.Symbol(name)] = value[0, 0]
            continue
        if name in dict(graph.inputs):
            continue
        base = sympy.IndexedBase(name)
        for (r, c), v in np.ndenumerate(np.array(value.tolist(), dtype=object)):
            key = base[max(r, c) + 1] if len(shape.free_dims) == 1 else base[r + 1, c + 1]
            mapping[key] = v
    return mapping


def _index_value(d: IndexDerivative, values: tuple, env: dict, dims: N.Dims) -> sympy.Expr:
    subs = dict(zip(d.out_idx + d.wrt_idx, values, strict=True))
    parts = []
    for term in d.terms:
        # Written out by hand rather than Sum.doit: the same terms, several times faster.
        ranges = [range(1, N.dim_value(dim, dims) + 1) for _, dim in term.sums]
        indices = [k for k, _ in term.sums]
        factor = term.factor.xreplace(subs)
        for point in itertools.product(*ranges):
            parts.append(factor.xreplace(dict(zip(indices, point, strict=True))))
    return sympy.Add(*parts).xreplace(env).xreplace(dims)


def _same(got: sympy.Expr, want: sympy.Expr, where: str) -> None:
    if want.has(sympy.zoo, sympy.nan, sympy.oo):
        raise UnsupportedError(
            f"the derivative is not defined at {where}: the expression divides by zero",
            hint="check the divisors: a ./ or / by a value that is always 0 has no derivative",
        )
    diff = sympy.expand(got - want, power_exp=True)
    if diff != 0 and not _rational_zero(diff) and sympy.simplify(diff) != 0:
        raise VerificationError(
            f"the exact check failed at {where}: derived {got}, sympy finds {want}",
            hint="this is a bug in derivtex; please report the expression",
        )


def _rational_zero(expr: sympy.Expr) -> bool:
    """Whether expr is 0 as a rational function of its function values (exp(z_1), log(p_2)...).

    Sound: an identity in free symbols holds for any values put in them. It decides softmax's
    quotients in milliseconds where simplify takes seconds; when it cannot, simplify decides.
    """
    names: dict[sympy.Expr, sympy.Dummy] = {}
    calls = {}
    for f in expr.atoms(sympy.Function):
        power, base = 1, f
        if isinstance(f, sympy.exp):  # exp(-2 a) is X^-2 with X = exp(a): one symbol for both
            c, rest = f.args[0].as_coeff_Mul()
            power, base = (int(c), sympy.exp(rest)) if c.is_Integer else (1, f)
        calls[f] = names.setdefault(base, sympy.Dummy()) ** power
    try:
        return sympy.cancel(expr.xreplace(calls)) == 0
    except sympy.PolynomialError:
        return False


def _arrange(jac, p: Problem, dims: N.Dims):
    """The Jacobian (rows: output entries, columns: wrt entries) in the matrix form's layout."""
    tgt = p.target
    assert tgt is not None
    both = len(p.index.out_idx) == 1 and len(p.index.wrt_idx) == 1
    flat = jac.T if both and p.layout == "denominator" else jac
    return flat.reshape(N.dim_value(tgt.rows, dims), N.dim_value(tgt.cols, dims))


# -- the numerical check -------------------------------------------------------------------------
def _needs_positive(op: ir.Op) -> bool:
    """log, sqrt and fractional powers are real only for positive arguments."""
    if isinstance(op, ir.Apply) and ELEMENTWISE[op.func].positive_domain:
        return True
    if isinstance(op, ir.Power) and not op.exponent.is_integer:
        return True
    return any(_needs_positive(c) for c in ir.children(op))


def _needs_unit(op: ir.Op) -> bool:
    """arcsin, arccos and tan want arguments well inside (-1, 1)."""
    return any(isinstance(o, ir.Apply) and ELEMENTWISE[o.func].unit_domain for o in ir.walk(op))


def random_values(graph: ir.Graph, dims: N.Dims, rng: np.random.Generator) -> dict:
    """Random inputs: positive where log or sqrt need it, and away from kinks and poles."""
    positive = any(_needs_positive(d.op) for d in graph.definitions)
    unit = any(_needs_unit(d.op) for d in graph.definitions)
    low, high = (0.1, 0.4) if unit else (0.5, 1.5)
    values: dict = {}
    for _ in range(_ATTEMPTS):
        for name, shape in graph.inputs:
            full = (N.dim_value(shape.rows, dims), N.dim_value(shape.cols, dims))
            np_shape = (
                full[:0] if shape.numpy_rank == 0 else full[:1] if shape.numpy_rank == 1 else full
            )
            values[name] = (
                rng.uniform(low, high, np_shape)
                if positive
                else rng.normal(0, 0.2 if unit else 0.7, np_shape)
            )
        if _well_inside(graph, values):
            break
    return values


_ATTEMPTS = 40


def _away(value: np.ndarray, margin: float) -> bool:
    return bool(np.abs(value).min() > margin)


_KINK_MARGIN, _DIVISOR_MARGIN, _UNIT_MARGIN = 0.05, 0.15, 0.9


def _well_inside(graph: ir.Graph, values: dict) -> bool:
    """No kink argument near 0 (abs, sign, relu), no divisor near 0, arcsin's arguments inside."""
    arrays, _ = N.bind(graph, values)
    with np.errstate(all="ignore"):
        env = N.eval_graph(graph, arrays)
    for op in (o for d in graph.definitions for o in ir.walk(d.op)):
        if isinstance(op, ir.Apply):
            info, arg = ELEMENTWISE[op.func], np.abs(env[op.arg.name])
            if info.kink and arg.min() < _KINK_MARGIN:
                return False
            if info.unit_domain and not arg.max() < _UNIT_MARGIN:
                return False
        divisor = op.right if isinstance(op, ir.Divide) else None
        if isinstance(divisor, ir.Leaf | ir.Ref) and not _away(env[divisor.name], _DIVISOR_MARGIN):
            return False
    return True


def finite_differences(graph: ir.Graph, wrt: str, values: dict, h: float = 1e-6) -> np.ndarray:
    """Central differences: an array of shape out.shape + wrt.shape (numerator layout)."""
    out_shape = graph.shape_of(graph.output)

    def f(v: dict) -> np.ndarray:
        arrays, _ = N.bind(graph, v)
        return N.to_numpy_shape(N.eval_graph(graph, arrays)[graph.output], out_shape)

    base = np.asarray(values[wrt], dtype=float)
    jac = np.zeros(f(values).shape + base.shape)
    for pos in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[pos] = h
        plus, minus = f({**values, wrt: base + step}), f({**values, wrt: base - step})
        jac[(..., *pos)] = (plus - minus) / (2 * h)
    return jac


def numeric_check(p: Problem, evaluate, values: dict, tol: float) -> float:
    """Largest difference between the derived Jacobian and finite differences."""
    with np.errstate(all="ignore"):  # a value that is not real becomes nan, reported below
        return _numeric_check(p, evaluate, values, tol)


def _numeric_check(p: Problem, evaluate, values: dict, tol: float) -> float:
    fd = finite_differences(p.graph, p.wrt, values)
    got = evaluate(values)
    scale = max(1.0, float(np.max(np.abs(fd))))
    err = float(np.max(np.abs(got - fd))) / scale if fd.size else 0.0
    if p.matrix is not None and p.target is not None:
        arrays, dims = N.bind(p.graph, values)
        env = N.eval_graph(p.graph, arrays)
        matrix = N.eval_matrix(p.matrix, env, dims)
        want = _arrange(fd.reshape(_out_size(fd, p, dims), -1), p, dims)
        err = max(err, float(np.max(np.abs(matrix - want))) / scale)
    if np.isnan(err):
        raise UnsupportedError(
            "derivtex cannot verify this expression: it is not real-valued at the numeric "
            "sample point (a log, sqrt or fractional power of a negative value?)",
            hint="derive with steps=False to skip verification, or rewrite the expression so "
            "such arguments stay positive",
        )
    if not err <= tol:
        raise VerificationError(
            f"the derivative disagrees with finite differences by {err:.2e} (tolerance {tol:.0e})",
            hint="this is a bug in derivtex; please report the expression",
        )
    return err


def _out_size(fd: np.ndarray, p: Problem, dims: N.Dims) -> int:
    shape = p.graph.shape_of(p.graph.output)
    return N.dim_value(shape.rows, dims) * N.dim_value(shape.cols, dims)


def verify(p: Problem, evaluate, *, seed: int = 0, trials: int = 2, tol: float = 1e-5):
    """Run the exact check at small sizes and the numerical check at random sizes."""
    symbols = symbolic_dims(p.graph)
    exact_dims = {d: 2 + n % 2 for n, d in enumerate(symbols)}
    exact_check(p, exact_dims)
    rng = np.random.default_rng(seed)
    sizes, worst = [], 0.0
    for _ in range(trials):
        dims = {d: int(rng.integers(2, 6)) for d in symbols}
        worst = max(worst, numeric_check(p, evaluate, random_values(p.graph, dims, rng), tol))
        sizes.append(tuple((str(k), v) for k, v in dims.items()))
    return VerificationReport(
        True, tuple((str(k), v) for k, v in exact_dims.items()), tuple(sizes), worst, tol
    )
