"""Check shapes and names, and lower the syntax tree to typed operations (a Graph)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import assert_never

import sympy

from derivtex.errors import (
    CycleError,
    RedefinitionError,
    ShapeError,
    UndeclaredNameError,
    WrtError,
)
from derivtex.language import algebra, builtins, entrywise, ir
from derivtex.language import nodes as n
from derivtex.language.functions import ELEMENTWISE
from derivtex.language.limits import LIMITS
from derivtex.language.shapes import Shape, computed_shape, parse_shape

# Names the tool gives to values it has to name, by the role they play.
AUTO_NAMES = {
    "arg": "zuvg",
    "residual": "rew",
    "norm": "nc",
    "base": "sab",
    "den": "dqh",
    "softmax": "pqh",
    "lse": "lh",
    "inv": "QRV",
    "det": "qg",
}
LOWERINGS = {**builtins.LOWERINGS, **algebra.LOWERINGS}
# I_D, I_3; I_hat stays an ordinary name (an undeclared one, unless declared).
_IDENTITY = re.compile(r"I_([A-Z][A-Za-z0-9]*|[0-9]+)")


def extent(node: n.Node) -> tuple[int, int]:
    """The source columns [start, end) that a node covers."""
    match node:
        case n.Num(span=s) | n.Name(span=s):
            return s.start, s.start + s.length
        case n.BinOp(left=a, right=b):
            return extent(a)[0], extent(b)[1]
        case n.Neg(arg=a, span=s) | n.Transpose(arg=a, span=s):
            return min(s.start, extent(a)[0]), max(s.start + s.length, extent(a)[1])
        case n.Power(base=a, span=s):
            return extent(a)[0], s.start + s.length
        case n.Call(args=args, span=s):
            return s.start, max(extent(args[-1])[1] + 1, s.start + s.length)
        case _:
            assert_never(node)


class _Lowerer:
    def __init__(self, program: n.Program, inputs: Mapping[str, Shape]) -> None:
        self.program = program
        self.inputs = inputs
        self.shapes: dict[str, Shape] = {}
        self.defs: list[ir.Definition] = []
        self.taken = set(inputs) | {s.target for s in program.statements}
        self.named_ops: dict[ir.Op, str] = {}
        self.dims = {str(d): d for s in inputs.values() for d in (s.rows, s.cols) if d.is_Symbol}
        self.taken |= set(self.dims)  # the tool's names never hide a size: x / norm(x) / n

    # -- errors --------------------------------------------------------------------------------
    def text(self, node: n.Node) -> str:
        start, end = extent(node)
        return self.program.source[start:end].strip()

    def shape_error(self, message: str, node: n.Node, hint: str) -> ShapeError:
        start, end = extent(node)
        return ShapeError(
            message, source=self.program.source, column=start, length=end - start, hint=hint
        )

    def operands_error(
        self, what: str, a: n.Node, sa: Shape, b: n.Node, sb: Shape, hint: str
    ) -> ShapeError:
        return self.shape_error(
            f"{what}: {self.text(a)!r} is {sa.text()} but {self.text(b)!r} is {sb.text()}",
            b,
            hint,
        )

    # -- naming --------------------------------------------------------------------------------
    def fresh_name(self, role: str) -> str:
        letters = AUTO_NAMES[role]
        for suffix in ("", *map(str, range(1, 100))):
            for letter in letters:
                if letter + suffix not in self.taken:
                    self.taken.add(letter + suffix)
                    return letter + suffix
        raise AssertionError("ran out of names")

    def named(self, op: ir.Op, role: str, span: n.Span) -> ir.Leaf | ir.Ref:
        """The op itself if it already is a name, else a new definition that names it."""
        if isinstance(op, ir.Leaf | ir.Ref):
            return op
        if op in self.named_ops:  # relu(W x) + softplus(W x): one name for W x
            return ir.Ref(self.named_ops[op], op.shape)
        name = self.fresh_name(role)
        self.named_ops[op] = name
        self.defs.append(ir.Definition(name, op, True, span))
        self.shapes[name] = op.shape
        return ir.Ref(name, op.shape)

    # -- lowering ------------------------------------------------------------------------------
    def statement(self, stmt: n.Statement) -> None:
        op = self.lower(stmt.expr, top=True)
        self.shapes[stmt.target] = op.shape
        self.defs.append(ir.Definition(stmt.target, op, False, stmt.span))

    def lower(self, node: n.Node, top: bool = False) -> ir.Op:
        match node:
            case n.Num(value=v):
                return ir.Const(v)
            case n.Name():
                return self.name(node)
            case n.Neg(arg=a):
                inner = self.lower(a)
                if isinstance(inner, ir.Const):
                    return ir.Const(-inner.value)
                return ir.Scale(ir.Const(sympy.Integer(-1)), inner, inner.shape)
            case n.BinOp():
                return self.binop(node)
            case n.Transpose(arg=n.Num(value=1)):
                raise self.shape_error(
                    "1^T, the ones row, takes its length from a product",
                    node,
                    "write it before what it sums, e.g. 1^T x or 1^T X; sum(x) also works",
                )
            case n.Transpose(arg=a):
                inner = self.lower(a)
                return ir.Transpose(inner, inner.shape.transposed())
            case n.Power():
                return self.power(node, top)
            case n.Call():
                return self.call(node, top)
            case _:
                assert_never(node)

    def name(self, node: n.Name) -> ir.Op:
        if node.name in self.inputs:
            return ir.Leaf(node.name, self.inputs[node.name])
        if node.name in self.shapes:
            return ir.Ref(node.name, self.shapes[node.name])
        if node.name in self.dims:  # a size used as a number: x / N
            return ir.Dim(self.dims[node.name])
        if identity := _IDENTITY.fullmatch(node.name):
            return self.eye(identity.group(1), node)
        known = sorted(set(self.inputs) | set(self.shapes))
        close = difflib.get_close_matches(node.name, known, n=1)
        raise UndeclaredNameError.at(
            node.span,
            self.program.source,
            f"{node.name!r} has no declared shape and no statement defines it",
            hint=(f"did you mean {close[0]!r}? " if close else "")
            + f'declare it, e.g. --shape "{node.name}=D" (Python: shapes={{"{node.name}": "D"}})',
        )

    def binop(self, node: n.BinOp) -> ir.Op:
        if node.op == "matmul" and entrywise.ones_row(node.left):
            return entrywise.ones_times(self, node)
        left, right = self.lower(node.left), self.lower(node.right)
        sa, sb = left.shape, right.shape
        if node.op == "matmul" or (node.op == "hadamard" and (sa.is_scalar or sb.is_scalar)):
            return self.matmul(node, left, right)  # a scalar times anything is a scalar multiple
        return entrywise.combine(self, node, left, right)

    def eye(self, size: str, node: n.Node) -> ir.Eye:
        if size.isdigit() and 0 < int(size) <= LIMITS.max_dimension:
            dim: sympy.Expr = sympy.Integer(int(size))
        elif size in self.dims:
            dim = self.dims[size]
        else:
            raise self.shape_error(
                f"the identity's size {size!r} is not a size of the declared inputs",
                node,
                'write I_D or eye(D) with D a size in the shapes, e.g. "x=D"',
            )
        return ir.Eye(dim, Shape(dim, dim))

    def matmul(self, node: n.BinOp, left: ir.Op, right: ir.Op) -> ir.Op:
        sa, sb = left.shape, right.shape
        if sa.is_scalar or sb.is_scalar:
            scalar, other = (left, right) if sa.is_scalar else (right, left)
            return ir.Scale(scalar, other, other.shape)
        if sa.cols != sb.rows:
            raise self.operands_error(
                "cannot multiply",
                node.left,
                sa,
                node.right,
                sb,
                f"the columns of the left ({sa.cols}) must equal the rows of the right "
                f"({sb.rows}); transpose one operand (e.g. x^T W) or check the declared shapes",
            )
        return ir.MatMul(left, right, computed_shape(sa.rows, sb.cols))

    def power(self, node: n.Power, top: bool = False) -> ir.Op:
        base = self.lower(node.base)
        if base.shape.kind == "matrix" and not node.elementwise:
            return algebra.matrix_power(self, node, base, top)
        if not base.shape.is_scalar and not node.elementwise:
            raise self.shape_error(
                f"{self.text(node.base)!r} is {base.shape.text()}: only scalars have powers "
                "with '^' (and square matrices: X^2, X^-1)",
                node,
                "raise every entry with .^ (x.^2), a length with norm(x)^2",
            )
        if node.exponent == 1:
            return base
        return ir.Power(self.named(base, "base", node.span), node.exponent, base.shape)

    def call(self, node: n.Call, top: bool) -> ir.Op:
        node = algebra.log_of_det(node) or node
        args = tuple(self.lower(a) for a in node.args)
        if node.func in ELEMENTWISE:
            return ir.Apply(node.func, self.named(args[0], "arg", node.span), args[0].shape)
        if node.func in LOWERINGS:
            return LOWERINGS[node.func](self, node, args[0], top)
        if node.func == "hadamard":
            return self.binop(n.BinOp("hadamard", node.args[0], node.args[1], node.span))
        if node.func == "tr" and args[0].shape.rows != args[0].shape.cols:
            raise self.shape_error(
                f"tr() needs a square matrix; {self.text(node.args[0])!r} is "
                f"{args[0].shape.text()}",
                node,
                "take the trace of a square product, e.g. tr(X^T X)",
            )
        if node.func in ("norm", "norm2"):
            op = ir.Length(self.named(args[0], "residual", node.span))
            # The norm is named too: its value appears in its derivative (x / ||x||).
            return op if top else self.named(op, "norm", node.span)
        if node.func == "sum":
            return ir.Total(args[0])
        if node.func == "tr":
            return ir.Trace(args[0])
        raise AssertionError(f"no lowering for {node.func}()")


def _declared(shapes: Mapping[str, str | Shape]) -> dict[str, Shape]:
    return {
        name: s if isinstance(s, Shape) else parse_shape(str(s), name) for name, s in shapes.items()
    }


def _order(program: n.Program, inputs: Mapping[str, Shape]) -> tuple[n.Statement, ...]:
    """Statements in dependency order; raises on a name defined twice or a cycle."""
    by_name: dict[str, n.Statement] = {}
    for stmt in program.statements:
        if stmt.target in inputs or stmt.target in by_name:
            what = "a declared input" if stmt.target in inputs else "defined twice"
            raise RedefinitionError.at(
                stmt.span,
                program.source,
                f"{stmt.target!r} is {what}",
                hint="give each statement its own new name",
            )
        by_name[stmt.target] = stmt
    ordered: list[n.Statement] = []
    state: dict[str, int] = {}

    def visit(stmt: n.Statement) -> None:
        if state.get(stmt.target) == 2:
            return
        if state.get(stmt.target) == 1:
            raise CycleError.at(
                stmt.span,
                program.source,
                f"{stmt.target!r} depends on itself",
                hint="a statement may only use inputs and names defined without it",
            )
        state[stmt.target] = 1
        for used in sorted(_names_in(stmt.expr)):
            if used in by_name:
                visit(by_name[used])
        state[stmt.target] = 2
        ordered.append(stmt)

    for stmt in program.statements:
        visit(stmt)
    return tuple(ordered)


def _names_in(node: n.Node) -> set[str]:
    match node:
        case n.Name(name=name):
            return {name}
        case n.Num():
            return set()
        case n.BinOp(left=a, right=b):
            return _names_in(a) | _names_in(b)
        case n.Neg(arg=a) | n.Transpose(arg=a) | n.Power(base=a):
            return _names_in(a)
        case n.Call(args=args):
            return set().union(*(_names_in(a) for a in args))
        case _:
            assert_never(node)


def lower(program: n.Program, shapes: Mapping[str, str | Shape], of: str | None = None) -> ir.Graph:
    """Check a parsed program against the declared shapes and lower it to a Graph."""
    inputs = _declared(shapes)
    lowerer = _Lowerer(program, inputs)
    for stmt in _order(program, inputs):
        lowerer.statement(stmt)
    output = of if of is not None else program.statements[-1].target
    if output not in lowerer.shapes:
        raise WrtError(
            f"there is no statement {output!r} to take as the output",
            hint="name one of: " + ", ".join(s.target for s in program.statements),
        )
    # Declared but unused inputs stay, so that --wrt on one says "does not depend on".
    return ir.Graph(
        tuple(inputs.items()),
        tuple(lowerer.defs),
        output,
        program.source,
    )


def check_wrt(graph: ir.Graph, wrt: str) -> Shape:
    """The shape of `wrt`, after checking the output depends on it."""
    inputs = dict(graph.inputs)
    if wrt not in inputs:
        if wrt in graph.names:
            hint = f"{wrt!r} is an intermediate; differentiate by one of the inputs"
        else:
            hint = "differentiate by a declared input: " + ", ".join(sorted(inputs))
        raise WrtError(f"cannot differentiate by {wrt!r}: it is not an input", hint=hint)
    if wrt not in depends_on(graph, graph.output):
        span = graph.definition(graph.output).span
        raise WrtError.at(
            span,
            graph.source,
            f"{graph.output!r} does not depend on {wrt!r}",
            hint="the derivative would be zero everywhere; check --wrt and the text",
        )
    return inputs[wrt]


def depends_on(graph: ir.Graph, name: str) -> frozenset[str]:
    """Every input and definition that `name` reads, directly or through others."""
    if name in dict(graph.inputs):
        return frozenset((name,))
    direct = ir.names_used(graph.definition(name).op)
    return direct.union(*(depends_on(graph, d) for d in direct))


__all__ = ["lower", "check_wrt", "depends_on"]
