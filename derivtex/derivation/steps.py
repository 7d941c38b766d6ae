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
    """The sum written out term by term, the terms that hold the wrt component marked."""

    kind: ClassVar[str] = "sum_expansion"
    justification: str
    lhs: Expr
    terms: tuple[Expr, ...]
    signs: tuple[int, ...]  # +1 or -1 before each term
    gaps: tuple[int, ...]  # an ellipsis follows the term at each of these positions
    marked: tuple[int, ...]  # positions of the terms that hold the component


@dataclass(frozen=True, slots=True)
class TermPartial:
    """The partial of each term: zero for every term without the component."""

    kind: ClassVar[str] = "term_partial"
    justification: str
    lhs: Expr
    wrt_entry: Expr
    partials: tuple[Expr, ...]  # d term / d wrt, unevaluated for the marked terms, else 0
    signs: tuple[int, ...]
    gaps: tuple[int, ...]
    marked: tuple[int, ...]
    values: tuple[Expr, ...]  # each marked term's partial, worked out
    rules: tuple[str, ...]  # the scalar rules used: "power rule", "product rule", ...
    result: Expr


@dataclass(frozen=True, slots=True)
class Sparsity:
    """One entry of the derivative that is zero, and why; then one that is not."""

    kind: ClassVar[str] = "sparsity"
    justification: str
    out_entry: Expr
    zero_wrt: Expr
    zero_lhs: Expr
    nonzero_lhs: Expr
    nonzero_rhs: Expr


@dataclass(frozen=True, slots=True)
class LocalDerivative:
    """One link of a chain, derived by the method: its component, term by term, in general."""

    kind: ClassVar[str] = "local_derivative"
    justification: str
    label: str  # how later steps cite it: (L1)
    lhs: Expr  # d m_k / d x_j
    rhs: Expr
    formula_lhs: Expr  # m_5
    formula_rhs: Expr  # sum_p W_{5,p} x_p
    formula_cited: bool  # the section's own component formula, not repeated
    wrt_entry: Expr  # x_7
    expansion: SumExpansion | None
    partial: TermPartial | None
    example_lhs: Expr
    example_rhs: Expr
    cases: QuotientRule | None = None  # softmax's component worked by the quotient rule


@dataclass(frozen=True, slots=True)
class QuotientRule:
    """A component that is a quotient (softmax's): the quotient rule, its cases, the result."""

    kind: ClassVar[str] = "quotient_rule"
    justification: str
    lhs: Expr  # d p_i / d z_j
    rhs: Expr  # delta_{i,j} p_i - p_i p_j
    formula_lhs: Expr  # p_i
    formula_rhs: Expr  # e^{z_i} / s
    denominator: tuple[Expr, Expr]  # s and what it stands for, sum_k e^{z_k}
    rule_rhs: Expr  # (d e^{z_i} / d z_j) s - e^{z_i} (d s / d z_j), over s^2
    denominator_partial: tuple[Expr, Expr]  # d s / d z_j = e^{z_j}: only the term k = j
    conditions: tuple[Expr, ...]  # i = j, i != j
    cases: tuple[tuple[Expr, ...], ...]  # each case's equal forms, its value last
    matrix_lhs: Expr | None  # None when a later step assembles the matrix
    matrix_rhs: Expr | None


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
    local: tuple[tuple[Expr, Expr, str], ...]  # each factor, its value and the step it is from
    substituted: Expr  # the sum with the local derivatives put in
    result_index: Expr
    result: Expr | None
    label: str  # how a later chain-rule step cites this one: (C1)


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
class WorkedRule:
    """A rule derived from first principles, a line at a time: an inverse's, a determinant's."""

    kind: ClassVar[str] = "worked_rule"
    justification: str
    rule: str  # "inverse" or "determinant"
    lines: tuple[tuple[Expr, Expr], ...]  # lhs = rhs, each following from the one before
    reasons: tuple[str, ...]  # why each line holds, one per line


@dataclass(frozen=True, slots=True)
class Symmetric:
    """What a symmetric input changes: X^T = X in the result; by a symmetric X, the gradient."""

    kind: ClassVar[str] = "symmetric"
    justification: str
    lhs: Expr
    entrywise: Expr  # the matrix form entry by entry (every entry its own variable)
    halfsum: Expr | None  # (G + G^T)/2 written out, when the variable itself is symmetric
    result: Expr | None  # None when the half sum does not simplify further


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


@dataclass(frozen=True, slots=True)
class SecondPartial:
    """One gradient component differentiated by one entry: the Hessian's worked entry."""

    kind: ClassVar[str] = "second_partial"
    justification: str
    lhs: Expr  # d^2 L / d x_3 d x_7
    gradient_entry: Expr  # d L / d x_3
    component: Expr  # the gradient component's formula
    wrt_entry: Expr
    terms: tuple[Expr, ...]  # the component's terms
    values: tuple[Expr, ...]  # the partial of each term by wrt_entry, worked out
    links: tuple[tuple[Expr, Expr], ...]  # (d r_k / d x_7, its value) for the entries used
    rules: tuple[str, ...]
    result: Expr
    general_lhs: Expr  # d^2 L / d x_i d x_j
    general: Expr  # the Hessian's index form
    symmetric: bool  # verified: the Hessian equals its transpose


@dataclass(frozen=True, slots=True)
class HessianAssembly:
    """The grid of second partials, the grid of entries, the matrix form, and its symmetry."""

    kind: ClassVar[str] = "hessian_assembly"
    justification: str
    lhs: Expr
    partials: Grid
    entries: Grid | None  # None when the entries are too long to show in a grid
    result: Expr
    symmetric: bool  # verified: every (i, j) entry equals the (j, i) entry


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
    | Sparsity
    | LocalDerivative
    | Symmetric
    | WorkedRule
    | QuotientRule
    | SecondPartial
    | HessianAssembly
)
KINDS = tuple(
    cls.kind
    for cls in (
        ComponentFormula,
        SumExpansion,
        TermPartial,
        WorkedRule,
        LocalDerivative,
        QuotientRule,
        Sparsity,
        Generalization,
        JacobianAssembly,
        TensorStructure,
        BatchRows,
        ChainRule,
        Elementwise,
        Symmetric,
        SecondPartial,
        HessianAssembly,
        Summary,
    )
)
