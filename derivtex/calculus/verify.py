"""Prove a derivative: exactly with sympy at small explicit sizes, and by finite differences."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy
from sympy.matrices.exceptions import NonInvertibleMatrixError

from derivtex.calculus import conditioning as C
from derivtex.calculus import numeric as N
from derivtex.calculus import points as P
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
    condition: float | None = None  # largest condition number of a matrix inverted in the samples

    def sizes_text(self) -> str:
        def one(sizes: tuple[tuple[str, int], ...]) -> str:
            return ", ".join(f"{k}={v}" for k, v in sizes) or "fixed sizes"

        text = "; ".join(one(s) for s in self.numeric_sizes)
        return text + (f" ({self.condition_text()})" if self.condition is not None else "")

    def condition_text(self) -> str:
        """The samples' conditioning in words, for the summary ('' when nothing is inverted)."""
        if self.condition is None:
            return ""
        return f"inverted matrices with condition number at most {self.condition:.3g}"


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


def symbolic_check(p: Problem, dims: N.Dims) -> None:
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


def _symbolic_check(p: Problem, dims: N.Dims) -> None:
    try:
        symbolic_check(p, dims)
    except NonInvertibleMatrixError as error:
        raise C.singular(dims) from error


SYMBOLIC_WORK = 500  # past this many monomials (entries x summands), never expand symbolically


def exact_check(p: Problem, dims: N.Dims, *, seed: int = 0, points: int = 2) -> None:
    """Compare with forward-mode derivatives at random exact points; raise on a mismatch.

    Exact rationals where the graph stays rational: a wrong polynomial formula agrees with the
    right one at a random point of the 2^21-wide grid with probability below degree / 2^21, and
    two independent points are tried. 60-digit floats that must agree to 35 digits where a
    function or a root makes values irrational. The symbolic expansion of every entry runs only
    to name the wrong entry of a small failing check, or where points cannot be evaluated.
    """
    try:
        try:
            _point_check(p, dims, P.RationalField(), np.random.default_rng(seed), points)
        except P.Irrational:
            with mpmath.workdps(P.DIGITS):
                _point_check(p, dims, P.FloatField(), np.random.default_rng(seed), points)
    except (P.NoPoint, ZeroDivisionError):  # what points cannot evaluate: expand, as before
        _symbolic_check(p, dims)  # (a divisor that is always zero then reaches the numeric check)
    except VerificationError:
        if symbolic_work(p, dims) <= SYMBOLIC_WORK:
            symbolic_check(p, dims)  # names the entry that differs
        raise


def symbolic_work(p: Problem, dims: N.Dims) -> float:
    """Monomials the symbolic check would expand: Jacobian entries times summands per entry."""
    if any(isinstance(d.op, ir.Apply) for d in p.graph.definitions):
        return float("inf")
    entries = _size(p.graph.shape_of(p.graph.output), dims) * _size(p.graph.shape_of(p.wrt), dims)
    summands = sum(int(np.prod([N.dim_value(d, dims) for _, d in t.sums])) for t in p.index.terms)
    return float(entries * max(1, summands))


def _size(shape: Shape, dims: N.Dims) -> int:
    return N.dim_value(shape.rows, dims) * N.dim_value(shape.cols, dims)


def _rows_cols(shape: Shape, dims: N.Dims) -> tuple[int, int]:
    return N.dim_value(shape.rows, dims), N.dim_value(shape.cols, dims)


def _point_check(p: Problem, dims: N.Dims, field: P.Field, rng, points: int) -> None:
    graph, backend = p.graph, P.PointBackend(field)
    positive = any(_needs_positive(d.op) for d in graph.definitions)
    out_shape, wrt_shape = graph.shape_of(graph.output), graph.shape_of(p.wrt)
    for n in range(points):
        inputs = {
            name: P.random_table(_rows_cols(s, dims), rng, field, positive)
            for name, s in graph.inputs
        }
        direction = P.random_table(_rows_cols(wrt_shape, dims), rng, field, False)
        weight = P.random_table(_rows_cols(out_shape, dims), rng, field, False)
        duals = {
            name: _duals(value, direction if name == p.wrt else None, field)
            for name, value in inputs.items()
        }
        env_dual = N.eval_graph(graph, duals, backend)
        want = _total(weight * P.TANGENT(env_dual[graph.output]))
        env = P.values_of(env_dual)
        got = _projected_index_form(p, env, dims, field, weight, direction)
        _agree(field, got, want, "the index form", n)
        if p.matrix is not None and p.target is not None:
            matrix = N.eval_matrix(p.matrix, env, dims, backend)
            arranged = _arrange(np.outer(weight.reshape(-1), direction.reshape(-1)), p, dims)
            _agree(field, _total(matrix * arranged), want, "the matrix form", n)


