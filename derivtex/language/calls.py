"""The functions a program may call: their arities, the planned ones, hints for misspellings."""

from __future__ import annotations

import difflib

from derivtex.language.functions import ELEMENTWISE

# name -> number of arguments
FUNCTIONS: dict[str, int] = {
    **dict.fromkeys(ELEMENTWISE, 1),
    "sum": 1,
    "tr": 1,
    "norm": 1,
    "norm1": 1,
    "norm2": 1,
    "mean": 1,
    "diag": 1,
    "softmax": 1,
    "log_softmax": 1,
    "logsumexp": 1,
    "eye": 1,
    "inv": 1,
    "det": 1,
    "logdet": 1,
    "hadamard": 2,
}

# Functions users ask for that derivtex does not have yet, and what to write meanwhile.
PLANNED: dict[str, str] = {
    "pinv": "pseudo-inverses are planned",
    "max": "a smooth maximum is logsumexp(x)",
    "min": "a smooth minimum is -logsumexp(-x)",
    "kron": "Kronecker products are planned",
}


def closest_function(name: str) -> list[str]:
    """The known function a misspelling means: swapped letters (tahn) first, then difflib's."""
    swapped = [f for f in FUNCTIONS if len(f) == len(name) and sorted(f) == sorted(name)]
    return swapped[:1] or difflib.get_close_matches(name, FUNCTIONS, n=1)


# A second argument to these would be an axis, which the language has not got yet.
AXIS_HINT = {
    f: f"{f}(Z, axis) is not supported yet (planned); apply {f} to a vector, e.g. {f}(W x)"
    for f in ("softmax", "log_softmax", "logsumexp", "sum", "mean")
}
