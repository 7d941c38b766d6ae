"""The command line's shared parts: options, value parsers, config lookups, error display."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from derivtex.errors import DerivtexError
from derivtex.options import Layout, Mode, VectorStyle

if TYPE_CHECKING:
    from derivtex.derivation.model import Derivation
    from derivtex.project.config import Config

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

VECTORS = [m.value for m in VectorStyle]
OUTPUT_OPTION = click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: `output` of derivtex.toml, else build).",
)
DEFAULT_OUTPUT = Path("build")
DEFAULT_TIMEOUT = 120.0


FORMAT_OPTION = click.option(
    "--format",
    "formats",
    default=None,
    metavar="FORMATS",
    help="Comma-separated outputs: pdf (the handout), slides (Beamer), html (a web page);"
    " default: `formats` in [defaults] of the spec or derivtex.toml, else pdf.",
)


class CliError(click.ClickException):
    """A DerivtexError as click shows it: the message, and the error's own exit code."""

    def __init__(self, error: DerivtexError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: Any = None) -> None:
        click.echo(
            self.message if self.message.startswith("error") else f"error: {self.message}", err=True
        )


def call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return fn(*args, **kwargs)
    except DerivtexError as exc:
        raise CliError(exc) from None


def parse_shapes(values: tuple[str, ...]) -> dict[str, str]:
    shapes = {}
    for item in values:
        name, sep, shape = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f'{item!r}: write NAME=SHAPE, e.g. "W=C x D"', param_hint="--shape"
            )
        shapes[name.strip()] = shape.strip()
    return shapes


def parse_example(text: str | None) -> dict[str, tuple[int, ...]] | None:
    if not text:
        return None
    out: dict[str, tuple[int, ...]] = {}
    for part in text.split(";") if ";" in text else text.split(","):
        name, sep, idx = part.partition("=")
        try:
            out[name.strip()] = tuple(int(i) for i in idx.replace(" ", ",").split(",") if i)
        except ValueError:
            raise click.BadParameter(
                f'{part!r}: write e.g. "y=3,x=7" or "y=3;W=7 8"', param_hint="--example"
            ) from None
        if not sep:
            raise click.BadParameter(f"{part!r}: write NAME=INDEX", param_hint="--example")
    return out


def project() -> Config:
    """The project config found from the working folder (derivtex.toml, [tool.derivtex])."""
    from derivtex.project.config import load_config

    return call(load_config)


def pick(flag: T | None, configured: T | None, default: T) -> T:
    """A command-line flag wins over the config, which wins over the built-in default."""
    return flag if flag is not None else configured if configured is not None else default


def spec_paths(paths: tuple[Path, ...], config: Config) -> tuple[Path, ...]:
    if paths or config.specs:
        return paths or config.specs
    raise CliError(
        DerivtexError(
            "no spec files given, and no derivtex.toml with `specs` here or above",
            hint="name them (derivtex build SPEC_OR_DIR...) or write specs = [...] in"
            " derivtex.toml; derivtex init writes one",
        )
    )


def derive_given(
    text: str, wrt: str, shape: tuple[str, ...], layout: str, example: str | None, order: int
) -> Derivation:
    """The derivation that TEXT and the options of derivation_options ask for."""
    from derivtex.api import derive

    return call(
        derive,
        text,
        wrt,
        parse_shapes(shape),
        layout=layout,
        example=parse_example(example),
        order=order,
    )


def derivation_options(fn: F) -> F:
    fn = click.option("--example", help='Worked components, e.g. "y=3,x=7".')(fn)
    fn = click.option(
        "--order",
        type=int,
        default=1,
        show_default=True,
        help="1: the derivative; 2: the Hessian of a scalar output.",
    )(fn)
    fn = click.option(
        "--layout",
        type=click.Choice([m.value for m in Layout]),
        default="numerator",
        show_default=True,
    )(fn)
    fn = click.option(
        "--shape",
        "-s",
        multiple=True,
        metavar="NAME=SHAPE",
        help='A declared shape, e.g. "W=C x D", "x=D", "x=1 x D" (repeatable).',
    )(fn)
    fn = click.option("--wrt", required=True, help="The input to differentiate by.")(fn)
    return click.argument("text")(fn)


def spec_options(fn: F) -> F:
    """PATHS, --output, --mode, --strict and --timeout: the options build and watch share."""
    options = (
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        OUTPUT_OPTION,
        click.option(
            "--mode",
            type=click.Choice([m.value for m in Mode]),
            default=None,
            help="What to build (default: `mode` of derivtex.toml, else solutions).",
        ),
        click.option("--strict/--no-strict", default=None, help="Fail on TeX warnings."),
        click.option(
            "--timeout", type=float, default=None, help="Seconds per TeX run (default 120)."
        ),
    )
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_settings(
    config: Config, mode: str | None, strict: bool | None, timeout: float | None
) -> dict[str, Any]:
    """build_specs' options from the flags, else the config, else the defaults."""
    return {
        "mode": pick(mode, config.mode, Mode.SOLUTIONS),
        "strict": pick(strict, config.strict, False),
        "timeout": pick(timeout, config.timeout, DEFAULT_TIMEOUT),
        "defaults": config.defaults,
    }