def _duals(value: np.ndarray, tangent: np.ndarray | None, field: P.Field) -> np.ndarray:
    """Dual numbers along tangent; without one, plain values (what does not depend on wrt)."""
    if tangent is None:
        return value
    out = np.empty(value.shape, dtype=object)
    for pos in np.ndindex(value.shape):
        out[pos] = P.Dual(value[pos], tangent[pos], field)
    return out


def _total(table: np.ndarray):
    return sum(np.asarray(table, dtype=object).reshape(-1).tolist(), 0)


def _projected_index_form(p: Problem, env, dims, field, weight, direction):
    """sum over (i, j) of weight_i d out_i / d wrt_j direction_j, from the index form."""
    d = p.index
    out_sizes = tuple(N.dim_value(x, dims) for x in d.out_dims)
    wrt_sizes = tuple(N.dim_value(x, dims) for x in d.wrt_dims)
    weights = [(d.out_idx, weight.reshape(out_sizes)), (d.wrt_idx, direction.reshape(wrt_sizes))]
    free = dict(zip(d.out_idx + d.wrt_idx, out_sizes + wrt_sizes, strict=True))
    return P.contract_terms(d.terms, weights, free, env, dims, field)


def _agree(field: P.Field, got, want, what: str, n: int) -> None:
    if field.same(got, want):
        return
    kind = "exact rational" if field.exact else f"{P.DIGITS}-digit"
    raise VerificationError(
        f"the exact check failed: at random {kind} point {n + 1}, {what} projected on random "
        f"weights gives {_short(got)}, forward-mode differentiation gives {_short(want)}",
        hint="this is a bug in derivtex; please report the expression",
    )


def _short(x) -> str:
    text = mpmath.nstr(x, 12) if isinstance(x, mpmath.mpf | mpmath.mpc) else str(x)
    return text if len(text) <= 60 else text[:57] + "..."


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
    squares = C.square_kinds(graph)
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
            if name in squares and full[0] == full[1]:
                values[name] = C.sample(squares[name], full[0], rng)
        if _well_inside(graph, values):
            break
    return values


_ATTEMPTS = 40


def _away(value: np.ndarray, margin: float) -> bool:
    return bool(np.abs(value).min() > margin)


_KINK_MARGIN, _DIVISOR_MARGIN, _UNIT_MARGIN = 0.05, 0.15, 0.9


def _well_inside(graph: ir.Graph, values: dict) -> bool:
    """No kink argument near 0 (abs, sign, relu), no divisor near 0, arcsin's arguments inside."""
    env = C.env_or_none(graph, values)
    if env is None or not C.conditioned(graph, env):
        return False
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


def _sample(graph: ir.Graph, symbols: tuple, rng) -> tuple[N.Dims, dict, float | None]:
    """Random sizes and values; sizes are drawn again where what is inverted is singular."""
    for _ in range(_ATTEMPTS):
        dims = {d: int(rng.integers(2, 6)) for d in symbols}
        values = random_values(graph, dims, rng)
        if not C.has_inverse(graph):
            return dims, values, None
        env = C.env_or_none(graph, values)
        if env is not None and C.conditioned(graph, env):
            return dims, values, C.condition(graph, env)
    raise C.singular()


def finite_differences(
    graph: ir.Graph, wrt: str, values: dict, h: float = 1e-6, directions: np.ndarray | None = None
) -> np.ndarray:
    """Central differences: an array of shape out.shape + wrt.shape (numerator layout).

    With `directions` (shape (k,) + wrt.shape), the k directional derivatives instead: an
    array of shape out.shape + (k,).
    """
    out_shape = graph.shape_of(graph.output)

    def f(v: dict) -> np.ndarray:
        arrays, _ = N.bind(graph, v)
        return N.to_numpy_shape(N.eval_graph(graph, arrays)[graph.output], out_shape)

    base = np.asarray(values[wrt], dtype=float)
    if directions is None:
        directions = np.eye(base.size).reshape((base.size, *base.shape))
        shape = base.shape
    else:
        shape = directions.shape[:1]
    jac = np.zeros(f(values).shape + (len(directions),))
    for n, step in enumerate(directions):
        plus, minus = f({**values, wrt: base + h * step}), f({**values, wrt: base - h * step})
        jac[..., n] = (plus - minus) / (2 * h)
    return jac.reshape(jac.shape[:-1] + shape)


