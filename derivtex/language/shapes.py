"""Shapes of tensors: parse "C x D", "D", "1 x D"; dimensions are sympy symbols or integers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sympy

from derivtex.errors import ShapeError, TooLargeError
from derivtex.language.limits import LIMITS

_DIM = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_]*|[0-9]+)$")
ONE = sympy.Integer(1)


# macros a size name may print as (sympy prints Cbar as \bar{C}); others need extra packages
_SAFE_MACROS = frozenset(
    [
        "hat",
        "bar",
        "tilde",
        "dot",
        "ddot",
        "dddot",
        "ddddot",
        "vec",
        "check",
        "breve",
        "acute",
        "grave",
        "mathring",
        "boldsymbol",
        "mathcal",
        "left",
        "right",
        "prime",
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "varepsilon",
        "zeta",
        "eta",
        "theta",
        "vartheta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
        "pi",
        "varpi",
        "rho",
        "varrho",
        "sigma",
        "varsigma",
        "tau",
        "upsilon",
        "phi",
        "varphi",
        "chi",
        "psi",
        "omega",
        "Gamma",
        "Delta",
        "Theta",
        "Lambda",
        "Xi",
        "Pi",
        "Sigma",
        "Upsilon",
        "Phi",
        "Psi",
        "Omega",
    ]
)


def dim_symbol(text: str, source: str | None = None) -> sympy.Expr:
    """A dimension: a positive integer, or a symbol standing for one."""
    where: dict[str, Any] = {"source": source if source is not None else text, "column": 0}
    if text.isdigit():
        if source is not None:
            where["column"] = max(0, source.find(text))
        digits = text.lstrip("0")
        if not digits:
            raise ShapeError(
                f"a size must be positive, not {text!r}",
                length=len(text),
                hint="write a positive integer or a size name such as D",
                **where,
            )
        if len(digits) > 3 or int(digits) > LIMITS.max_dimension:
            raise TooLargeError(
                f"the explicit size {text} is too large",
                limit=f"max_dimension={LIMITS.max_dimension}",
                length=len(text),
                hint='use a symbolic size name instead, e.g. "N x D"',
                **where,
            )
        return sympy.Integer(int(digits))
    if text.endswith("_"):
        raise ShapeError(
            f"a size name cannot end with '_': {text!r}",
            hint="use letters and digits, e.g. D or D2",
            **where,
        )
    symbol = sympy.Symbol(text, positive=True, integer=True)
    macros = set(re.findall(r"\\([A-Za-z]+)", sympy.latex(symbol)))
    if macros - _SAFE_MACROS:
        raise ShapeError(
            f"the size name {text!r} would print as a LaTeX macro "
            f"(\\{sorted(macros - _SAFE_MACROS)[0]})",
            hint="choose a plain size name such as D, N or K2",
            **where,
        )
    return symbol


@dataclass(frozen=True, slots=True)
class Shape:
    """rows x cols, with how the tensor is stored in numpy (a "D" vector is stored as (D,))."""

    rows: sympy.Expr
    cols: sympy.Expr
    flat: bool = False  # declared or computed as a column vector: numpy shape (rows,)
    # declared "D x D symmetric": X^T = X. Not part of equality, so it fits wherever D x D does.
    symmetric: bool = field(default=False, compare=False)

    @property
    def is_scalar(self) -> bool:
        return self.rows == ONE and self.cols == ONE and not self.flat

    @property
    def kind(self) -> str:
        """scalar, vector (a row or column vector) or matrix."""
        if self.is_scalar:
            return "scalar"
        if self.rows == ONE or self.cols == ONE:
            return "vector"
        return "matrix"

    @property
    def free_dims(self) -> tuple[sympy.Expr, ...]:
        """The sizes of the axes that carry an index (axes of size 1 carry none)."""
        return tuple(d for d in (self.rows, self.cols) if d != ONE)

    @property
    def numpy_rank(self) -> int:
        return 0 if self.is_scalar else 1 if self.flat else 2

    def transposed(self) -> Shape:
        return computed_shape(self.cols, self.rows)

    def text(self) -> str:
        """The shape written the way a user declares it."""
        if self.is_scalar:
            return "scalar"
        if self.flat:
            return str(self.rows)
        return f"{self.rows} x {self.cols}" + (" symmetric" if self.symmetric else "")


def computed_shape(rows: sympy.Expr, cols: sympy.Expr) -> Shape:
    """The shape of a computed value: columns are stored flat, like a declared "D"."""
    return Shape(rows, cols, flat=(cols == ONE and rows != ONE))


SCALAR = Shape(ONE, ONE)


def _zero(part: str) -> bool:
    return part.isdigit() and not part.lstrip("0")


def _bad_column(text: str) -> int:
    """Where a shape string goes wrong: a part that is not a size, or a third part."""
    parts = [m for m in re.finditer(r"[^\sx×*,]+", text)]
    for n, m in enumerate(parts):
        if n >= 2 or not _DIM.match(m.group()) or _zero(m.group()):
            return m.start()
    return 0


_SYMMETRIC = re.compile(r"\s+symmetric\s*$")


def parse_shape(text: str, name: str = "?") -> Shape:
    """Read a declared shape: "C x D", "D", "1 x D", "D x 1", "1", "" (a scalar), or a square
    matrix declared "D x D symmetric"."""
    found = _SYMMETRIC.search(text)
    if found is None:
        return _parse_plain(text, name)
    shape = _parse_plain(text[: found.start()], name)
    if shape.kind != "matrix" or shape.rows != shape.cols:
        raise ShapeError(
            f"only a square matrix can be symmetric; {name!r} is {shape.text()}",
            source=text,
            column=found.start() + len(found.group()) - len(found.group().lstrip()),
            length=len("symmetric"),
            hint='write a symmetric matrix as "D x D symmetric"',
        )
    return Shape(shape.rows, shape.cols, symmetric=True)


def _parse_plain(text: str, name: str) -> Shape:
    parts = [p.strip() for p in re.split(r"\s*[x×*,]\s*|\s+", text.strip()) if p.strip()]
    if not parts:
        return SCALAR
    if len(parts) > 2 or not all(_DIM.match(p) for p in parts) or any(map(_zero, parts)):
        raise ShapeError(
            f"cannot read the shape {text!r} of {name!r}",
            source=text,
            column=_bad_column(text),
            hint='write a matrix as "C x D", a column vector as "D", a row vector as "1 x D", '
            'a scalar as "1"; sizes are names or positive integers',
        )
    dims = [dim_symbol(p, text) for p in parts]
    if len(dims) == 1:
        return SCALAR if dims[0] == ONE else Shape(dims[0], ONE, flat=True)
    return Shape(dims[0], dims[1])
