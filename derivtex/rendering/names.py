"""How names print: tensor kinds, Greek letters, accents, layer numbers and the vector style."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from derivtex.options import VectorStyle

if TYPE_CHECKING:
    from derivtex.language import ir

KINDS = ("scalar", "vector", "matrix")
VECTOR_STYLES = tuple(v.value for v in VectorStyle)

_GREEK_WORDS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau"
    " upsilon phi chi psi omega varepsilon vartheta varpi varrho varsigma varphi"
    " Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega"
)
# LaTeX has no \omicron: the letter looks like a Latin o.
GREEK = {**{word: "\\" + word for word in _GREEK_WORDS.split()}, "omicron": "o"}
ACCENTS = {"hat": r"\hat", "bar": r"\bar", "tilde": r"\tilde"}

ACCENT_MACROS = (r"\vec", *ACCENTS.values())
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# How derivtex's own sympy functions print (the names the notes use); a subclass may change it.
FUNCTION_LATEX = {
    "sigmoid": r"\sigma",
    "sigmoid_prime": r"\sigma'",
    "relu": r"\operatorname{relu}",
    "relu_prime": r"\operatorname{relu}'",
    "softplus": r"\operatorname{softplus}",
    "signum": r"\operatorname{sign}",
    "asin": r"\arcsin",
    "acos": r"\arccos",
    "atan": r"\arctan",
}


@dataclass(frozen=True, slots=True)
class Notation:
    """How tensors print: the kind of each named tensor and the style of vectors."""

    kinds: tuple[tuple[str, str], ...]  # tensor name -> "scalar" | "vector" | "matrix"
    vectors: str = "arrow"  # "arrow" -> \vec{x}; "bold" -> \mathbf{x}

    def __post_init__(self) -> None:
        check_choice("vector style", self.vectors, VECTOR_STYLES)
        for name, kind in self.kinds:
            split_name(name)
            check_choice("kind", kind, KINDS)

    def kind(self, name: str) -> str | None:
        """The declared kind of a tensor name, or None if it was not declared."""
        return next((kind for known, kind in self.kinds if known == name), None)


def name_latex(name: str, kind: str, vectors: str = "arrow") -> str:
    """The LaTeX of a bare tensor name: W1 -> W^{(1)}, x_hat -> \\hat{x}, alpha -> \\alpha."""
    check_choice("kind", kind, KINDS)
    check_choice("vector style", vectors, VECTOR_STYLES)
    core, number, suffix = split_name(name)
    tex = _styled_core(core, kind, vectors)
    if suffix in ACCENTS:
        tex = f"{ACCENTS[suffix]}{{{tex}}}"
    if number:
        tex += f"^{{({number})}}"
    if suffix and suffix not in ACCENTS:
        tex += "_{\\mathrm{" + suffix.replace("_", r"\_") + "}}"
    return tex


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")


def split_name(name: str) -> tuple[str, str, str]:
    """Split W12_hat into its letters, its trailing layer number and its suffix."""
    if not _NAME.fullmatch(name) or name.endswith("_"):
        raise ValueError(f"not a tensor name: {name!r} (letters, digits and _ only)")
    head, _, suffix = name.partition("_")
    core = head.rstrip("0123456789")
    return core, head[len(core) :], suffix


def _styled_core(core: str, kind: str, vectors: str) -> str:
    bold = kind == "vector" and vectors == "bold"
    if core in GREEK:
        return rf"\boldsymbol{{{GREEK[core]}}}" if bold else _arrow(GREEK[core], kind)
    if bold:
        return rf"\mathbf{{{core}}}"
    return _arrow(core if len(core) == 1 else rf"\mathrm{{{core}}}", kind)


def _arrow(tex: str, kind: str) -> str:
    return rf"\vec{{{tex}}}" if kind == "vector" else tex


def has_subscript(name: str) -> bool:
    suffix = split_name(name)[2]
    return bool(suffix) and suffix not in ACCENTS


def notation(graph: ir.Graph, vectors: str = "arrow") -> Notation:
    """How to print the tensors of a graph."""
    kinds = tuple((name, graph.shape_of(name).kind) for name in sorted(graph.names))
    return Notation(kinds, str(vectors))
