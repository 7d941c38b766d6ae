"""Recover the matrix form of an index-form derivative: chains of factors become products."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from derivtex.calculus import mexpr
from derivtex.calculus.engine import IndexDerivative, split
from derivtex.calculus.simplify import simplify
from derivtex.calculus.terms import Term
from derivtex.language import ir
from derivtex.language.shapes import ONE, Shape

_VECTOR_END = object()
Dims = dict[sympy.Symbol, sympy.Expr]  # each index's range
Indices = list[sympy.Symbol]


class NoMatrixForm(Exception):
    """A term whose index pattern no product of matrices expresses."""


@dataclass(frozen=True, slots=True)
class Target:
    """Which index runs down the rows and which across the columns of the result."""

    row: sympy.Symbol | None
    col: sympy.Symbol | None
    rows: sympy.Expr
    cols: sympy.Expr


@dataclass(slots=True)
class _Piece:
    expr: sympy.MatrixExpr  # rows follow slots[0]; a one-slot piece is a column vector
    slots: list[sympy.Symbol]


def target(d: IndexDerivative, out_shape: Shape, wrt_shape: Shape, layout: str) -> Target | None:
    """The arrangement of the result, or None when it has more than two axes."""
    n_out, n_wrt = len(d.out_idx), len(d.wrt_idx)
    if n_out + n_wrt > 2:
        return None
    if n_out == 1 and n_wrt == 1:
        pair = ((d.out_idx[0], d.out_dims[0]), (d.wrt_idx[0], d.wrt_dims[0]))
        (r, rd), (c, cd) = pair if layout == "numerator" else pair[::-1]
        return Target(r, c, rd, cd)
    shape, idx = (wrt_shape, d.wrt_idx) if n_out == 0 else (out_shape, d.out_idx)
    row, col = split(shape, idx)
    return Target(row, col, shape.rows, shape.cols)


def recover(d: IndexDerivative, graph: ir.Graph, tgt: Target) -> sympy.Basic:
    """The matrix form of d in the target arrangement; raises NoMatrixForm if there is none."""
    parts = [_drop_identities(_term(t, graph, tgt)) for t in d.terms]
    if not parts:
        if tgt.rows == ONE and tgt.cols == ONE:
            return sympy.Integer(0)
        return sympy.ZeroMatrix(tgt.rows, tgt.cols)
    if isinstance(parts[0], sympy.MatrixExpr):
        return simplify(_factor_left(_factor_right(parts)))
    return simplify(sympy.Add(*parts))


def _drop_identities(expr: sympy.Basic) -> sympy.Basic:
    if not isinstance(expr, sympy.MatMul):
        return expr
    kept = [a for a in expr.args if not isinstance(a, sympy.Identity)]
    if len(kept) == len(expr.args):
        return expr
    if not any(isinstance(a, sympy.MatrixExpr) for a in kept):
        return expr
    return kept[0] if len(kept) == 1 else sympy.MatMul(*kept)


def _factor_right(parts: list[sympy.Basic]) -> sympy.MatrixExpr:
    """A x + A^T x as (A + A^T) x: terms that end in the same factor share it."""
    groups: dict[sympy.Basic | None, list[sympy.Basic]] = {}
    for part in parts:
        last = part.args[-1] if isinstance(part, sympy.MatMul) else None
        groups.setdefault(last, []).append(part)
    out = []
    for last, members in groups.items():
        if last is None or len(members) == 1:
            out.extend(members)
            continue
        heads = [_head(m) for m in members]
        matrices = [isinstance(h, sympy.MatrixExpr) for h in heads]
        if all(matrices):
            out.append(mexpr.matmul(sympy.MatAdd(*heads), last))
        elif not any(matrices):  # scalar coefficients: (a + b) x
            out.append(mexpr.times(sympy.Add(*heads), last))
        else:
            out.extend(members)
    return out[0] if len(out) == 1 else sympy.MatAdd(*out)


def _factor_left(expr: sympy.MatrixExpr) -> sympy.MatrixExpr:
    """P x - P m as P (x - m): terms that start with the same matrix share it."""
    parts = list(expr.args) if isinstance(expr, sympy.MatAdd) else [expr]
    groups: dict[sympy.Basic | None, list[tuple[sympy.Expr, list[sympy.Basic]]]] = {}
    for part in parts:
        coeff, factors = _split_coeff(part)
        first = factors[0] if len(factors) > 1 else None
        if first is not None:
            sign, first = _positive(first)  # -(P + P^T) m + (P + P^T) x share P + P^T
            coeff, factors = sign * coeff, [first, *factors[1:]]
        groups.setdefault(first, []).append((coeff, factors))
    if all(first is None or len(m) == 1 for first, m in groups.items()):
        return expr
    out: list[sympy.MatrixExpr] = []
    for first, members in groups.items():
        if first is None or len(members) == 1:
            out.extend(_join(c, f) for c, f in members)
            continue
        tails = [_join(c, f[1:]) for c, f in members]
        out.append(mexpr.matmul(_common(first), sympy.MatAdd(*tails)))
    return out[0] if len(out) == 1 else sympy.MatAdd(*out)


def _positive(m: sympy.MatrixExpr) -> tuple[int, sympy.MatrixExpr]:
    """(sign, m') with m = sign m' and m' a sum that does not start with a minus."""
    if not isinstance(m, sympy.MatAdd) or not _split_coeff(m.args[0])[0].could_extract_minus_sign():
        return 1, m
    return -1, sympy.MatAdd(*(_join(-c, f) for c, f in map(_split_coeff, m.args)))


def _common(m: sympy.MatrixExpr) -> sympy.MatrixExpr:
    """(1/2) P + (1/2) P^T as (1/2)(P + P^T): a sum whose terms share one coefficient."""
    if not isinstance(m, sympy.MatAdd):
        return m
    split = [_split_coeff(a) for a in m.args]
    coeffs = {c for c, _ in split}
    if len(coeffs) != 1 or coeffs == {1}:
        return m
    return mexpr.times(coeffs.pop(), sympy.MatAdd(*(_join(sympy.Integer(1), f) for _, f in split)))


def _split_coeff(part: sympy.Basic) -> tuple[sympy.Expr, list[sympy.Basic]]:
    """A term as its scalar coefficient and its matrix factors, in order."""
    if not isinstance(part, sympy.MatMul):
        return sympy.Integer(1), [part]
    coeff = sympy.Mul(*(a for a in part.args if not isinstance(a, sympy.MatrixExpr)))
    return coeff, [a for a in part.args if isinstance(a, sympy.MatrixExpr)]


def _join(coeff: sympy.Expr, factors: list[sympy.Basic]) -> sympy.MatrixExpr:
    product = factors[0] if len(factors) == 1 else sympy.MatMul(*factors)
    return product if coeff == 1 else mexpr.times(coeff, product)


def _head(m: sympy.MatMul) -> sympy.Basic:
    args = m.args[:-1]
    return args[0] if len(args) == 1 else sympy.MatMul(*args)


def substitute_auto(expr: sympy.Basic, graph: ir.Graph) -> sympy.Basic:
    """Put back the values the tool named itself (z = W x + b), keeping the user's names; and
    a determinant's own value in its derivative (y = det(X): det(X) X^{-T}, as the Cookbook)."""
    env = auto_values(graph)
    mapping = {
        mexpr.symbol(name, graph.shape_of(name)): _fit(value, graph.shape_of(name))
        for name, value in env.items()
    }
    return simplify(expr.xreplace(mapping)) if mapping else expr


def auto_values(graph: ir.Graph) -> dict[str, sympy.Basic]:
    """The matrix forms of the values the tool named itself (and of a determinant output)."""
    env: dict[str, sympy.Basic] = {}
    for definition in graph.definitions:
        own_det = definition.name == graph.output and isinstance(definition.op, ir.Det)
        if definition.auto or own_det:
            env[definition.name] = mexpr.of_op(definition.op, env)
    return env


def _fit(value: sympy.Basic, shape: Shape) -> sympy.Basic:
    """A scalar's value as a scalar: a^T x stands in cos(.) as a number, not a 1 x 1 matrix."""
    return mexpr.as_scalar(value) if shape.is_scalar else value


# -- one term -------------------------------------------------------------------------------
def _term(term: Term, graph: ir.Graph, tgt: Target) -> sympy.Basic:
    dims = dict(term.sums)
    for sym, dim in ((tgt.row, tgt.rows), (tgt.col, tgt.cols)):
        if sym is not None:
            dims[sym] = dim
    coeff, pieces = _pieces(term.factor, dims, graph)
    free = [s for s in (tgt.row, tgt.col) if s is not None]
    pieces = _normalize(pieces, free, dims)
    result = _assemble(pieces, tgt)
    scalars = _closed(pieces)
    scale = sympy.Mul(coeff, *scalars)
    return mexpr.times(scale, result) if result is not None else scale


def _pieces(factor: sympy.Expr, dims: Dims, graph: ir.Graph) -> tuple[sympy.Expr, list[_Piece]]:
    coeff, pieces = sympy.Integer(1), []
    for f in sympy.Mul.make_args(factor):
        indices = [s for s in f.free_symbols if s in dims]
        if not indices:
            coeff *= f
        elif isinstance(f, sympy.Pow) and isinstance(f.base, sympy.Indexed) and _small(f.exp):
            # x_k^2 is x_k x_k: two factors, so sum_k x_k^2 becomes x^T x.
            pieces += [_piece(f.base, indices, dims, graph) for _ in range(int(f.exp))]
        else:
            pieces.append(_piece(f, indices, dims, graph))
    return coeff, pieces


def _small(exp: sympy.Expr) -> bool:
    return bool(exp.is_Integer and 1 < exp < 4)


def _piece(f: sympy.Expr, indices: Indices, dims: Dims, graph: ir.Graph) -> _Piece:
    if isinstance(f, sympy.KroneckerDelta):
        a, b = f.args
        return _Piece(sympy.Identity(dims[a]), [a, b])
    if isinstance(f, sympy.Indexed):
        name = str(f.base.label)
        shape = graph.shape_of(name)
        if len(f.indices) == 1:
            return _Piece(mexpr.column(name, shape), [f.indices[0]])
        return _Piece(sympy.MatrixSymbol(name, shape.rows, shape.cols), list(f.indices))
    return _elementwise_piece(f, dims, graph)


def _elementwise_piece(f: sympy.Expr, dims: Dims, graph: ir.Graph) -> _Piece:
    """A function of one tensor's entries, e.g. sigma'(z_i): the function applied elementwise."""
    entries = {e for e in f.atoms(sympy.Indexed)}
    if len(entries) != 1:
        raise NoMatrixForm(f"{f} mixes several tensors elementwise")
    (e,) = entries
    d = sympy.Dummy("d")
    body = sympy.Lambda(d, f.xreplace({e: d}))
    inner = _piece(e, list(e.indices), dims, graph)
    if len(set(inner.slots)) != len(inner.slots):
        raise NoMatrixForm(f"{f} uses a diagonal entry")
    if isinstance(f, sympy.Pow) and f.base == e and f.exp.is_Number:  # z^{circ -2}
        return _Piece(sympy.HadamardPower(inner.expr, f.exp), inner.slots)
    return _Piece(ElementwiseApplyFunction(body, inner.expr), inner.slots)


def _counts(pieces: list[_Piece], free: Indices) -> Counter[sympy.Symbol]:
    counts: Counter[sympy.Symbol] = Counter(free)
    for p in pieces:
        counts.update(p.slots)
    return counts


def _normalize(pieces: list[_Piece], free: Indices, dims: Dims) -> list[_Piece]:
    """Make every index join exactly two slots: Hadamard, diag and ones vectors where needed."""
    counts = _counts(pieces, free)
    for index, count in list(counts.items()):
        if count > 2:
            pieces = _contract(pieces, index, free)
            pieces = _merge_vectors(pieces, index)
            if _counts(pieces, free)[index] > 2:
                pieces = _diagonalize(pieces, index, free, dims)
    counts = _counts(pieces, free)
    for index in dims:
        if counts[index] == 1:
            pieces.append(_Piece(sympy.OneMatrix(dims[index], 1), [index]))
        elif counts[index] > 2:
            raise NoMatrixForm(f"index {index} joins {counts[index]} factors")
    return pieces


def _contract(pieces: list[_Piece], index: sympy.Symbol, free: Indices) -> list[_Piece]:
    """A_{ik} x_k summed over k as the vector (A x)_i, so that delta_{ij} (A x)_i is diag(A x)."""
    counts = _counts(pieces, free)
    for p in pieces:
        if len(p.slots) != 2 or index not in p.slots or p.slots[0] == p.slots[1]:
            continue
        k = p.slots[1] if p.slots[0] == index else p.slots[0]
        vector = next((q for q in pieces if q.slots == [k]), None)
        if vector is None or counts[k] != 2:
            continue
        matrix = p.expr if p.slots[0] == index else _transpose(p.expr)
        rest = [q for q in pieces if q is not p and q is not vector]
        return _contract([*rest, _Piece(mexpr.matmul(matrix, vector.expr), [index])], index, free)
    return pieces


def _merge_vectors(pieces: list[_Piece], index: sympy.Symbol) -> list[_Piece]:
    """Vectors on one index that also meets other factors multiply elementwise."""
    vectors = [p.expr for p in pieces if p.slots == [index]]
    if len(vectors) < 2:
        return pieces
    rest = [p for p in pieces if p.slots != [index]]
    return rest + [_Piece(_hadamard(vectors), [index])]


def _hadamard(vectors: list[sympy.MatrixExpr]) -> sympy.MatrixExpr:
    """x ⊙ x ⊙ z as x^{∘2} ⊙ z: repeated factors as a Hadamard power."""
    counts = Counter(vectors)
    factors = [v if n == 1 else sympy.HadamardPower(v, n) for v, n in counts.items()]
    return factors[0] if len(factors) == 1 else sympy.HadamardProduct(*factors)


def _diagonalize(
    pieces: list[_Piece], index: sympy.Symbol, free: Indices, dims: Dims
) -> list[_Piece]:
    vector = next((p for p in pieces if p.slots == [index]), None)
    if vector is None:
        raise NoMatrixForm(f"index {index} joins three matrices")
    other = next(p for p in pieces if p is not vector and index in p.slots)
    twin = sympy.Dummy(f"{index}'", integer=True)
    dims[twin] = dims[index]
    other.slots[other.slots.index(index)] = twin
    vector.expr, vector.slots = DiagMatrix(vector.expr), [index, twin]
    return pieces


def _walk(
    pieces: list[_Piece], start: sympy.Symbol, stops: set[sympy.Symbol]
) -> tuple[list[sympy.MatrixExpr], object]:
    """Follow the chain of factors from an index until a stop index or a vector ends it."""
    chain: list[sympy.MatrixExpr] = []
    cur = start
    while True:
        piece = next((p for p in pieces if cur in p.slots), None)
        if piece is None:
            return chain, cur
        pieces.remove(piece)
        if len(piece.slots) == 1:
            chain.append(piece.expr)
            return chain, _VECTOR_END
        if piece.slots[0] == piece.slots[1]:
            raise NoMatrixForm("a trace inside an open chain")
        forward = piece.slots[0] == cur
        chain.append(piece.expr if forward else _transpose(piece.expr))
        cur = piece.slots[1] if forward else piece.slots[0]
        if cur in stops:
            return chain, cur


def _transpose(expr: sympy.MatrixExpr) -> sympy.MatrixExpr:
    """The transpose, except of what is symmetric by construction: I and diag(v) stay."""
    if isinstance(expr, sympy.Identity | DiagMatrix):
        return expr
    return sympy.Transpose(expr)


def _product(chain: list[sympy.MatrixExpr]) -> sympy.MatrixExpr:
    return chain[0] if len(chain) == 1 else mexpr.matmul(*chain)


def _assemble(pieces: list[_Piece], tgt: Target) -> sympy.MatrixExpr | None:
    if tgt.row is None and tgt.col is None:
        return None
    if tgt.row is None:
        chain, end = _walk(pieces, tgt.col, set())
        return _transpose(_product(chain))
    chain, end = _walk(pieces, tgt.row, {tgt.col} if tgt.col is not None else set())
    if end == tgt.col and tgt.col is not None:
        return _product(chain)
    left = _product(chain)
    if tgt.col is None:
        return left
    right_chain, _ = _walk(pieces, tgt.col, set())
    return mexpr.matmul(left, _transpose(_product(right_chain)))


def _closed(pieces: list[_Piece]) -> list[sympy.Expr]:
    """What is left is scalar: vector-matrix-vector chains and traces of closed loops."""
    scalars = []
    while pieces:
        start = next((p for p in pieces if len(p.slots) == 1), pieces[0])
        pieces.remove(start)
        if len(start.slots) == 1:
            chain, _ = _walk(pieces, start.slots[0], set())
            scalars.append(mexpr.Scalar(sympy.MatMul(sympy.Transpose(start.expr), *chain)))
        else:
            chain, _ = _walk(pieces, start.slots[1], {start.slots[0]})
            scalars.append(sympy.Trace(sympy.MatMul(start.expr, *chain)))
    return scalars
