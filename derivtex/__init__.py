"""derivtex: worked derivations of vector, matrix and tensor derivatives, as LaTeX and PDF."""

from __future__ import annotations

from .api import Derivation, derive
from .compile import compile_pdf
from .errors import (
    CycleError,
    DerivtexError,
    InputError,
    ParseError,
    RedefinitionError,
    ShapeError,
    SpecError,
    TemplateError,
    TexError,
    UndeclaredNameError,
    UnknownFunctionError,
    VerificationError,
    WrtError,
)
from .render import render

__version__ = "0.1.0"

__all__ = [
    "CycleError",
    "Derivation",
    "DerivtexError",
    "InputError",
    "ParseError",
    "RedefinitionError",
    "ShapeError",
    "SpecError",
    "TemplateError",
    "TexError",
    "UndeclaredNameError",
    "UnknownFunctionError",
    "VerificationError",
    "WrtError",
    "__version__",
    "compile_pdf",
    "derive",
    "render",
]
