"""Evaluate graphs, index forms and matrix forms, in numpy or exactly in sympy."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from derivtex.calculus import mexpr
from derivtex.calculus.backends import NUMPY, Array, Backend, FloatArray, Matrix, to_numpy
from derivtex.calculus.terms import Terms
from derivtex.errors import InputError
from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.shapes import Shape

Dims: TypeAlias = dict[sympy.Symbol, int]
Env: TypeAlias = dict[str, Matrix]  # each name's value (2-D); sizes under size_key
Values: TypeAlias = Mapping[str, npt.ArrayLike]  # inputs by name, in the user's shapes


# -- binding values ------------------------------------------------------------------------------
def bind(graph: ir.Graph, values: Mapping[str, Any]) -> tuple[dict[str, FloatArray], Dims]:
    """Every input as a 2-D float array, and the size of every symbolic dimension."""
    dims: Dims = {}
    arrays: dict[str, FloatArray] = {}
    for name, shape in graph.inputs:
        if name not in values:
            raise InputError(f"no value given for {name!r}", hint=f"pass values[{name!r}]")
        arr = np.asarray(values[name], dtype=float)
        if arr.ndim != shape.numpy_rank:
            raise InputError(
                f"{name!r} is declared {shape.text()} but its value has shape {arr.shape}",
                hint='a "D" vector is an array of shape (D,), "1 x D" is (1, D), a scalar is ()',
            )
        arrays[name] = arr.reshape(_rows_cols(arr, shape))
        for dim, size in zip((shape.rows, shape.cols), arrays[name].shape, strict=True):
            _bind_dim(dims, name, dim, size)
    return arrays, dims


def _rows_cols(arr: FloatArray, shape: Shape) -> tuple[int, int]:
    if shape.numpy_rank == 0:
        return (1, 1)
    return (arr.shape[0], 1) if shape.numpy_rank == 1 else arr.shape


def _bind_dim(dims: Dims, name: str, dim: sympy.Expr, size: int) -> None:
    if dim.is_Integer:
        if int(dim) != size:
            raise InputError(f"{name!r} has size {size} where its shape says {dim}")
        return
    if dims.setdefault(dim, size) != size:
        raise InputError(f"dimension {dim} is {dims[dim]} elsewhere but {size} in {name!r}")


def dim_value(dim: sympy.Expr, dims: Dims) -> int:
    return int(dim.xreplace(dims))


def to_numpy_shape(arr: Array, shape: Shape) -> Array:
    """A 2-D internal array back in the shape the user stores the tensor in."""
    if shape.numpy_rank == 0:
        return arr.reshape(())
    return arr.reshape(-1) if shape.numpy_rank == 1 else arr


# -- graphs --------------------------------------------------------------------------------------
def eval_graph(graph: ir.Graph, env: Mapping[str, Matrix], backend: Backend = NUMPY) -> Env:
    """Values of every definition (2-D), added to a copy of the inputs' values."""
    env = dict(env)
    for dim, size in _sizes(graph, env).items():  # x / N reads N's value here
        env[size_key(dim)] = backend.scalar(size)
    for definition in graph.definitions:
        env[definition.name] = eval_op(definition.op, env, backend)
    return env


def size_key(dim: sympy.Symbol) -> str:
    """Where a size's value is kept in an environment: never a tensor's name (no '#' in names)."""
    return f"#{dim.name}"


def _key(symbol: sympy.Symbol) -> str:
    """The environment key of a symbol: sizes are integer symbols, tensors' names are plain."""
    return size_key(symbol) if symbol.is_integer else symbol.name


def _sizes(graph: ir.Graph, env: Env) -> dict[sympy.Expr, int]:
    """The size of every symbolic dimension, read off the inputs' values."""
    sizes: dict[sympy.Expr, int] = {}
    for name, shape in graph.inputs:
        for dim, size in zip((shape.rows, shape.cols), env[name].shape, strict=True):
            if not dim.is_Integer:
                sizes[dim] = int(size)
    return sizes


def _size(expr: sympy.Expr, env: Env, b: Backend) -> sympy.Expr:
    """A size expression (N, N D) with the sizes filled in from env."""
    sizes = {s: sympy.Integer(int(b.entry(env[size_key(s)]))) for s in expr.free_symbols}
    return expr.xreplace(sizes)


def _entrywise(
    op: ir.Add | ir.Hadamard | ir.Divide,
    env: Env,
    b: Backend,
    combine: Callable[[Matrix, Matrix], Matrix],
) -> Matrix:
    x, y = eval_op(op.left, env, b), eval_op(op.right, env, b)
    if op.broadcast:
        rows, cols = max(x.shape[0], y.shape[0]), max(x.shape[1], y.shape[1])
        x, y = b.expand(x, rows, cols), b.expand(y, rows, cols)
    return combine(x, y)


