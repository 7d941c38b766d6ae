"""Shapes of tensors: parse "C x D", "D", "1 x D"; dimensions are sympy symbols or integers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from derivtex.errors import ShapeError

_DIM = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_]*|[0-9]+)$")
ONE = sympy.Integer(1)


def dim_symbol(text: str) -> sympy.Expr:
    """A dimension: a positive integer, or a symbol standing for one."""
    if text.isdigit():
        if int(text) < 1:
            raise ValueError(text)
        return sympy.Integer(int(text))
    return sympy.Symbol(text, positive=True, integer=True)


@dataclass(frozen=True, slots=True)
class Shape:
    """rows x cols, with how the tensor is stored in numpy (a "D" vector is stored as (D,))."""

    rows: sympy.Expr
    cols: sympy.Expr
    flat: bool = False  # declared or computed as a column vector: numpy shape (rows,)

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
        return f"{self.rows} x {self.cols}"


def computed_shape(rows: sympy.Expr, cols: sympy.Expr) -> Shape:
    """The shape of a computed value: columns are stored flat, like a declared "D"."""
    return Shape(rows, cols, flat=(cols == ONE and rows != ONE))


SCALAR = Shape(ONE, ONE)


def _bad_column(text: str) -> int:
    """Where a shape string goes wrong: a part that is not a size, or a third part."""
    parts = [m for m in re.finditer(r"[^\sx×*,]+", text)]
    for n, m in enumerate(parts):
        if n >= 2 or not _DIM.match(m.group()) or m.group() == "0":
            return m.start()
    return 0


def parse_shape(text: str, name: str = "?") -> Shape:
    """Read a declared shape: "C x D", "D", "1 x D", "D x 1", "1" or "" (a scalar)."""
    parts = [p.strip() for p in re.split(r"\s*[x×*,]\s*|\s+", text.strip()) if p.strip()]
    if not parts:
        return SCALAR
    if len(parts) > 2 or not all(_DIM.match(p) for p in parts) or "0" in parts:
        raise ShapeError(
            f"cannot read the shape {text!r} of {name!r}",
            source=text,
            column=_bad_column(text),
            hint='write a matrix as "C x D", a column vector as "D", a row vector as "1 x D", '
            'a scalar as "1"; sizes are names or positive integers',
        )
    dims = [dim_symbol(p) for p in parts]
    if len(dims) == 1:
        return SCALAR if dims[0] == ONE else Shape(dims[0], ONE, flat=True)
    return Shape(dims[0], dims[1])
