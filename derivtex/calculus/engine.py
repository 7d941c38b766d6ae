"""Index calculus: components of every operation and their derivatives, with deltas contracted."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

import sympy

from derivtex.calculus import mexpr
from derivtex.calculus import terms as T
from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.shapes import ONE, Shape
from derivtex.language.typecheck import depends_on

Idx = tuple[sympy.Expr, ...]
INDEX_LETTERS = "ijklpqabcdefghmnorstuvw"
Build = Callable[[ir.Op, Idx], T.Terms]
"""A component builder: the terms of op[idx] (its value, or its derivative by a fixed variable)."""


def entry(name: str, shape: Shape, idx: Idx) -> sympy.Expr:
    """The sympy object for one component of a named tensor."""
    if not shape.free_dims:
        return sympy.Symbol(name)
    return sympy.Indexed(sympy.IndexedBase(name), *idx)


def split(shape: Shape, idx: Idx) -> tuple[sympy.Expr | None, sympy.Expr | None]:
    """(row index, column index) of a component; None for an axis of size 1."""
    it = iter(idx)
    row = next(it) if shape.rows != ONE else None
    col = next(it) if shape.cols != ONE else None
    return row, col


def join(shape: Shape, row: sympy.Expr | None, col: sympy.Expr | None) -> Idx:
    return tuple(i for i, d in ((row, shape.rows), (col, shape.cols)) if d != ONE and i is not None)


def at(operand: ir.Op, op: ir.Op, idx: Idx) -> Idx:
    """The index of an operand that broadcasts: its axes of size 1 drop the index."""
    if operand.shape == op.shape:
        return idx
    return join(operand.shape, *split(op.shape, idx))


def deltas(a: Idx, b: Idx) -> sympy.Expr:
    return sympy.Mul(*(sympy.KroneckerDelta(x, y) for x, y in zip(a, b, strict=True)))


def reserved_names(graph: ir.Graph) -> frozenset[str]:
    """The names an index letter must not take: every tensor's and every declared size's."""
    return frozenset(graph.names | {str(s) for _, sh in graph.inputs for s in sh.free_dims})


def index_letters(avoid: frozenset[str]) -> tuple[sympy.Symbol, ...]:
    """Readable index names that clash with no tensor or dimension name."""
    letters = [c for c in INDEX_LETTERS if c not in avoid]
    letters += [f"{c}_{n}" for n in range(2, 6) for c in "ijk"]
    return tuple(sympy.Symbol(c, integer=True) for c in letters)


@dataclass(frozen=True, slots=True)
class IndexDerivative:
    """d out[out_idx] / d wrt[wrt_idx] = sum of terms."""

    terms: T.Terms
    out_idx: Idx
    wrt_idx: Idx
    out_dims: Idx
    wrt_dims: Idx

    def as_sympy(self) -> sympy.Expr:
        return T.to_sympy(self.terms)


class Engine:
    """Components and derivatives of a graph's values; results are sums of products."""

    def __init__(self, graph: ir.Graph) -> None:
        self.graph = graph
        self.defs = {d.name: d for d in graph.definitions}
        self._counter = itertools.count()
        self._cache: dict[tuple[str, str], tuple[T.Terms, Idx, Idx]] = {}
        self._deps = {d.name: depends_on(graph, d.name) for d in graph.definitions}
        self._involves: dict[tuple[int, str], bool] = {}

    def fresh(self) -> sympy.Symbol:
        return sympy.Symbol(f"_t{next(self._counter)}", integer=True)

    def fresh_idx(self, shape: Shape) -> Idx:
        return tuple(self.fresh() for _ in shape.free_dims)

    # -- values --------------------------------------------------------------------------------
    def value(self, op: ir.Op, idx: Idx) -> T.Terms:
        """One component of an operation's value as a sum of products."""
        match op:
            case ir.Leaf(name=name, shape=shape) | ir.Ref(name=name, shape=shape):
                return T.single(entry(name, shape, idx))
            case ir.Const(value=v) | ir.Dim(value=v):
                return T.single(v)
            case ir.Eye():
                return T.single(deltas(idx[:1], idx[1:]) if idx else sympy.Integer(1))
            case ir.Ones():
                return T.single(sympy.Integer(1))
            case ir.Scale(factor=f, arg=a):
                return T.mul(self.value(f, ()), self.value(a, idx))
            case ir.MatMul():
                return self._matmul(op, idx, self.value, self.value)
            case ir.Add(left=a, right=b):
                return T.add(self.value(a, at(a, op, idx)), self.value(b, at(b, op, idx)))
            case ir.Hadamard(left=a, right=b):
                return T.mul(self.value(a, at(a, op, idx)), self.value(b, at(b, op, idx)))
            case ir.Divide(left=a, right=b):
                return T.scale(self.value(a, at(a, op, idx)), 1 / self._atom(b, at(b, op, idx)))
            case ir.Transpose(arg=a):
                row, col = split(op.shape, idx)
                return self.value(a, join(a.shape, col, row))
            case ir.Apply(func=f, arg=a):
                return T.single(ELEMENTWISE[f].sympy_func(entry(a.name, a.shape, idx)))
            case ir.Power(base=b, exponent=p):
                return T.single(entry(b.name, b.shape, idx) ** p)
            case ir.Diag(arg=a):
                return self._diag(op, idx, self.value)
            case ir.Softmax(arg=a):
                return T.single(self._exp(a, idx) / self._sum_exp(a))
            case ir.SmoothMax(arg=a):
                return T.single(sympy.log(self._sum_exp(a)))
            case ir.Total() | ir.Trace():
                return self._reduce(op, self.value)
            case ir.Inverse() | ir.Det():
                return T.single(_display(op, idx))
            case ir.Length(arg=a):
                # For display only: the derivative goes through the norm's own name.
                squares = self._reduce(ir.Total(a), lambda b, i: T.mul(*[self.value(b, i)] * 2))
                return T.single(sympy.sqrt(T.to_sympy(squares)))
            case _:
                assert_never(op)

    def _atom(self, op: ir.Op, idx: Idx) -> sympy.Expr:
        """The value of a named or constant operand: one factor."""
        return T.to_sympy(self.value(op, idx))

    def _exp(self, a: ir.Op, idx: Idx) -> sympy.Expr:
        return sympy.exp(self._atom(a, idx))

    def _sum_exp(self, a: ir.Op) -> sympy.Expr:
        """sum_k exp(z_k), for display: the derivative goes through the value's own name."""
        return T.to_sympy(self._reduce(ir.Total(a), lambda b, i: T.single(self._exp(b, i))))

    def _diag(self, op: ir.Diag, idx: Idx, fn: Build) -> T.Terms:
        """diag(v)_{i,j} = v_i delta_{i,j}; diag(A)_i = A_{i,i}."""
        if len(op.shape.free_dims) == 1:
            return fn(op.arg, (idx[0], idx[0]))
        return T.mul(fn(op.arg, idx[:1]), T.single(deltas(idx[:1], idx[1:])))

    def _matmul(self, op: ir.MatMul, idx: Idx, left_fn: Build, right_fn: Build) -> T.Terms:
        left, right = op.left, op.right
        row, col = split(op.shape, idx)
        inner = self.fresh() if left.shape.cols != ONE else None
        first = left_fn(left, join(left.shape, row, inner))
        if not first:  # a zero factor: do not build the other side at all
            return ()
        out = T.mul(first, right_fn(right, join(right.shape, inner, col)))
        return T.sum_over(out, inner, left.shape.cols) if inner is not None else out

    def _product(self, da: T.Terms, b: ir.Op, idx: Idx) -> T.Terms:
        """da times the value of b, building b only when da is not zero."""
        return T.mul(da, self.value(b, idx)) if da else ()

    def involves(self, op: ir.Op, wrt: str) -> bool:
        """Whether op depends on wrt at all (so whether its derivative can be nonzero)."""
        key = (id(op), wrt)
        if key not in self._involves:
            names = ir.names_used(op)
            self._involves[key] = wrt in names or any(wrt in self._deps.get(n, ()) for n in names)
        return self._involves[key]

    def _matmul_right(self, op: ir.MatMul, idx: Idx, d: Build) -> T.Terms:
        """left times d(right), with d(right) built first (the product commutes entrywise)."""
        left, right = op.left, op.right
        row, col = split(op.shape, idx)
        inner = self.fresh() if left.shape.cols != ONE else None
        second = d(right, join(right.shape, inner, col))
        if not second:
            return ()
        out = T.mul(self.value(left, join(left.shape, row, inner)), second)
        return T.sum_over(out, inner, left.shape.cols) if inner is not None else out

    def _reduce(self, op: ir.Total | ir.Trace, fn: Build) -> T.Terms:
        shape = op.arg.shape
        if isinstance(op, ir.Trace) and shape.free_dims:
            k = self.fresh()
            return T.sum_over(fn(op.arg, (k, k)), k, shape.rows)
        out = fn(op.arg, idx := self.fresh_idx(shape))
        for k, dim in zip(idx, shape.free_dims, strict=True):
            out = T.sum_over(out, k, dim)
        return out

    # -- derivatives ---------------------------------------------------------------------------
    def deriv(self, op: ir.Op, idx: Idx, wrt: str, widx: Idx) -> T.Terms:
        """d op[idx] / d wrt[widx] as a sum of products."""

        def d(o: ir.Op, i: Idx) -> T.Terms:
            return self.deriv(o, i, wrt, widx)

        if not self.involves(op, wrt):
            return ()
        match op:
            case ir.Leaf(name=name):
                return T.single(deltas(idx, widx)) if name == wrt else ()
            case ir.Ref(name=name):
                return self._deriv_ref(name, idx, wrt, widx)
            case ir.Const() | ir.Dim() | ir.Eye() | ir.Ones():
                return ()
            case ir.Scale(factor=f, arg=a):
                return T.add(self._product(d(f, ()), a, idx), self._product(d(a, idx), f, ()))
            case ir.MatMul():
                return T.add(self._matmul(op, idx, d, self.value), self._matmul_right(op, idx, d))
            case ir.Add(left=a, right=b):
                return T.add(d(a, at(a, op, idx)), d(b, at(b, op, idx)))
            case ir.Hadamard(left=a, right=b):
                ia, ib = at(a, op, idx), at(b, op, idx)
                return T.add(self._product(d(a, ia), b, ib), self._product(d(b, ib), a, ia))
            case ir.Divide(left=a, right=b):
                return self._deriv_divide(op, idx, d)
            case ir.Diag():
                return self._diag(op, idx, d)
            case ir.Transpose(arg=a):
                row, col = split(op.shape, idx)
                return d(a, join(a.shape, col, row))
            case ir.Apply(func=f, arg=a):
                slope = _prime(f).xreplace({_U: entry(a.name, a.shape, idx)})
                return T.mul(T.single(slope), d(a, idx))
            case ir.Power(base=b, exponent=p):
                base = entry(b.name, b.shape, idx)
                return T.mul(T.single(p * base ** (p - 1)), d(b, idx))
            case ir.Total() | ir.Trace():
                return self._reduce(op, d)
        raise AssertionError(f"cannot differentiate {op!r}")

    def _deriv_divide(self, op: ir.Divide, idx: Idx, d: Build) -> T.Terms:
        """The quotient rule: d(a / b) = da / b - a db / b^2."""
        ia, ib = at(op.left, op, idx), at(op.right, op, idx)
        b = self._atom(op.right, ib)
        first = T.scale(d(op.left, ia), 1 / b)
        db = d(op.right, ib)
        return T.add(first, T.scale(self._product(db, op.left, ia), -1 / b**2))

    def _deriv_softmax(self, name: str, op: ir.Softmax, pidx: Idx, wrt: str, pw: Idx) -> T.Terms:
        """d p_i = p_i d z_i - p_i sum_k p_k d z_k, with p the softmax's own name."""
        p_i = T.single(entry(name, op.shape, pidx))
        k = self.fresh_idx(op.shape)
        inner = T.mul(T.single(entry(name, op.shape, k)), self.deriv(op.arg, k, wrt, pw))
        inner = T.sum_over(inner, k[0], op.shape.free_dims[0])
        own = T.mul(p_i, self.deriv(op.arg, pidx, wrt, pw))
        return T.add(own, T.scale(T.mul(p_i, inner), -1))

    def _deriv_lse(self, name: str, op: ir.SmoothMax, wrt: str, pw: Idx) -> T.Terms:
        """d s = sum_k exp(z_k - s) d z_k, with s = logsumexp(z) the definition's own name."""
        k = self.fresh_idx(op.arg.shape)
        weight = sympy.exp(self._atom(op.arg, k) - sympy.Symbol(name))
        inner = T.mul(T.single(weight), self.deriv(op.arg, k, wrt, pw))
        for index, dim in zip(k, op.arg.shape.free_dims, strict=True):
            inner = T.sum_over(inner, index, dim)
        return inner

    def _deriv_inverse(self, name: str, op: ir.Inverse, pidx: Idx, wrt: str, pw: Idx) -> T.Terms:
        """d Q_{i,j} = -sum_{k,l} Q_{i,k} d X_{k,l} Q_{l,j}, with Q = X^{-1} by its own name."""
        (i, j), (k, m) = pidx, (self.fresh(), self.fresh())
        dx = self.deriv(op.arg, (k, m), wrt, pw)
        if not dx:
            return ()
        q_ik, q_mj = entry(name, op.shape, (i, k)), entry(name, op.shape, (m, j))
        inner = T.mul(T.single(-q_ik * q_mj), dx)
        return T.sum_over(T.sum_over(inner, k, op.shape.rows), m, op.shape.rows)

    def _deriv_det(self, name: str, op: ir.Det, wrt: str, pw: Idx) -> T.Terms:
        """d log|det X| = sum_{k,l} (X^{-1})_{l,k} d X_{k,l}; d det X is det X times that."""
        k, m = self.fresh(), self.fresh()
        dx = self.deriv(op.arg, (k, m), wrt, pw)
        if not dx:
            return ()
        inner = T.mul(T.single(entry(op.inverse, op.arg.shape, (m, k))), dx)
        inner = T.sum_over(T.sum_over(inner, k, op.arg.shape.rows), m, op.arg.shape.rows)
        return inner if op.log else T.scale(inner, sympy.Symbol(name))

    def _deriv_ref(self, name: str, idx: Idx, wrt: str, widx: Idx) -> T.Terms:
        if wrt not in self._deps[name]:
            return ()
        key = (name, wrt)
        if key not in self._cache:
            self._cache[key] = self._deriv_definition(name, wrt)
        cached, pidx, pw = self._cache[key]
        fresh = T.rename_sums(cached, fresh=self.fresh)
        return T.substitute(fresh, dict(zip(pidx + pw, idx + widx, strict=True)))

    def _deriv_definition(self, name: str, wrt: str) -> tuple[T.Terms, Idx, Idx]:
        op = self.defs[name].op
        pidx = self.fresh_idx(op.shape)
        pw = self.fresh_idx(self.graph.shape_of(wrt))
        if isinstance(op, ir.Length):
            # d ||a|| = sum_k a_k d a_k / ||a||, with ||a|| the definition's own name.
            k = self.fresh_idx(op.arg.shape)
            inner = T.mul(self.value(op.arg, k), self.deriv(op.arg, k, wrt, pw))
            for index, dim in zip(k, op.arg.shape.free_dims, strict=True):
                inner = T.sum_over(inner, index, dim)
            return T.scale(inner, 1 / sympy.Symbol(name)), pidx, pw
        if isinstance(op, ir.Softmax):
            return self._deriv_softmax(name, op, pidx, wrt, pw), pidx, pw
        if isinstance(op, ir.SmoothMax):
            return self._deriv_lse(name, op, wrt, pw), pidx, pw
        if isinstance(op, ir.Inverse):
            return self._deriv_inverse(name, op, pidx, wrt, pw), pidx, pw
        if isinstance(op, ir.Det):
            return self._deriv_det(name, op, wrt, pw), pidx, pw
        return self.deriv(op, pidx, wrt, pw), pidx, pw


