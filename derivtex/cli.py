"""The command line: thin click commands that parse options and call the implementation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from derivtex import __version__
from derivtex.errors import DerivtexError
from derivtex.options import Layout, Mode, VectorStyle

VECTORS = [m.value for m in VectorStyle]
OUTPUT_OPTION = click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Output folder.",
)


FORMAT_OPTION = click.option(
    "--format",
    "formats",
    default=None,
    metavar="FORMATS",
    help="Comma-separated outputs: pdf (the handout), slides (Beamer), html (a web page);"
    " default pdf (for build, a spec's [defaults] formats).",
)


class CliError(click.ClickException):
    """A DerivtexError as click shows it: the message, and the error's own exit code."""

    def __init__(self, error: DerivtexError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(
            self.message if self.message.startswith("error") else f"error: {self.message}", err=True
        )


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DerivtexError as exc:
        raise CliError(exc) from None


def _shapes(values: tuple[str, ...]) -> dict[str, str]:
    shapes = {}
    for item in values:
        name, sep, shape = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f'{item!r}: write NAME=SHAPE, e.g. "W=C x D"', param_hint="--shape"
            )
        shapes[name.strip()] = shape.strip()
    return shapes


def _example(text: str | None) -> dict[str, tuple[int, ...]] | None:
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


def _derive(text, wrt, shape, layout, example):
    from derivtex.api import derive

    return _run(derive, text, wrt, _shapes(shape), layout=layout, example=_example(example))


def _common(fn):
    fn = click.option("--example", help='Worked components, e.g. "y=3,x=7".')(fn)
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


class _Main(click.Group):
    """The command group: Ctrl-C ends any command with exit status 130 and one line, no traceback.

    (click's own handling prints "Aborted!" and exits 1.) The TeX process group and the temporary
    build folder are already gone by then: the runner kills and removes them as it unwinds.
    """

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None


INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="derivtex")
def main() -> None:
    """Worked derivations of vector, matrix and tensor derivatives, as LaTeX and PDF."""


@main.command()
@_common
@click.option("--json", "as_json", is_flag=True, help="Steps as JSON (LaTeX and srepr).")
def plan(text, wrt, shape, layout, example, as_json) -> None:
    """Print the steps of a derivation as text (or JSON)."""
    d = _derive(text, wrt, shape, layout, example)
    from derivtex.rendering.printer import notation
    from derivtex.rendering.serialize import fields, plain, step_data

    if as_json:
        note = notation(d.graph)
        click.echo(json.dumps([step_data(s, note) for s in d.steps], indent=2))
        return
    for step in d.steps:
        click.echo(f"[{step.kind}] {step.justification}")
        for name, value in fields(step):
            click.echo(f"    {name}: {plain(value)}")
        click.echo()


@main.command()
@_common
@OUTPUT_OPTION
@click.option("--name", help="File name without extension (default: from the output and wrt).")
@click.option("--title", help="The handout's title.")
@click.option("--tex-only", is_flag=True, help="Write the .tex only; do not run TeX.")
@click.option("--png", is_flag=True, help="Also write page images (PNG) next to the PDF.")
@click.option("--vectors", type=click.Choice(VECTORS), default="arrow", show_default=True)
@FORMAT_OPTION
@click.option(
    "--templates",
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder of templates that override the built-in ones by name.",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds before the TeX run is stopped.",
)
def derive(
    text,
    wrt,
    shape,
    layout,
    example,
    out_dir,
    name,
    title,
    tex_only,
    png,
    vectors,
    formats,
    templates,
    timeout,
) -> None:
    """Write the worked derivation as .tex and compile it to PDF (or slides, or a web page)."""
    from derivtex.project.formats import write_formats

    d = _derive(text, wrt, shape, layout, example)
    paths = _run(
        write_formats,
        d,
        out_dir,
        formats,
        name=name,
        title=title,
        tex_only=tex_only,
        png=png,
        vectors=vectors,
        templates=templates,
        timeout=timeout,
    )
    for path in paths:
        click.echo(str(path))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@OUTPUT_OPTION
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default="solutions",
    show_default=True,
)
@click.option("--jobs", "-j", type=int, default=None, help="Parallel builds (default: cores).")
@click.option("--strict", is_flag=True, help="Fail on TeX warnings such as overfull boxes.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.option("--timeout", type=float, default=120.0, show_default=True)
@FORMAT_OPTION
def build(paths, out_dir, mode, jobs, strict, force, timeout, formats) -> None:
    """Build a PDF for each spec file (a folder means every *.toml in it)."""
    from derivtex.project.build import build_specs

    code = _run(
        build_specs,
        paths,
        out_dir,
        mode=mode,
        jobs=jobs,
        strict=strict,
        force=force,
        timeout=timeout,
        formats=formats,
    )
    sys.exit(code)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(paths) -> None:
    """Parse, plan and verify spec files without TeX (fast; for pre-commit hooks)."""
    from derivtex.project.build import check_specs

    sys.exit(_run(check_specs, paths))


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(directory) -> None:
    """Write a starter spec and a GitHub Actions workflow that builds the PDFs."""
    from derivtex.project.starter import init_project

    for path in _run(init_project, directory):
        click.echo(str(path))


@main.group()
def templates() -> None:
    """Work with the built-in templates."""


@templates.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace files that already exist.")
def export(directory, overwrite) -> None:
    """Copy the built-in templates into DIRECTORY to customize them."""
    from derivtex.rendering.environment import export_templates

    for path in _run(export_templates, directory, overwrite=overwrite):
        click.echo(str(path))


if __name__ == "__main__":  # pragma: no cover
    main()
