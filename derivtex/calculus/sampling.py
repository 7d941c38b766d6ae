"""Random inputs for the numeric check: inside every domain, away from kinks and poles."""

from __future__ import annotations

import numpy as np
import sympy

from derivtex.calculus import conditioning as C
from derivtex.calculus import numeric as N
from derivtex.calculus.backends import FloatArray
from derivtex.language import ir
from derivtex.language.functions import ELEMENTWISE


def needs_positive(op: ir.Op) -> bool:
    """log, sqrt and fractional powers are real only for positive arguments."""
    if isinstance(op, ir.Apply) and ELEMENTWISE[op.func].positive_domain:
        return True
    if isinstance(op, ir.Power) and not op.exponent.is_integer:
        return True
    return any(needs_positive(c) for c in ir.children(op))


def _needs_unit(op: ir.Op) -> bool:
    """arcsin, arccos and tan want arguments well inside (-1, 1)."""
    return any(isinstance(o, ir.Apply) and ELEMENTWISE[o.func].unit_domain for o in ir.walk(op))


def random_values(graph: ir.Graph, dims: N.Dims, rng: np.random.Generator) -> dict[str, FloatArray]:
    """Random inputs: positive where log or sqrt need it, and away from kinks and poles."""
    positive = any(needs_positive(d.op) for d in graph.definitions)
    unit = any(_needs_unit(d.op) for d in graph.definitions)
    low, high = (0.1, 0.4) if unit else (0.5, 1.5)
    squares = C.square_kinds(graph)
    values: dict[str, FloatArray] = {}
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


def _well_inside(graph: ir.Graph, values: N.Values) -> bool:
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


def sample(
    graph: ir.Graph, symbols: tuple[sympy.Symbol, ...], rng: np.random.Generator
) -> tuple[N.Dims, dict[str, FloatArray], float | None]:
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