_U = sympy.Dummy("u")


def _display(op: ir.Inverse | ir.Det, idx: Idx) -> sympy.Expr:
    """(X^{-1})_{i,j}, det(X) or log det(X), for display: derivatives go through names."""
    x = sympy.MatrixSymbol(op.arg.name, op.arg.shape.rows, op.arg.shape.cols)
    if isinstance(op, ir.Inverse):
        return mexpr.InverseEntry(x, *idx)
    return mexpr.LogDet(x) if op.log else sympy.Determinant(x)


@functools.cache
def _prime(func: str) -> sympy.Expr:
    """f'(_U) for an elementwise function: sympy's diff costs ~50 ms a call, deep nets make many."""
    return sympy.diff(ELEMENTWISE[func].sympy_func(_U), _U)


def differentiate(graph: ir.Graph, wrt: str) -> IndexDerivative:
    """The derivative of the graph's output by `wrt`, in index form with readable index names."""
    engine = Engine(graph)
    out_shape, wrt_shape = graph.shape_of(graph.output), graph.shape_of(wrt)
    letters = index_letters(reserved_names(graph))
    n_out, n_wrt = len(out_shape.free_dims), len(wrt_shape.free_dims)
    out_idx, wrt_idx = letters[:n_out], letters[n_out : n_out + n_wrt]
    terms = engine.deriv(ir.Ref(graph.output, out_shape), out_idx, wrt, wrt_idx)
    terms = T.combine(T.rename_sums(terms, names=letters[n_out + n_wrt :]))
    return IndexDerivative(terms, out_idx, wrt_idx, out_shape.free_dims, wrt_shape.free_dims)
