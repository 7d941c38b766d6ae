"""Build spec files into PDF handouts: incremental, in parallel, one report line per spec."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from derivtex.errors import DerivtexError, SpecError, TexNotFoundError
from derivtex.options import Mode, choice
from derivtex.project.formats import (
    DEFAULT_FORMATS,
    FORMATS,
    documents,
    finish_site,
    output_path,
)
from derivtex.project.report import (
    Outcome,
    Problem,
    error_lines,
    failure_code,
    is_failure,
    overfull_problem,
    report,
    spec_failure,
    warning_problem,
)
from derivtex.project.spec import (
    NO_DEFAULTS,
    Spec,
    SpecDefaults,
    load_spec,
    spec_files,
)
from derivtex.project.stamps import (
    Output,
    Removal,
    digest,
    fingerprint_base,
    fresh,
    prune,
    write_stamp,
)
from derivtex.project.texts import spec_texts
from derivtex.project.workers import contained, parallel_map, workers
from derivtex.tex.runner import (
    INSTALL_COMMAND,
    StrictError,
    compile_pdf,
    strict_warnings,
    tex_available,
)

if TYPE_CHECKING:
    pass

DOCUMENTS = ("handout", "exercises", "slides", "html")  # what check renders
MODES = {
    Mode.SOLUTIONS: ("handout",),
    Mode.EXERCISES: ("exercises",),
    Mode.BOTH: ("handout", "exercises"),
}
SUFFIXES = {"handout": "", "exercises": "-exercises"}
# The word on the progress bar, and what the final line counts ("2 built, 1 unchanged, 0 failed").
BUILDING = ("building", ("built", "unchanged", "failed"))
CHECKING = ("checking", ("checked", "failed"))
WRITING = ("writing", ("written", "failed"))  # build --tex-only


@dataclass(frozen=True, slots=True)
class Task:
    """A spec with the outputs that are out of date, and how to build them."""

    spec: Spec
    outputs: tuple[Output, ...]
    strict: bool
    timeout: float
    tex_only: bool = False  # write the .tex files, run no TeX


@dataclass(frozen=True, slots=True)
class Rendered:
    """A spec's outdated documents as .tex text, ready for TeX."""

    task: Task
    texts: tuple[str, ...]  # one per task.outputs
    seconds: float


# --- the commands ---


def build_specs(
    paths: Iterable[Path | str],
    out_dir: Path,
    *,
    mode: Mode | str = Mode.SOLUTIONS,
    jobs: int | None = None,
    strict: bool = False,
    force: bool = False,
    timeout: float = 120.0,
    tex_only: bool = False,
    defaults: SpecDefaults = NO_DEFAULTS,
    formats: str | Sequence[str] | None = None,
) -> int:
    """Build a PDF (or two) per spec file; 0 when all succeed, else the worst failure's code.

    `defaults` (a project config's) stand under each spec's own [defaults].
    `formats` (pdf, slides, html) applies to every spec; None: each spec's [defaults] formats
    (or the config's), else pdf.

    `tex_only` writes the .tex files and runs no TeX (for machines without it): every spec is
    written, whatever the stamps say, and no stamp is written, so a later build compiles them.
    """
    files = spec_files(paths)
    outcomes = build_outcomes(
        files,
        out_dir,
        mode=mode,
        jobs=jobs,
        strict=strict,
        force=force,
        timeout=timeout,
        tex_only=tex_only,
        defaults=defaults,
        formats=formats,
    )
    return report(outcomes, len(outcomes), *(WRITING if tex_only else BUILDING))


def build_outcomes(
    paths: Iterable[Path | str],
    out_dir: Path,
    *,
    mode: Mode | str = Mode.SOLUTIONS,
    jobs: int | None = None,
    strict: bool = False,
    force: bool = False,
    timeout: float = 120.0,
    tex_only: bool = False,
    defaults: SpecDefaults = NO_DEFAULTS,
    formats: str | Sequence[str] | None = None,
) -> tuple[Outcome, ...]:
    """What build_specs does, printing nothing: the outcome of each spec."""
    files, out_dir = spec_files(paths), Path(out_dir)
    mode = _check_options(mode, jobs)
    every = FORMATS if formats is None else formats  # a spec's own formats are among them
    _check_collisions(files, out_dir, documents(MODES[mode], every))
    removed = tuple(_removed(removal) for removal in prune(out_dir))

    @_contained
    def prepare(path: Path) -> Task | Outcome:
        task = _prepare(path, out_dir, mode, strict, force or tex_only, timeout, defaults, formats)
        return (
            dataclasses.replace(task, tex_only=True)
            if tex_only and isinstance(task, Task)
            else task
        )

    prepared = [prepare(path) for path in files]
    tasks = sorted((t for t in prepared if isinstance(t, Task)), key=_size, reverse=True)
    if tasks and not tex_only and not tex_available():
        raise TexNotFoundError("latexmk or pdflatex not found on PATH", hint=INSTALL_COMMAND)
    done = tuple(o for o in prepared if isinstance(o, Outcome))
    return removed + done + tuple(_pipeline(tasks, jobs))