def eval_op(op: ir.Op, env: Env, b: Backend) -> Matrix:
    match op:
        case ir.Leaf(name=name) | ir.Ref(name=name):
            return env[name]
        case ir.Const(value=v):
            return b.scalar(v)
        case ir.Dim(value=v):
            return b.scalar(_size(v, env, b))
        case ir.Eye(size=v):
            return b.eye(int(_size(v, env, b)))
        case ir.Ones(shape=shape):
            return b.full(1, int(_size(shape.cols, env, b)), 1)
        case ir.Scale(factor=f, arg=a):
            return b.entry(eval_op(f, env, b)) * eval_op(a, env, b)
        case ir.MatMul(left=x, right=y):
            return b.matmul(eval_op(x, env, b), eval_op(y, env, b))
        case ir.Add():
            return _entrywise(op, env, b, lambda x, y: x + y)
        case ir.Hadamard():
            return _entrywise(op, env, b, b.hadamard)
        case ir.Divide():
            return _entrywise(op, env, b, b.divide)
        case ir.Transpose(arg=a):
            return b.transpose(eval_op(a, env, b))
        case ir.Apply(func=f, arg=a):
            u = sympy.Dummy("u")
            return b.apply(sympy.Lambda(u, ELEMENTWISE[f].sympy_func(u)), env[a.name])
        case ir.Power(base=a, exponent=p):
            return b.power(env[a.name], p)
        case ir.Softmax(arg=a):
            return b.softmax(env[a.name])
        case ir.Diag(arg=a):
            inner = eval_op(a, env, b)
            return b.diag(inner) if len(op.shape.free_dims) == 2 else b.diagonal(inner)
        case ir.Inverse(arg=a):
            return b.inverse(env[a.name])
        case ir.Det(arg=a, log=log):
            return b.logdet(env[a.name]) if log else b.det(env[a.name])
        case ir.Total(arg=a):
            return b.total(eval_op(a, env, b))
        case ir.Trace(arg=a):
            return b.trace(eval_op(a, env, b))
        case ir.Length(arg=a):
            return b.norm(eval_op(a, env, b))
        case ir.SmoothMax(arg=a):
            return b.logsumexp(eval_op(a, env, b))
    raise TypeError(op)


Grid: TypeAlias = dict[sympy.Symbol, Array]  # each index's 1-based values across a factor


# -- index forms ---------------------------------------------------------------------------------
def eval_terms(
    terms: Terms,
    free: tuple[sympy.Symbol, ...],
    free_dims: tuple[int, ...],
    env: Mapping[str, Matrix],
    dims: Dims,
) -> FloatArray:
    """Sum of products over the free indices, by einsum: an array with one axis per index."""
    out = np.zeros(free_dims)
    for term in terms:
        sizes = dict(zip(free, free_dims, strict=True))
        sizes.update({k: dim_value(d, dims) for k, d in term.sums})
        letters = {s: string.ascii_letters[n] for n, s in enumerate(sizes)}
        operands, specs = [], []
        for factor in sympy.Mul.make_args(term.factor):
            idx = sorted((s for s in factor.free_symbols if s in sizes), key=str)
            operands.append(_factor_array(factor, idx, sizes, env))
            specs.append("".join(letters[s] for s in idx))
        for s in free:  # a free index no factor uses: the term is constant along it
            operands.append(np.ones(sizes[s]))
            specs.append(letters[s])
        spec = ",".join(specs) + "->" + "".join(letters[s] for s in free)
        # greedy: pairwise contractions, so a chain of products costs its length, not the
        # product of its sizes
        out = out + np.einsum(spec, *operands, optimize="greedy")
    return out


def _factor_array(
    factor: sympy.Expr,
    idx: list[sympy.Symbol],
    sizes: dict[sympy.Symbol, int],
    env: Mapping[str, Matrix],
) -> FloatArray:
    """One factor as an array over its indices, by broadcasting every entry it reads."""
    shape = tuple(sizes[s] for s in idx)
    grids = np.indices(shape) if idx else np.zeros((0,), dtype=int)
    position = {s: grids[n] + 1 for n, s in enumerate(idx)}  # indices count from 1
    arrays = {
        atom: _atom_array(atom, position, shape, env)
        for atom in factor.atoms(sympy.Indexed, sympy.KroneckerDelta, sympy.Symbol)
        if not (isinstance(atom, sympy.Symbol) and atom in sizes)
    }
    return np.broadcast_to(np.asarray(to_numpy(factor, arrays), dtype=float), shape)


def _atom_array(
    atom: sympy.Expr, position: Grid, shape: tuple[int, ...], env: Mapping[str, Matrix]
) -> FloatArray:
    if isinstance(atom, sympy.KroneckerDelta):
        a, b = (_position(x, position, shape) for x in atom.args)
        delta: FloatArray = (a == b).astype(float)
        return delta
    if isinstance(atom, sympy.Symbol):
        return np.full(shape, float(np.asarray(env[_key(atom)]).reshape(-1)[0]))
    value = env[str(atom.base.label)]
    pos = [_position(x, position, shape) - 1 for x in atom.indices]
    read: FloatArray = value.reshape(-1)[pos[0]] if len(pos) == 1 else value[pos[0], pos[1]]
    return read


def _position(x: sympy.Expr, position: Grid, shape: tuple[int, ...]) -> Array:
    """The 1-based values an index takes across the factor's grid."""
    if x in position:
        return position[x]
    return np.full(shape, int(x))


