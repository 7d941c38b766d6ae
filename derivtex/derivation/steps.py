"""The typed steps of a worked derivation; each holds sympy math, never LaTeX."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

import sympy

from derivtex.calculus.verify import VerificationReport

Expr: TypeAlias = sympy.Basic
Grid: TypeAlias = tuple[tuple[Expr | None, ...], ...]  # None marks the dots between shown entries


@dataclass(frozen=True, slots=True)
class ComponentFormula:
    """One component of the output written as an explicit sum."""

    kind: ClassVar[str] = "component_formula"
    justification: str
    lhs: Expr
    rhs: Expr
    wrt_entry: Expr
    definitions: tuple[tuple[Expr, Expr], ...]  # values the formula names (z = W x + b)


@dataclass(frozen=True, slots=True)
class SumExpansion:
    """The sum without its sign: first terms, the term that holds the wrt component, the last."""

    kind: ClassVar[str] = "sum_expansion"
    justification: str
    lhs: Expr
    terms: tuple[Expr, ...]
    gaps: tuple[int, ...]  # an ellipsis follows the term at each of these positions
    marked: int  # position of the term that matters, -1 when no term holds it


@dataclass(frozen=True, slots=True)
class TermPartial:
    """The partial of each term: all zero but one."""

    kind: ClassVar[str] = "term_partial"
    justification: str
    lhs: Expr
    wrt_entry: Expr
    terms: tuple[Expr, ...]
    partials: tuple[Expr, ...]
    gaps: tuple[int, ...]
    marked: int
    result: Expr


@dataclass(frozen=True, slots=True)
class Generalization:
    """The same for every index pair."""

    kind: ClassVar[str] = "generalization"
    justification: str
    lhs: Expr
    rhs: Expr
    example_lhs: Expr
    example_rhs: Expr


@dataclass(frozen=True, slots=True)
class JacobianAssembly:
    """The grid of partials, the grid of entries, and the matrix form."""

    kind: ClassVar[str] = "jacobian_assembly"
    justification: str
    lhs: Expr
    partials: Grid
    entries: Grid | None  # None when the entries are too long to show in a grid
    result: Expr
    layout: str
    arrangement: str  # plain words: what the rows and columns follow
    other_layout: Expr | None  # the same partials in the other arrangement, when it differs


@dataclass(frozen=True, slots=True)
class TensorStructure:
    """A derivative with three or more axes: defined entry by entry, then stored compactly."""

    kind: ClassVar[str] = "tensor_structure"
    justification: str
    definition_lhs: Expr
    definition_rhs: Expr
    zero_lhs: Expr | None  # None when no entry is zero
    zero_out: Expr | None
    zero_wrt: Expr | None
    nonzero_lhs: Expr
    nonzero_rhs: Expr
    pattern_lhs: Expr
    pattern_rhs: Expr
    compact_lhs: Expr | None
    compact_rhs: Expr | None


@dataclass(frozen=True, slots=True)
class BatchRows:
    """Stacked data points: each row of the output uses only the same row of the input."""

    kind: ClassVar[str] = "batch_rows"
    justification: str
    zero_lhs: Expr
    shared_lhs: Expr
    shared_rhs: Expr
    row_lhs: Expr
    row_rhs: Expr | None
    layout: str


@dataclass(frozen=True, slots=True)
class ChainRule:
    """Through a named intermediate: the chain rule for single components, summed."""

    kind: ClassVar[str] = "chain_rule"
    justification: str
    intermediates: tuple[tuple[Expr, Expr], ...]
    rule_lhs: Expr
    rule_rhs: Expr
    component_lhs: Expr
    component_rhs: Expr
    expanded: tuple[Expr, ...]
    gaps: tuple[int, ...]
    local: tuple[tuple[Expr, Expr], ...]
    result_index: Expr
    result: Expr | None


@dataclass(frozen=True, slots=True)
class Elementwise:
    """An elementwise function has a diagonal Jacobian."""

    kind: ClassVar[str] = "elementwise"
    justification: str
    lhs: Expr
    rhs: Expr
    matrix_lhs: Expr
    matrix_rhs: Expr
    in_chain_lhs: Expr | None
    in_chain_rhs: Expr | None


@dataclass(frozen=True, slots=True)
class Summary:
    """The result, the layout, and how it was verified."""

    kind: ClassVar[str] = "summary"
    justification: str
    lhs: Expr
    result: Expr
    index_lhs: Expr
    index_result: Expr
    has_matrix_form: bool
    layout: str
    report: VerificationReport | None


Step = (
    ComponentFormula
    | SumExpansion
    | TermPartial
    | Generalization
    | JacobianAssembly
    | TensorStructure
    | BatchRows
    | ChainRule
    | Elementwise
    | Summary
)
KINDS = tuple(
    cls.kind
    for cls in (
        ComponentFormula,
        SumExpansion,
        TermPartial,
        Generalization,
        JacobianAssembly,
        TensorStructure,
        BatchRows,
        ChainRule,
        Elementwise,
        Summary,
    )
)
