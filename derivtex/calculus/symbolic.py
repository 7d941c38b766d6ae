"""The symbolic check: every entry against sympy's own derivative of explicit matrices."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import TypeAlias

import numpy as np
import sympy
from sympy.matrices.exceptions import NonInvertibleMatrixError

from derivtex.calculus import conditioning as C
from derivtex.calculus import numeric as N
from derivtex.calculus.backends import SYMPY, Matrix
from derivtex.calculus.engine import IndexDerivative
from derivtex.calculus.problem import Problem, arrange
from derivtex.errors import UnsupportedError, VerificationError
from derivtex.language import ir
from derivtex.language.shapes import Shape

# Entries of explicit matrices (x[1], W[1, 2], n) and their values
ExplicitEnv: TypeAlias = dict[sympy.Expr, sympy.Expr]


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
    explicit_env = index_env(p.graph, env)
    for (oi, o_idx), (wi, w_idx) in itertools.product(
        positions(p, True, dims), positions(p, False, dims)
    ):
        got = index_value(p.index, o_idx + w_idx, explicit_env, dims)
        same(got, expected[oi][wi], f"d{p.graph.output}{o_idx}/d{p.wrt}{w_idx}")
    if p.matrix is not None and p.target is not None:
        got_matrix = N.eval_matrix(p.matrix, env, dims, SYMPY)
        want = arrange(sympy.ImmutableMatrix(expected), p, dims)
        for (r, c), value in np.ndenumerate(np.array(want.tolist(), dtype=object)):
            same(got_matrix[r, c], value, f"entry ({r + 1}, {c + 1}) of the matrix form")


def symbolic_check_or_singular(p: Problem, dims: N.Dims) -> None:
    try:
        symbolic_check(p, dims)
    except NonInvertibleMatrixError as error:
        raise C.singular(dims) from error


def positions(p: Problem, out: bool, dims: N.Dims) -> Iterator[tuple[int, tuple[int, ...]]]:
    """(flat position, 1-based free indices) of every entry of the output or of wrt."""
    shape = p.graph.shape_of(p.graph.output if out else p.wrt)
    rows, cols = N.dim_value(shape.rows, dims), N.dim_value(shape.cols, dims)
    for flat, (r, c) in enumerate(itertools.product(range(rows), range(cols))):
        idx = tuple(i + 1 for i, d in ((r, shape.rows), (c, shape.cols)) if d != 1)
        yield flat, idx


def index_env(graph: ir.Graph, env: Mapping[str, Matrix]) -> ExplicitEnv:
    """Entries of named intermediates (z[2], n) and scalar inputs, as their explicit values."""
    mapping: ExplicitEnv = {}
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


def index_value(
    d: IndexDerivative, values: tuple[int, ...], env: ExplicitEnv, dims: N.Dims
) -> sympy.Expr:
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


def same(got: sympy.Expr, want: sympy.Expr, where: str) -> None:
    if want.has(sympy.zoo, sympy.nan, sympy.oo):
        raise UnsupportedError(
            f"the derivative is not defined at {where}: the expression divides by zero",
            hint="check the divisors: a ./ or / by a value that is always 0 has no derivative",
        )
    diff = sympy.expand(got - want, power_exp=True)
    if diff != 0 and not rational_zero(diff) and sympy.simplify(diff) != 0:
        raise VerificationError(
            f"the exact check failed at {where}: derived {got}, sympy finds {want}",
            hint="this is a bug in derivtex; please report the expression",
        )


def rational_zero(expr: sympy.Expr) -> bool:
    """Whether expr is 0 as a rational function of its function values (exp(z_1), log(p_2)...).

    Sound: an identity in free symbols holds for any values put in them. It decides softmax's
    quotients in milliseconds where simplify takes seconds; when it cannot, simplify decides.
    """
    names: dict[sympy.Expr, sympy.Dummy] = {}
    calls: dict[sympy.Expr, sympy.Expr] = {}
    for f in expr.atoms(sympy.Function):
        power, base = 1, f
        if isinstance(f, sympy.exp):  # exp(-2 a) is X^-2 with X = exp(a): one symbol for both
            c, rest = f.args[0].as_coeff_Mul()
            power, base = (int(c), sympy.exp(rest)) if c.is_Integer else (1, f)
        calls[f] = names.setdefault(base, sympy.Dummy()) ** power
    try:
        return bool(sympy.cancel(expr.xreplace(calls)) == 0)
    except sympy.PolynomialError:
        return False
