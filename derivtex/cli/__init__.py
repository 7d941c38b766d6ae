"""The command line: thin click commands that parse options and call the implementation."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from derivtex import __version__
from derivtex.cli.options import (
    DEFAULT_OUTPUT,
    FORMAT_OPTION,
    OUTPUT_OPTION,
    VECTORS,
    build_settings,
    call,
    derivation_options,
    derive_given,
    pick,
    project,
    spec_options,
    spec_paths,
)
from derivtex.tex.prestart import early


class _Main(click.Group):
    """The command group: Ctrl-C ends any command with exit status 130 and one line, no traceback.

    (click's own handling prints "Aborted!" and exits 1.) The TeX process group and the temporary
    build folder are already gone by then: the runner kills and removes them as it unwinds.
    """

    def invoke(self, ctx: click.Context) -> Any:
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
@derivation_options
@click.option("--json", "as_json", is_flag=True, help="Steps as JSON (LaTeX and srepr).")
def plan(as_json: bool, **given: Any) -> None:
    """Print the steps of a derivation as text (or JSON)."""
    d = derive_given(**given)
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
@derivation_options
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
@click.option(
    "--strict/--no-strict",
    default=None,
    help="Fail on an overfull box or TeX warning (the PDF is kept as NAME.failed.pdf).",
)
def derive(
    out_dir: Path | None,
    name: str | None,
    title: str | None,
    tex_only: bool,
    png: bool,
    vectors: str,
    formats: str | None,
    templates: Path | None,
    timeout: float,
    force: bool,
    strict: bool | None,
    **given: Any,  # TEXT and the options of derivation_options
) -> None:
    """Write the worked derivation as .tex and compile it to PDF (or slides, or a web page)."""
    from derivtex.project.formats import DEFAULT_FORMATS, write_formats

    with early(enabled=not tex_only):  # TeX loads its format while sympy imports
        config = project()
        d = derive_given(**given)
        paths = call(
            write_formats,
            d,
            pick(out_dir, config.output, DEFAULT_OUTPUT),
            pick(formats, config.defaults.formats, DEFAULT_FORMATS),
            name=name,
            title=title,
            tex_only=tex_only,
            png=png,
            vectors=vectors,
            templates=pick(templates, config.defaults.templates, None),
            timeout=timeout,
            overwrite=force,
            warn=lambda message: click.echo(f"warning: {message}", err=True),
            strict=pick(strict, config.strict, False),
        )
    for path in paths:
        click.echo(str(path))


@main.command()
@spec_options
@click.option("--jobs", "-j", type=int, default=None, help="Parallel builds (default: cores).")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.option("--tex-only", is_flag=True, help="Write the .tex files only; do not run TeX.")
@FORMAT_OPTION
def build(
    paths: tuple[Path, ...],
    out_dir: Path | None,
    mode: str | None,
    strict: bool | None,
    timeout: float | None,
    jobs: int | None,
    force: bool,
    tex_only: bool,
    formats: str | None,
) -> None:
    """Build a PDF for each spec file (a folder means every *.toml in it).

    Without PATHS, builds the `specs` of the project's derivtex.toml (found upwards from
    here); its settings apply to every build, and flags win over them.
    """
    from derivtex.project.build import build_specs

    with early(enabled=not tex_only):  # TeX loads its format while sympy imports
        config = project()
        code = call(
            build_specs,
            spec_paths(paths, config),
            pick(out_dir, config.output, DEFAULT_OUTPUT),
            jobs=pick(jobs, config.jobs, None),
            force=force,
            tex_only=tex_only,
            formats=formats,
            **build_settings(config, mode, strict, timeout),
        )
    sys.exit(code)


@main.command()
@spec_options
def watch(
    paths: tuple[Path, ...],
    out_dir: Path | None,
    mode: str | None,
    strict: bool | None,
    timeout: float | None,
) -> None:
    """Build, then rebuild whenever a spec, template or derivtex.toml changes (Ctrl-C stops).

    One line per rebuild, with its time; a failed rebuild shows its errors and keeps the last
    good PDF. Settings and flags as for build; rebuilds run in this process, one at a time.
    """
    from derivtex.project.watch import Settings
    from derivtex.project.watch import watch as watch_specs

    def settings() -> Settings:
        config = project()
        # jobs=1 in this warm process: sympy and the templates stay loaded
        options = {**build_settings(config, mode, strict, timeout), "jobs": 1}
        also = tuple(p for p in (config.path, config.defaults.templates) if p is not None)
        out = pick(out_dir, config.output, DEFAULT_OUTPUT)
        return Settings(spec_paths(paths, config), out, options, also)

    call(watch_specs, settings)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Parse, plan and verify spec files without TeX (fast; for pre-commit hooks).

    Without PATHS, checks the `specs` of the project's derivtex.toml.
    """
    from derivtex.project.build import check_specs

    config = project()
    sys.exit(call(check_specs, spec_paths(paths, config), config.defaults))


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
def init(directory: Path, source: str | None, pages: bool, force: bool) -> None:
    """Start a course project: a spec, derivtex.toml and a workflow that builds the PDFs.

    The workflow goes to the .github/workflows folder of the git repository that holds
    DIRECTORY (GitHub reads workflows only there), else of DIRECTORY.
    """
    from derivtex.project.starter import DEFAULT_SOURCE, init_project

    project = call(
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
def export(directory: Path, overwrite: bool) -> None:
    """Copy the built-in templates into DIRECTORY to customize them."""
    from derivtex.rendering.environment import export_templates

    for path in call(export_templates, directory, overwrite=overwrite):
        click.echo(str(path))


def entry() -> None:
    """The console script: main(), then exit without interpreter teardown once output is flushed
    (tearing down sympy's objects costs about a fifth of a second; see exit_now)."""
    from derivtex.tex.process import exit_now

    # numpy's OpenBLAS starts a thread per core at import: about 50 ms of CPU that a derivation's
    # few small matrices never use. A value the user set stays.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    exit_now(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
