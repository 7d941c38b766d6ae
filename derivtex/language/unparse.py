"""Write a syntax tree back as expression text (fully parenthesized): parse(unparse(t)) is t."""

from __future__ import annotations

from decimal import Context, Decimal
from typing import assert_never

from derivtex.language import nodes as n

_OPS = {"matmul": " ", "hadamard": " .* ", "+": " + ", "-": " - ", "/": " / ", "./": " ./ "}


def unparse(node: n.Node) -> str:
    """The text of one expression; every operation in parentheses so precedence is explicit."""
    match node:
        case n.Num(value=v):
            return _decimal(v.p, v.q)
        case n.Name(name=name):
            return name
        case n.Neg(arg=a):
            return f"(-{unparse(a)})"
        case n.BinOp(op=op, left=a, right=b):
            return f"({unparse(a)}{_OPS[op]}{unparse(b)})"
        case n.Transpose(arg=a):
            return f"({unparse(a)})^T"
        case n.Power(base=a, exponent=p, elementwise=dotted):
            return f"({unparse(a)}){'.^' if dotted else '^'}({p})"
        case n.Call(func=f, args=args):
            return f"{f}({', '.join(unparse(a) for a in args)})"
        case _:
            assert_never(node)


def unparse_program(program: n.Program) -> str:
    """Every statement, one per line."""
    return "\n".join(f"{s.target} = {unparse(s.expr)}" for s in program.statements)


def _decimal(p: int, q: int) -> str:
    """A literal's exact decimal: the parser reads decimals only, so q is 2^a 5^b."""
    text = format(Context(prec=60).divide(Decimal(p), Decimal(q)).normalize(), "f")
    return text if p >= 0 else f"({text})"
