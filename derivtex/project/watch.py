"""derivtex watch: build, then rebuild in the same warm process whenever an input changes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from derivtex.errors import DerivtexError
from derivtex.project.build import build_outcomes
from derivtex.project.report import Outcome, style
from derivtex.project.spec import NO_DEFAULTS, SpecDefaults, load_spec, spec_files
from derivtex.project.stamps import STAMP_DIR

INPUTS = (".toml", ".j2")  # specs, the config, templates: changes of other files do not count


@dataclass(frozen=True, slots=True)
class Settings:
    """What one rebuild builds: the specs, the output folder and build_outcomes' options."""

    paths: tuple[Path, ...]
    out_dir: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    also: tuple[Path, ...] = ()  # more to watch: the config file, template folders


def watch(
    settings: Callable[[], Settings],
    *,
    changes: Callable[[tuple[Path, ...], Path], Iterable[object]] | None = None,
    echo: Callable[[str], None] = click.echo,
) -> None:
    """Build, then rebuild on every change until Ctrl-C (KeyboardInterrupt, left to the caller)
    or until the watcher stops.

    `settings` is called again before each rebuild, so that an edited config applies at once.
    `changes(roots, out_dir)` yields once per batch of changes (default: watchfiles).
    """
    current = settings()
    echo(rebuild(current))
    while True:
        roots = _roots(current)
        echo(f"watching {', '.join(map(str, roots))} (Ctrl-C to stop)")
        for _batch in (changes or _watchfiles)(roots, current.out_dir):
            try:
                current = settings()
            except DerivtexError as exc:  # a broken config: say so, wait for the next change
                echo(f"{_now()} {style('failed')} {exc}")
                continue
            echo(rebuild(current))
            if _roots(current) != roots:
                break  # watch the new set of folders
        else:
            return  # the watcher stopped


def rebuild(settings: Settings) -> str:
    """Build what changed; one line saying what was built, how long it took, or what failed."""
    started = time.perf_counter()
    try:
        outcomes = build_outcomes(settings.paths, settings.out_dir, **settings.options)
    except DerivtexError as exc:
        return f"{_now()} {style('failed')} {exc}"
    return _line(outcomes, time.perf_counter() - started)


def _line(outcomes: Iterable[Outcome], seconds: float) -> str:
    outcomes = tuple(outcomes)
    built = [p.name for o in outcomes if o.status in ("built", "written") for p in o.outputs]
    failed = [o for o in outcomes if o.status == "failed"]
    removed = [p.name for o in outcomes if o.status == "removed" for p in o.outputs]
    parts = [f"{style('built')} {', '.join(built)}"] if built else []
    parts += [f"{style('removed')} {', '.join(removed)}"] if removed else []
    parts += [f"{style('failed')} {', '.join(str(o.path) for o in failed)}"] if failed else []
    line = f"{_now()} {'; '.join(parts) or 'nothing changed'} in {seconds:.2f} s"
    if not failed:
        return line
    problems = [p.text() for o in failed for p in o.problems]
    return "\n".join([f"{line} (the last good PDF stays)", *problems])


def _now() -> str:
    return time.strftime("%H:%M:%S")


def _roots(settings: Settings) -> tuple[Path, ...]:
    """The folders to watch: the specs', their template folders' and the extra paths'."""
    try:
        files = spec_files(settings.paths)
    except DerivtexError:
        files = ()
    folders = {p if p.is_dir() else p.parent for p in (*settings.paths, *files, *settings.also)}
    folders |= set(_template_folders(files, settings.options.get("defaults", NO_DEFAULTS)))
    return tuple(sorted({f.resolve() for f in folders if f.exists()}))


def _template_folders(files: Iterable[Path], defaults: SpecDefaults) -> Iterable[Path]:
    for path in files:
        try:
            templates = load_spec(path, defaults).templates
        except DerivtexError:  # the build reports it
            continue
        if templates is not None:
            yield templates


def _watchfiles(roots: tuple[Path, ...], out_dir: Path) -> Iterable[object]:
    """Batches of changes of inputs under roots (not of what the build writes into its folder)."""
    import watchfiles

    out = out_dir.resolve()

    class Inputs(watchfiles.DefaultFilter):
        def __call__(self, change: watchfiles.Change, path: str) -> bool:
            ours = Path(path).is_relative_to(out / STAMP_DIR)
            return super().__call__(change, path) and path.endswith(INPUTS) and not ours

    return watchfiles.watch(*roots, watch_filter=Inputs(), debounce=400, raise_interrupt=True)
