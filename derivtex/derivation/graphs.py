"""Rewrites of a graph that the planner uses: naming a product's tail, cutting at a name."""

from __future__ import annotations

import dataclasses

from derivtex.language import ir
from derivtex.language.shapes import computed_shape


def _rewrite(op: ir.Op, name: str) -> ir.Op:
    """The op with every Ref to `name` turned into an input Leaf."""
    if isinstance(op, ir.Ref):
        return ir.Leaf(op.name, op.shape) if op.name == name else op
    if isinstance(op, ir.Leaf | ir.Const):
        return op
    changes = {
        f.name: _rewrite(getattr(op, f.name), name)
        for f in dataclasses.fields(op)
        if f.name in ("factor", "arg", "left", "right", "base")
    }
    return dataclasses.replace(op, **changes)  # type: ignore[arg-type]  # fields vary by op


def cut(graph: ir.Graph, name: str, output: str) -> ir.Graph:
    """The graph with `name` made an input and `output` as the output: local derivatives."""
    defs = tuple(
        dataclasses.replace(d, op=_rewrite(d.op, name)) for d in graph.definitions if d.name != name
    )
    inputs = graph.inputs + ((name, graph.shape_of(name)),)
    return ir.Graph(inputs, defs, output, graph.source)


def _factors(op: ir.Op) -> list[ir.Op]:
    if isinstance(op, ir.MatMul):
        return _factors(op.left) + _factors(op.right)
    return [op]


def name_product_tail(graph: ir.Graph, wrt: str, name: str) -> ir.Graph | None:
    """y = V W x becomes m = W x; y = V m, the way the reference introduces m."""
    out = graph.definition(graph.output)
    factors = _factors(out.op)
    if len(factors) < 3 or not all(isinstance(f, ir.Leaf | ir.Ref) for f in factors):
        return None
    if any(getattr(f, "name", None) == wrt for f in factors[:-1]):
        return None
    tail = factors[1]
    for f in factors[2:]:
        tail = ir.MatMul(tail, f, computed_shape(tail.shape.rows, f.shape.cols))
    head = ir.MatMul(factors[0], ir.Ref(name, tail.shape), out.op.shape)
    defs = tuple(d for d in graph.definitions if d.name != out.name)
    new = (ir.Definition(name, tail, False, out.span), dataclasses.replace(out, op=head))
    return ir.Graph(graph.inputs, defs + new, graph.output, graph.source)
