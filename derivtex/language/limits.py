"""Named limits on the size of an input: past any of them derive() raises TooLargeError."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """How large an input derivtex accepts; each field names one limit."""

    max_source_length: int = 20_000  # characters of expression text
    max_depth: int = 64  # nesting of parentheses, unary signs, transposes, calls
    max_tree_depth: int = 300  # operations on the longest path: nesting plus chains of + and *
    max_terms: int = 200  # terms in one sum
    max_factors: int = 24  # factors in one product
    max_statements: int = 100
    max_names: int = 200  # distinct names in a program
    max_integer_digits: int = 15  # digits of a number literal
    max_exponent: int = 12  # magnitude of a number's exponent, 1e12
    max_dimension: int = 64  # explicit integer size in a shape
    timeout: float = 20.0  # seconds for derive() as a whole


LIMITS = Limits()