# -- matrix forms --------------------------------------------------------------------------------
def eval_matrix(
    expr: sympy.Basic, env: Mapping[str, Matrix], dims: Dims, b: Backend = NUMPY
) -> Matrix:
    """A matrix-form expression as a 2-D value (scalars as 1 x 1)."""
    if not isinstance(expr, sympy.MatrixExpr):
        return b.scalar(_eval_scalar(expr, env, dims, b))

    def size(dim: sympy.Expr) -> int:
        return dim_value(dim, dims)

    match expr:
        case sympy.MatrixSymbol():
            return env[expr.name]
        case sympy.Transpose():
            return b.transpose(eval_matrix(expr.arg, env, dims, b))
        case sympy.MatMul():
            return _matmul(expr, env, dims, b)
        case sympy.MatAdd():
            parts = [eval_matrix(a, env, dims, b) for a in expr.args]
            return sum(parts[1:], parts[0])
        case sympy.HadamardProduct():
            parts = [eval_matrix(a, env, dims, b) for a in expr.args]
            out = parts[0]
            for p in parts[1:]:
                out = b.hadamard(out, p)
            return out
        case sympy.Identity():
            return b.eye(size(expr.rows))
        case sympy.OneMatrix():
            return b.full(size(expr.rows), size(expr.cols), 1)
        case sympy.ZeroMatrix():
            return b.full(size(expr.rows), size(expr.cols), 0)
        case DiagMatrix():
            return b.diag(eval_matrix(expr.args[0], env, dims, b))
        case DiagonalOf():
            return b.diagonal(eval_matrix(expr.arg, env, dims, b))
        case sympy.HadamardPower():
            return b.power(eval_matrix(expr.base, env, dims, b), expr.exp)
        case mexpr.ElementwiseDivide():
            x, y = (eval_matrix(a, env, dims, b) for a in expr.args)
            return b.divide(x, y)
        case mexpr.SoftmaxOf():
            return b.softmax(eval_matrix(expr.arg, env, dims, b))
        case ElementwiseApplyFunction():
            return b.apply(
                _bound(expr.function, env, dims, b), eval_matrix(expr.expr, env, dims, b)
            )
        case sympy.Trace():
            return b.trace(eval_matrix(expr.arg, env, dims, b))
        case sympy.Inverse():
            return b.inverse(eval_matrix(expr.arg, env, dims, b))
        case sympy.MatPow() if expr.exp.is_Integer and expr.exp > 0:
            base = eval_matrix(expr.base, env, dims, b)
            out = base
            for _ in range(int(expr.exp) - 1):
                out = b.matmul(out, base)
            return out
    raise TypeError(f"cannot evaluate {type(expr).__name__}")


def _bound(
    function: sympy.Lambda, env: Mapping[str, Matrix], dims: Dims, b: Backend
) -> sympy.Lambda:
    """A function body's other values filled in: exp(d - s) with s = logsumexp(z) known."""
    (var,) = function.variables
    free = function.expr.free_symbols - {var}
    values = {s: b.entry(env[_key(s)]) for s in free if _key(s) in env}
    return function.xreplace({**dims, **values}) if free else function


def _matmul(expr: sympy.MatMul, env: Mapping[str, Matrix], dims: Dims, b: Backend) -> Matrix:
    coeff, out = 1, None
    for arg in expr.args:
        if not isinstance(arg, sympy.MatrixExpr):
            coeff = coeff * _eval_scalar(arg, env, dims, b)
            continue
        value = eval_matrix(arg, env, dims, b)
        out = value if out is None else b.matmul(out, value)
    assert out is not None, "a matrix product holds at least one matrix"
    return coeff * out


def _eval_scalar(expr: sympy.Expr, env: Mapping[str, Matrix], dims: Dims, b: Backend) -> Any:
    values = {a: b.entry(_wrapped_value(a, env, dims, b)) for a in expr.atoms(*_WRAPPED)}
    values.update({s: b.entry(env[_key(s)]) for s in expr.free_symbols if _key(s) in env})
    return b.evaluate(expr, values, dims)


_WRAPPED = (
    mexpr.Scalar,
    mexpr.Norm,
    mexpr.SumOf,
    mexpr.LogSumExp,
    mexpr.LogDet,
    sympy.Trace,
    sympy.Determinant,
)


def _wrapped_value(atom: sympy.Expr, env: Mapping[str, Matrix], dims: Dims, b: Backend) -> Matrix:
    if isinstance(atom, sympy.Trace):
        return b.trace(eval_matrix(atom.arg, env, dims, b))
    if isinstance(atom, sympy.Determinant):
        return b.det(eval_matrix(atom.arg, env, dims, b))
    inner = eval_matrix(atom.matrix, env, dims, b)
    if isinstance(atom, mexpr.Norm):
        return b.norm(inner)
    if isinstance(atom, mexpr.LogSumExp):
        return b.logsumexp(inner)
    if isinstance(atom, mexpr.LogDet):
        return b.logdet(inner)
    return b.total(inner) if isinstance(atom, mexpr.SumOf) else inner