def check_specs(paths: Iterable[Path | str], defaults: SpecDefaults = NO_DEFAULTS) -> int:
    """Parse, plan and verify every derivation without TeX; report each problem.

    Returns 0 when all is well, 1 when a derivation fails, 2 when a spec file is malformed; every
    file is checked either way, so one run shows every problem.
    """
    files = spec_files(paths)
    check = functools.partial(_check, defaults=defaults)
    return report(parallel_map(check, files, None), len(files), *CHECKING)


def _check_options(mode: Mode | str, jobs: int | None) -> Mode:
    if jobs is not None and jobs < 1:
        raise DerivtexError(f"--jobs {jobs}: need at least one job")
    return choice(Mode, mode, "mode")


def _check_collisions(files: Sequence[Path], out_dir: Path, docs: Sequence[str]) -> None:
    """Refuse two specs whose PDFs would overwrite each other, e.g. a/x.toml and b/x.toml."""
    seen: dict[str, Path] = {}
    for path in files:
        for pdf in (_pdf_path(path, out_dir, document) for document in docs):
            first = seen.setdefault(str(pdf.relative_to(out_dir)), path)
            if first != path:
                raise DerivtexError(
                    f"{first} and {path} would both write {pdf}", hint="rename one of the specs"
                )


def _removed(removal: Removal) -> Outcome:
    """The report of a deleted spec's outputs: those removed, and a warning for each kept."""
    kept = tuple(
        Problem(
            str(path),
            None,
            f"kept: {removal.spec.name} is gone, but this file changed since derivtex wrote it",
            ("  hint: delete it yourself if it is not needed",),
            level="warning",
        )
        for path in removal.kept
    )
    return Outcome(removal.spec, "removed", removal.removed, problems=kept)


def _size(task: Task) -> int:
    # Biggest first, so that a long spec does not start last and leave the other workers idle.
    return len(task.spec.derivations) * len(task.outputs)


# --- deciding what to build ---


def _prepare(
    path: Path,
    out_dir: Path,
    mode: Mode,
    strict: bool,
    force: bool,
    timeout: float,
    defaults: SpecDefaults = NO_DEFAULTS,
    formats: str | Sequence[str] | None = None,
) -> Task | Outcome:
    """The task that builds the outdated outputs of a spec, or its outcome if there is none."""
    try:
        # Read the bytes before parsing: if the file changes meanwhile, the stamp is the older
        # one and the next build redoes the work rather than skipping it.
        content = path.read_bytes()
        spec = load_spec(path, defaults)
    except (OSError, SpecError) as exc:
        return spec_failure(path, exc)
    # repr(spec): what the config's defaults contributed (shapes, steps, layout) counts too.
    key = digest(fingerprint_base(content, spec.templates, strict), repr(spec.derivations))
    outputs = tuple(
        Output(doc, _pdf_path(path, out_dir, doc), digest(key, doc))
        for doc in documents(MODES[mode], _formats(formats, spec))
    )
    stale = outputs if force else tuple(o for o in outputs if not fresh(o))
    if not stale:
        return Outcome(path, "unchanged")
    return Task(spec, stale, strict, timeout)


def _formats(formats: str | Sequence[str] | None, spec: Spec) -> str | Sequence[str]:
    """The command's formats, else the spec's, else pdf."""
    return formats if formats is not None else spec.formats or DEFAULT_FORMATS


def _pdf_path(spec_path: Path, out_dir: Path, document: str) -> Path:
    return output_path(spec_path.stem, out_dir, document)


# --- building: Python work in worker processes, TeX runs in threads beside it ---


def _spec_path(item: object) -> Path:
    """The spec file a piece of a build's work belongs to."""
    if isinstance(item, Path):
        return item
    if isinstance(item, Task):
        return item.spec.path
    if isinstance(item, Rendered):
        return item.task.spec.path
    assert isinstance(item, Outcome)
    return item.path


