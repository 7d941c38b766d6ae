"""derivtex: worked derivations of vector, matrix and tensor derivatives, as LaTeX and PDF."""

from __future__ import annotations

from typing import TYPE_CHECKING

from derivtex.errors import (
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

__version__ = "0.1.0"

if TYPE_CHECKING:
    from derivtex.api import derive
    from derivtex.derivation.model import Derivation
    from derivtex.rendering.document import render
    from derivtex.tex.runner import compile_pdf

# Loaded on first use: sympy takes half a second to import, and `derivtex build` with nothing
# to rebuild, `derivtex --help` and `derivtex init` never need it.
# Each public name maps to the module that defines it; no submodule shares a public name, so
# importing a submodule can never shadow one (tests/test_api.py calls each twice).
_LAZY = {
    "Derivation": "derivation.model",
    "derive": "api",
    "write_handout": "api",
    "render": "rendering.document",
    "compile_pdf": "tex.runner",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "write_handout",
]