def numeric_check(p: Problem, evaluate, values: dict, tol: float) -> float:
    """Largest difference between the derived Jacobian and finite differences."""
    with np.errstate(all="ignore"):  # a value that is not real becomes nan, reported below
        return _numeric_check(p, evaluate, values, tol)


FULL_FD = 36  # up to this many entries of wrt, difference along each; else along DIRECTIONS
DIRECTIONS = 8


def _numeric_check(p: Problem, evaluate, values: dict, tol: float) -> float:
    arrays, dims = N.bind(p.graph, values)
    n_wrt = int(np.asarray(values[p.wrt]).size)
    # (n_wrt, k): the directions as columns; the identity compares every partial
    along = np.eye(n_wrt) if n_wrt <= FULL_FD else _directions(n_wrt)
    shaped = along.T.reshape((along.shape[1], *np.asarray(values[p.wrt]).shape))
    fd = finite_differences(p.graph, p.wrt, values, directions=shaped)
    out_size = int(fd.size // along.shape[1]) if along.shape[1] else 0
    fd = fd.reshape(out_size, along.shape[1])
    got = evaluate(values).reshape(out_size, n_wrt) @ along
    scale = max(1.0, float(np.max(np.abs(fd)))) if fd.size else 1.0
    err = float(np.max(np.abs(got - fd))) / scale if fd.size else 0.0
    if p.matrix is not None and p.target is not None:
        env = N.eval_graph(p.graph, arrays)
        matrix = N.eval_matrix(p.matrix, env, dims)
        jac = _unarrange(np.asarray(matrix, dtype=float), p, out_size, n_wrt)
        err = max(err, float(np.max(np.abs(jac @ along - fd))) / scale)
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


def _directions(n: int) -> np.ndarray:
    """DIRECTIONS random unit vectors as columns (a wrong Jacobian moves all but a null set)."""
    v = np.random.default_rng(n).normal(size=(n, DIRECTIONS))
    return v / np.linalg.norm(v, axis=0)


def _unarrange(matrix: np.ndarray, p: Problem, out_size: int, n_wrt: int) -> np.ndarray:
    """The matrix form back as the Jacobian (rows: output entries, columns: wrt entries)."""
    both = len(p.index.out_idx) == 1 and len(p.index.wrt_idx) == 1
    if both and p.layout == "denominator":
        return matrix.reshape(n_wrt, out_size).T
    return matrix.reshape(out_size, n_wrt)


def _exact(p: Problem, symbols: tuple, seed: int) -> N.Dims:
    """Run the exact check at sizes 2, 3, 2, ...; where that makes an inverse singular
    (X X^T with X 3 x 2), at 3, 2, 3, ... instead. Returns the sizes used."""
    dims = {d: 2 + n % 2 for n, d in enumerate(symbols)}
    try:
        exact_check(p, dims, seed=seed)
    except UnsupportedError as error:
        if "singular" not in str(error) or len(symbols) < 2:
            raise
        dims = {d: 3 - n % 2 for n, d in enumerate(symbols)}
        exact_check(p, dims, seed=seed)
    return dims


def verify(p: Problem, evaluate, *, seed: int = 0, trials: int = 2, tol: float = 1e-5):
    """Run the exact check at small sizes and the numerical check at random sizes."""
    symbols = symbolic_dims(p.graph)
    exact_dims = _exact(p, symbols, seed)
    rng = np.random.default_rng(seed)
    sizes, worst, conditions = [], 0.0, []
    # With no size to vary, one finite-difference point: the exact check tried two already.
    for _ in range(trials if symbols else min(trials, 1)):
        dims, values, cond = _sample(p.graph, symbols, rng)
        worst = max(worst, numeric_check(p, evaluate, values, tol))
        sizes.append(tuple((str(k), v) for k, v in dims.items()))
        conditions += [cond] if cond is not None else []
    exact = tuple((str(k), v) for k, v in exact_dims.items())
    condition = max(conditions) if conditions else None
    return VerificationReport(True, exact, tuple(sizes), worst, tol, condition)
