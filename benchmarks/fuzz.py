"""Fuzz derive() and parse_spec() for N seconds: grammar programs and byte mutations.

Every input must return or raise a DerivtexError. Reports the inputs tried, every other exception
(with its input) and the slowest input.

    python benchmarks/fuzz.py 180 [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

import derivtex
from derivtex.project.spec import parse_spec

NAMES = ["x", "y2", "W", "A", "b", "s", "t", "alpha", "x_hat", "W1", "T", "sum", "q_", "Cscr"]
FUNCS = ["tanh", "exp", "log", "sum", "norm", "tr", "sigmoid", "relu", "softplus", "sqrt"]
FUNCS += ["inv", "det", "logdet"]
SHAPES = ["", "1", "D", "C", "3", "1 x D", "C x D", "D x D", "D x C", "2 x 3", "0", "99", "D_"]
ODD = ["'", "^T", ".T", "^2", "^(-1)", "^0.5", "^-2", ".*", "@", "*", "/", ",", "#", "\t", "é"]
VALID = [
    ("y = W x", "x", {"W": "C x D", "x": "D"}),
    ("L = norm(W x - t)^2", "W", {"W": "C x D", "x": "D", "t": "C"}),
    ("h = tanh(W1 x + b); y = W2 h", "W1", {"W1": "H x D", "W2": "C x H", "x": "D", "b": "H"}),
    ("s = x^T A x", "x", {"A": "D x D", "x": "D"}),
    ("y = sum(exp(x) .* x)", "x", {"x": "D"}),
    ("y = tr(inv(X) A)", "X", {"X": "D x D", "A": "D x D"}),
    ("L = 0.5 logdet(P) - 0.5 x^T P x", "P", {"P": "D x D", "x": "D"}),
]


def expr(rng: random.Random, depth: int = 0) -> str:
    if depth > 4 or rng.random() < 0.3:
        return rng.choice(NAMES + ["2", "0.5", "1e3", "3.", ".5"])
    k = rng.randrange(7)
    a = expr(rng, depth + 1)
    if k == 0:
        return f"{a}{rng.choice([' ', ' * ', ' + ', ' - ', ' .* ', ' @ '])}{expr(rng, depth + 1)}"
    if k == 1:
        return f"{rng.choice(FUNCS)}({a})"
    if k == 2:
        return f"hadamard({a}, {expr(rng, depth + 1)})"
    if k == 3:
        return f"({a})"
    if k == 4:
        return f"-{a}"
    if k == 5 and rng.random() < 0.3:
        return a + rng.choice(ODD)
    return a + rng.choice(["'", "^T", "^2", "^(-1)", "^0.5", "^3", "^-1", ""])


def program(rng: random.Random) -> tuple[str, str, dict[str, str]]:
    lines = [f"{rng.choice(['y', 'm', 'z', 'L']) if k else 'y'} = {expr(rng)}" for k in range(3)]
    text = rng.choice(["\n", "; "]).join(lines[: rng.randint(1, 3)])
    if rng.random() < 0.3:
        shapes = {n: rng.choice(SHAPES) for n in rng.sample(NAMES, rng.randint(0, 6))}
    else:  # shapes that fit more often: every name a D vector, a D x D matrix or a scalar
        used = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)) - set(FUNCS) - {"hadamard"})
        shapes = {n: rng.choice(["D", "D x D", ""]) for n in used if n not in "ymzL"}
    return text, rng.choice([*shapes, "x"]), shapes


def mutate(rng: random.Random, text: str) -> str:
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[min(at, len(data) - 1)]
        elif op == 1:
            data.insert(at, rng.randrange(256))
        elif op == 2:
            data[at:at] = data[: rng.randint(0, len(data))]  # duplicate a prefix
        else:
            data.insert(at, rng.choice(b"()'^-+=;\n0123456789xW_[]\"."))
    return data.decode("utf-8", "replace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seconds", type=float)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    specs = [p.read_text() for p in Path(__file__).parent.parent.glob("examples/*.toml")]
    tried, failures, slowest = 0, [], (0.0, "")
    outcomes: dict[str, int] = {}
    residual: list[tuple[str, str]] = []
    wrong: list[tuple[str, str]] = []
    stop = time.monotonic() + args.seconds
    while time.monotonic() < stop:
        kind = rng.randrange(4)
        start = time.monotonic()
        try:
            if kind == 3 and specs:
                shown = mutate(rng, rng.choice(specs))
                parse_spec(shown)
            else:
                text, wrt, shapes = program(rng) if kind < 2 else rng.choice(VALID)
                if kind == 2:
                    text = mutate(rng, text)
                shown = repr((text, wrt, shapes))
                steps = None if rng.random() < 0.2 else False
                derivtex.derive(text, wrt, shapes, steps=steps, timeout=10)
                outcomes["derived"] = outcomes.get("derived", 0) + 1
        except derivtex.DerivtexError as exc:
            name = type(exc).__name__
            outcomes[name] = outcomes.get(name, 0) + 1
            if "cannot derive this expression yet" in str(exc):  # the last-resort wrapper
                residual.append((str(exc).splitlines()[0][:200], shown[:300]))
            if isinstance(exc, derivtex.VerificationError):  # a wrong result caught: a bug
                wrong.append((str(exc).splitlines()[0][:200], shown[:300]))
        except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
            failures.append((f"{type(exc).__name__}: {exc}"[:200], shown[:300]))
        took = time.monotonic() - start
        slowest = max(slowest, (took, shown[:300]))
        tried += 1
    print(f"inputs tried: {tried} in {args.seconds:g} s")
    for message, shown in wrong[:5]:
        print(f"caught by verification: {message}\n    {shown}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"non-DerivtexError exceptions: {len(failures)}")
    for error, shown in failures[:20]:
        print(f"  {error}\n    input: {shown}")
    print(f"UnsupportedError from the last-resort wrapper: {len(residual)}")
    for error, shown in residual[:10]:
        print(f"  {error}\n    input: {shown}")
    print(f"slowest input: {slowest[0]:.2f} s: {slowest[1]}")


if __name__ == "__main__":
    main()