_contained = contained(_spec_path)


def _pipeline(tasks: Sequence[Task], jobs: int | None) -> Iterator[Outcome]:
    """Build the tasks; TeX runs on one spec while the next one is derived."""
    # TeX runs are subprocesses, so a thread waiting on one leaves the GIL to the derivations.
    with ThreadPoolExecutor(max_workers=workers(jobs, len(tasks))) as tex:
        running: set[Future[Outcome]] = set()
        for item in parallel_map(_render_task, tasks, jobs):
            running.add(tex.submit(_compile_task, item))
            done = {future for future in running if future.done()}
            running -= done
            yield from (future.result() for future in done)
        yield from (future.result() for future in as_completed(running))


@_contained
def _render_task(task: Task) -> Rendered | Outcome:
    """Plan, verify and render the outdated documents of one spec: a build's Python half."""
    started = time.perf_counter()
    texts, problems = spec_texts(task.spec, [output.document for output in task.outputs])
    if problems:
        return Outcome(task.spec.path, "failed", problems=problems, code=failure_code(problems))
    return Rendered(task, texts, time.perf_counter() - started)


@_contained
def _compile_task(item: Rendered | Outcome) -> Outcome:
    """Write the .tex files and compile them: a build's TeX half."""
    if isinstance(item, Outcome):
        return item
    started, task = time.perf_counter(), item.task
    if task.tex_only:
        from derivtex.tex.files import write_text_atomic  # see texts.section

        for output, text in zip(task.outputs, item.texts, strict=True):
            write_text_atomic(output.tex, text)
            if output.document == "html":  # a page is finished without TeX: give it its assets
                finish_site(output.pdf)
        seconds = item.seconds + time.perf_counter() - started
        return Outcome(task.spec.path, "written", tuple(o.tex for o in task.outputs), seconds)
    warnings: list[Problem] = []
    for output, text in zip(task.outputs, item.texts, strict=True):
        try:
            problems = _write_output(task, output, text)
        except DerivtexError as exc:  # TeX failed; the previous PDF stays
            problems = (Problem(str(task.spec.path), None, *error_lines(exc)),)
        if is_failure(problems):
            return Outcome(task.spec.path, "failed", problems=problems, code=1)
        warnings.extend(problems)
    seconds = item.seconds + time.perf_counter() - started
    outputs = tuple(o.pdf for o in task.outputs)
    return Outcome(task.spec.path, "built", outputs, seconds, problems=tuple(warnings))


def _write_output(task: Task, output: Output, tex: str) -> tuple[Problem, ...]:
    """Compile one document; the PDF and stamp are replaced only if all went well."""
    from derivtex.tex.files import write_text_atomic  # see texts.section

    write_text_atomic(output.tex, tex)
    output.stamp.parent.mkdir(parents=True, exist_ok=True)
    if output.document == "html":  # no TeX: the page is written, its assets go beside it
        assets = finish_site(output.pdf)
        write_stamp(output, task.spec.path, (output.pdf, *assets))
        return ()
    # --strict: a rejected PDF goes beside the target as name.failed.pdf; the last good one stays.
    try:
        result = compile_pdf(
            output.tex, output=output.pdf, timeout=task.timeout, strict=task.strict
        )
    except StrictError as exc:
        rejected = exc.result
        return tuple(
            overfull_problem(task.spec.path, output.pdf, box, True) for box in rejected.overfull
        ) + tuple(warning_problem(task.spec.path, output.pdf, w) for w in strict_warnings(rejected))
    boxes = tuple(
        overfull_problem(task.spec.path, output.pdf, box, False) for box in result.overfull
    )
    write_stamp(output, task.spec.path, (output.pdf, output.tex))
    return boxes


def _check(path: Path, defaults: SpecDefaults = NO_DEFAULTS) -> Outcome:
    """Load, plan, verify and render one spec, as build would, without TeX."""
    return _contained(functools.partial(_check_one, defaults=defaults))(path)


def _check_one(path: Path, defaults: SpecDefaults) -> Outcome:
    started = time.perf_counter()
    try:
        spec = load_spec(path, defaults)
    except SpecError as exc:
        return spec_failure(path, exc)
    # Rendering is cheap and finds template errors (a user's templates too) before a build does.
    problems = spec_texts(spec, DOCUMENTS)[1]
    if problems:
        return Outcome(path, "failed", problems=problems, code=failure_code(problems))
    return Outcome(path, "checked", seconds=time.perf_counter() - started)
