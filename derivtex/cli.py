"""The command line: thin click commands that parse options and call the implementation."""

from __future__ import annotations

import json
import os
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


def _project():
    """The project config found from the working folder (derivtex.toml, [tool.derivtex])."""
    from derivtex.project.config import load_config

    return _run(load_config)


def _pick(flag, configured, default):
    """A command-line flag wins over the config, which wins over the built-in default."""
    return flag if flag is not None else configured if configured is not None else default


def _spec_paths(paths: tuple[Path, ...], config) -> tuple[Path, ...]:
    if paths or config.specs:
        return paths or config.specs
    raise CliError(
        DerivtexError(
            "no spec files given, and no derivtex.toml with `specs` here or above",
            hint="name them (derivtex build SPEC_OR_DIR...) or write specs = [...] in"
            " derivtex.toml; derivtex init writes one",
        )
    )


def _derive(text, wrt, shape, layout, example, order=1):
    from derivtex.api import derive

    return _run(
        derive, text, wrt, _shapes(shape), layout=layout, example=_example(example), order=order
    )


def _common(fn):
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
def plan(text, wrt, shape, layout, example, order, as_json) -> None:
    """Print the steps of a derivation as text (or JSON)."""
    d = _derive(text, wrt, shape, layout, example, order)
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
@click.option("--force", is_flag=True, help="Replace files of another derivation of that name.")
def derive(
    text,
    wrt,
    shape,
    layout,
    example,
    order,
    out_dir,
    name,
    title,
    tex_only,
    png,
    vectors,
    formats,
    templates,
    timeout,
    force,
) -> None:
    """Write the worked derivation as .tex and compile it to PDF (or slides, or a web page)."""
    from derivtex.project.formats import write_formats

    config = _project()
    d = _derive(text, wrt, shape, layout, example, order)
    paths = _run(
        write_formats,
        d,
        _pick(out_dir, config.output, DEFAULT_OUTPUT),
        _pick(formats, config.defaults.formats, None),
        name=name,
        title=title,
        tex_only=tex_only,
        png=png,
        vectors=vectors,
        templates=_pick(templates, config.defaults.templates, None),
        timeout=timeout,
        overwrite=force,
        warn=lambda message: click.echo(f"warning: {message}", err=True),
    )
    for path in paths:
        click.echo(str(path))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@OUTPUT_OPTION
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default=None,
    help="What to build (default: `mode` of derivtex.toml, else solutions).",
)
@click.option("--jobs", "-j", type=int, default=None, help="Parallel builds (default: cores).")
@click.option(
    "--strict/--no-strict", default=None, help="Fail on TeX warnings such as overfull boxes."
)
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.option("--timeout", type=float, default=None, help="Seconds per TeX run (default 120).")
@click.option("--tex-only", is_flag=True, help="Write the .tex files only; do not run TeX.")
@FORMAT_OPTION
def build(paths, out_dir, mode, jobs, strict, force, timeout, tex_only, formats) -> None:
    """Build a PDF for each spec file (a folder means every *.toml in it).

    Without PATHS, builds the `specs` of the project's derivtex.toml (found upwards from
    here); its settings apply to every build, and flags win over them.
    """
    from derivtex.project.build import build_specs

    config = _project()
    code = _run(
        build_specs,
        _spec_paths(paths, config),
        _pick(out_dir, config.output, DEFAULT_OUTPUT),
        mode=_pick(mode, config.mode, Mode.SOLUTIONS),
        jobs=_pick(jobs, config.jobs, None),
        strict=_pick(strict, config.strict, False),
        force=force,
        timeout=_pick(timeout, config.timeout, DEFAULT_TIMEOUT),
        tex_only=tex_only,
        defaults=config.defaults,
        formats=formats,
    )
    sys.exit(code)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@OUTPUT_OPTION
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default=None)
@click.option("--strict/--no-strict", default=None, help="Fail on TeX warnings.")
@click.option("--timeout", type=float, default=None, help="Seconds per TeX run (default 120).")
def watch(paths, out_dir, mode, strict, timeout) -> None:
    """Build, then rebuild whenever a spec, template or derivtex.toml changes (Ctrl-C stops).

    One line per rebuild, with its time; a failed rebuild shows its errors and keeps the last
    good PDF. Settings and flags as for build; rebuilds run in this process, one at a time.
    """
    from derivtex.project.watch import Settings
    from derivtex.project.watch import watch as watch_specs

    def settings() -> Settings:
        config = _project()
        options = {
            "mode": _pick(mode, config.mode, Mode.SOLUTIONS),
            "jobs": 1,  # in this warm process: sympy and the templates stay loaded
            "strict": _pick(strict, config.strict, False),
            "timeout": _pick(timeout, config.timeout, DEFAULT_TIMEOUT),
            "defaults": config.defaults,
        }
        also = tuple(p for p in (config.path, config.defaults.templates) if p is not None)
        out = _pick(out_dir, config.output, DEFAULT_OUTPUT)
        return Settings(_spec_paths(paths, config), out, options, also)

    _run(watch_specs, settings)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def check(paths) -> None:
    """Parse, plan and verify spec files without TeX (fast; for pre-commit hooks).

    Without PATHS, checks the `specs` of the project's derivtex.toml.
    """
    from derivtex.project.build import check_specs

    config = _project()
    sys.exit(_run(check_specs, _spec_paths(paths, config), config.defaults))


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--source",
    metavar="REQUIREMENT",
    help="What the workflow pip-installs derivtex from, written to requirements.txt (default:"
    ' this version, derivtex==X.Y.Z; or e.g. "derivtex @ git+https://github.com/OWNER/derivtex").',
)
@click.option("--pages", is_flag=True, help="Also publish the PDFs with GitHub Pages.")
@click.option("--force", is_flag=True, help="Replace files that already exist.")
def init(directory, source, pages, force) -> None:
    """Start a course project: a spec, derivtex.toml and a workflow that builds the PDFs.

    The workflow goes to the .github/workflows folder of the git repository that holds
    DIRECTORY (GitHub reads workflows only there), else of DIRECTORY.
    """
    from derivtex.project.starter import DEFAULT_SOURCE, init_project

    project = _run(
        init_project, directory, source=source or DEFAULT_SOURCE, pages=pages, force=force
    )
    for path in project.files:
        click.echo(f"wrote {path}")
    if project.root is None:
        click.echo(
            f"note: {directory} is in no git repository, and GitHub reads workflows only at a"
            f" repository's root: run `git init {directory}` (or move .github/ there)",
            err=True,
        )
    here = Path(directory).absolute() == Path.cwd()
    click.echo(f"next: {'' if here else f'cd {directory} && '}derivtex build")


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


def entry() -> None:
    """The console script: main(), then exit without interpreter teardown once output is flushed.

    Tearing down sympy's objects costs about a fifth of a second and does nothing a finished
    process needs: files are closed, TeX has finished and the temporary folders are gone by then.
    """
    try:
        main()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let the normal exit report it
        sys.exit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr, flush=True)
        code = 1
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    entry()
