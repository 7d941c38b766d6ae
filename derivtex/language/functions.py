"""Elementwise functions of the expression language, as sympy functions with known derivatives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy


class sigmoid(sympy.Function):  # noqa: N801 - sympy functions are lower case
    """The logistic function 1 / (1 + exp(-u))."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid_prime(self.args[0])


class sigmoid_prime(sympy.Function):  # noqa: N801
    """sigma'(u) = sigma(u) (1 - sigma(u)), kept whole so derivations read as sigma'(z_i)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        u = self.args[0]
        return sigmoid_prime(u) * (1 - 2 * sigmoid(u))


class relu(sympy.Function):  # noqa: N801
    """max(u, 0)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return relu_prime(self.args[0])


class relu_prime(sympy.Function):  # noqa: N801
    """The step function: 1 where u > 0, else 0 (relu is not differentiable at 0)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.Integer(0)


class softplus(sympy.Function):  # noqa: N801
    """log(1 + exp(u)); its derivative is the sigmoid."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])


class absval(sympy.Function):  # noqa: N801
    """|u|, with derivative sign(u) for real u (sympy's Abs differentiates complex arguments)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return signum(self.args[0])


class signum(sympy.Function):  # noqa: N801
    """sign(u): -1, 0 or 1; its derivative is 0 wherever u is not 0."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.Integer(0)


def _sigmoid(u: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-u))  # numpy types the arithmetic as Any
    return out


@dataclass(frozen=True, slots=True)
class Elementwise:
    """One elementwise function: its sympy function and its numpy implementation."""

    name: str
    sympy_func: Callable[[sympy.Expr], sympy.Expr]
    numpy_func: Callable[[np.ndarray], np.ndarray]
    positive_domain: bool = False  # log and sqrt need positive arguments in numeric checks
    unit_domain: bool = False  # arcsin and arccos need arguments in (-1, 1)
    kink: bool = False  # not differentiable at 0: checks sample arguments away from it


ELEMENTWISE: dict[str, Elementwise] = {
    f.name: f
    for f in (
        Elementwise("exp", sympy.exp, np.exp),
        Elementwise("log", sympy.log, np.log, positive_domain=True),
        Elementwise("tanh", sympy.tanh, np.tanh),
        Elementwise("sigmoid", sigmoid, _sigmoid),
        Elementwise("relu", relu, lambda u: np.maximum(u, 0.0), kink=True),
        Elementwise("softplus", softplus, lambda u: np.logaddexp(0.0, u)),
        Elementwise("sin", sympy.sin, np.sin),
        Elementwise("cos", sympy.cos, np.cos),
        Elementwise("sqrt", sympy.sqrt, np.sqrt, positive_domain=True),
        Elementwise("tan", sympy.tan, np.tan, unit_domain=True),
        Elementwise("arcsin", sympy.asin, np.arcsin, unit_domain=True),
        Elementwise("arccos", sympy.acos, np.arccos, unit_domain=True),
        Elementwise("arctan", sympy.atan, np.arctan),
        Elementwise("abs", absval, np.abs, kink=True),
        Elementwise("sign", signum, np.sign, kink=True),
    )
}

# Numpy implementations of every sympy function that can appear in a derived result.
NUMPY_FUNCS: dict[str, Callable[..., np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "sqrt": np.sqrt,
    "sigmoid": _sigmoid,
    "sigmoid_prime": lambda u: _sigmoid(u) * (1.0 - _sigmoid(u)),
    "relu": lambda u: np.maximum(u, 0.0),
    "relu_prime": lambda u: (u > 0).astype(float),
    "softplus": lambda u: np.logaddexp(0.0, u),
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "absval": np.abs,
    "signum": np.sign,
}

# Why a function's derivative holds only on part of its domain (stated in the handout).
KINK_NOTES = {
    "abs": "d|u|/du = sign(u) holds where u is not 0",
    "sign": "d sign(u)/du = 0 holds where u is not 0",
    "relu": "d relu(u)/du = step(u) holds where u is not 0",
}
