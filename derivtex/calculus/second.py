"""Second derivatives: the Hessian of a scalar, the gradient's index form differentiated again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from derivtex.calculus import numeric as N
from derivtex.calculus import terms as T
from derivtex.calculus.derivative import Derivative
from derivtex.calculus.engine import Engine, Idx, IndexDerivative, index_letters, reserved_names
from derivtex.calculus.matrixform import NoMatrixForm, Target, recover, substitute_auto, target
from derivtex.calculus.problem import VerificationReport
from derivtex.calculus.verify_second import verify_hessian
from derivtex.errors import InputError
from derivtex.language import ir
from derivtex.language.shapes import Shape


@dataclass(frozen=True, slots=True, eq=False)
class Hessian:
    """d^2 output / d wrt[i] d wrt[j] of a scalar output: index form, matrix form where one exists.

    `index.out_idx` is the gradient's index i, `index.wrt_idx` the second index j.
    """

    gradient: Derivative
    index: IndexDerivative
    matrix: sympy.Basic | None
    target: Target | None

    @property
    def graph(self) -> ir.Graph:
        return self.gradient.graph

    @property
    def wrt(self) -> str:
        return self.gradient.wrt

    @property
    def output(self) -> str:
        return self.gradient.output

    @property
    def wrt_shape(self) -> Shape:
        return self.gradient.wrt_shape

    @property
    def index_result(self) -> sympy.Expr:
        return self.index.as_sympy()

    @property
    def has_matrix_form(self) -> bool:
        return self.matrix is not None

    @property
    def result(self) -> sympy.Basic:
        """The matrix form with the tool's names put back; else the index form."""
        if self.matrix is None:
            return self.index_result
        return substitute_auto(self.matrix, self.graph)

    def evaluate(self, values: Mapping[str, Any]) -> np.ndarray:
        """The Hessian at `values`, shape wrt.shape + wrt.shape."""
        arrays, dims = N.bind(self.graph, values)
        env = N.eval_graph(self.graph, arrays)
        free_dims = tuple(N.dim_value(d, dims) for d in self.index.out_dims + self.index.wrt_dims)
        arr = N.eval_terms(
            self.index.terms, self.index.out_idx + self.index.wrt_idx, free_dims, env, dims
        )
        wrt_np = np.asarray(values[self.wrt]).shape
        return arr.reshape(wrt_np + wrt_np)

    def verify(self, *, seed: int = 0, trials: int = 2) -> VerificationReport:
        """The exact (sympy diff twice) and finite-difference checks, and symmetry."""
        return verify_hessian(self, seed=seed, trials=trials)


def check_scalar(graph: ir.Graph) -> None:
    """Hessians are of scalar outputs; anything else is bad input."""
    shape = graph.shape_of(graph.output)
    if not shape.is_scalar:
        raise InputError(
            f"order=2 needs a scalar output, but {graph.output!r} is {shape.text()}",
            hint="Hessians are of scalar outputs: differentiate a scalar such as a loss "
            f"(e.g. sum({graph.output}) or norm({graph.output})^2), or use order=1",
        )


def hessian(gradient: Derivative) -> Hessian:
    """Differentiate the gradient's index form once more by the same variable."""
    graph, wrt = gradient.graph, gradient.wrt
    check_scalar(graph)
    dims = gradient.index.wrt_dims
    n = len(dims)
    letters = index_letters(reserved_names(graph))
    first, second = letters[:n], letters[n : 2 * n]
    engine = Engine(graph)
    grad = T.substitute(
        T.rename_sums(gradient.index.terms, fresh=engine.fresh),
        dict(zip(gradient.index.wrt_idx, first, strict=True)),
    )
    ops = named_ops(graph)
    terms: T.Terms = ()
    for term in grad:
        terms = T.add(terms, differentiate_term(engine, ops, term, wrt, second))
    terms = T.combine(T.rename_sums(terms, names=letters[2 * n :]))
    index = IndexDerivative(terms, first, second, dims, dims)
    tgt = target(index, gradient.wrt_shape, gradient.wrt_shape, gradient.layout)
    matrix = None
    if tgt is not None:
        try:
            matrix = recover(index, graph, tgt)
        except NoMatrixForm:
            matrix = None
    return Hessian(gradient, index, matrix, tgt if matrix is not None else None)


def entry_atoms(expr: sympy.Expr, graph: ir.Graph) -> tuple[sympy.Expr, ...]:
    """The entries of named values in expr (x[j], r[k], a scalar s), in a stable order."""
    names = graph.names
    found = [a for a in expr.atoms(sympy.Indexed) if str(a.base.label) in names]
    found += [s for s in expr.atoms(sympy.Symbol) if s.name in names]
    return tuple(sorted(set(found), key=sympy.default_sort_key))


def named_ops(graph: ir.Graph) -> dict[str, ir.Leaf | ir.Ref]:
    """One op per named value, kept alive while the engine runs (it caches by id)."""
    inputs = dict(graph.inputs)
    ops: dict[str, ir.Leaf | ir.Ref] = {n: ir.Leaf(n, s) for n, s in inputs.items()}
    ops |= {d.name: ir.Ref(d.name, d.op.shape) for d in graph.definitions}
    return ops


def atom_op(atom: sympy.Expr, ops: Mapping[str, ir.Leaf | ir.Ref]) -> tuple[ir.Leaf | ir.Ref, Idx]:
    """The named value an entry belongs to, and the entry's index."""
    if isinstance(atom, sympy.Indexed):
        return ops[str(atom.base.label)], tuple(atom.indices)
    return ops[str(atom)], ()


def atom_partials(factor: sympy.Expr, graph: ir.Graph) -> tuple[tuple[sympy.Expr, sympy.Expr], ...]:
    """(entry, d factor / d entry) for each entry in factor, every entry its own variable."""
    atoms = entry_atoms(factor, graph)
    dummies = {a: sympy.Dummy() for a in atoms}
    back = {v: k for k, v in dummies.items()}
    plain = factor.xreplace(dummies)
    out = []
    for a in atoms:
        slope = sympy.diff(plain, dummies[a]).xreplace(back)
        if slope != 0:
            out.append((a, slope))
    return tuple(out)


def differentiate_term(
    engine: Engine, ops: Mapping[str, ir.Leaf | ir.Ref], term: T.Term, wrt: str, widx: Idx
) -> T.Terms:
    """d term / d wrt[widx]: for every entry, its partial times the entry's own derivative."""
    out: T.Terms = ()
    for atom, slope in atom_partials(term.factor, engine.graph):
        op, idx = atom_op(atom, ops)
        inner = engine.deriv(op, idx, wrt, widx)
        if inner:
            out = T.add(out, T.mul((T.Term(slope, term.sums),), inner))
    return out
