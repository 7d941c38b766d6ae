"""Build spec files into PDF handouts: incremental, in parallel, one report line per spec."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from derivtex import __version__
from derivtex.errors import DerivtexError, SpecError, TexNotFoundError
from derivtex.options import Mode, choice
from derivtex.project.formats import (
    DEFAULT_FORMATS,
    FORMATS,
    documents,
    finish_site,
    output_path,
    render_document,
    source_path,
    stamp_name,
)
from derivtex.project.report import (
    Outcome,
    Problem,
    derivation_problem,
    error_lines,
    failed_pdf,
    failure_code,
    is_failure,
    overfull_problem,
    report,
    spec_failure,
    warning_problem,
)
from derivtex.project.spec import (
    NO_DEFAULTS,
    DerivationSpec,
    Spec,
    SpecDefaults,
    load_spec,
    spec_files,
)
from derivtex.rendering.templatefiles import builtin_templates, template_file, template_names
from derivtex.tex.runner import INSTALL_COMMAND, MINOR, compile_pdf, tex_available

if TYPE_CHECKING:
    from derivtex.rendering.document import Section

DOCUMENTS = ("handout", "exercises", "slides", "html")  # what check renders
MODES = {
    Mode.SOLUTIONS: ("handout",),
    Mode.EXERCISES: ("exercises",),
    Mode.BOTH: ("handout", "exercises"),
}
SUFFIXES = {"handout": "", "exercises": "-exercises"}
STAMP_DIR = ".derivtex"  # inside the output folder: stamps and private TeX work folders
# The word on the progress bar, and what the final line counts ("2 built, 1 unchanged, 0 failed").
BUILDING = ("building", ("built", "unchanged", "failed"))
CHECKING = ("checking", ("checked", "failed"))
WRITING = ("writing", ("written", "failed"))  # build --tex-only

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Output:
    """One document of a spec: its kind, its PDF and the fingerprint of all it depends on."""

    document: str
    pdf: Path
    fingerprint: str

    @property
    def tex(self) -> Path:
        return source_path(self.document, self.pdf)

    @property
    def stamp(self) -> Path:
        folder, stem = stamp_name(self.document, self.pdf)
        return folder / STAMP_DIR / f"{stem}.json"


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
    return report(outcomes, len(files), *(WRITING if tex_only else BUILDING))


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
    return done + tuple(_pipeline(tasks, jobs))


def check_specs(paths: Iterable[Path | str], defaults: SpecDefaults = NO_DEFAULTS) -> int:
    """Parse, plan and verify every derivation without TeX; report each problem.

    Returns 0 when all is well, 1 when a derivation fails, 2 when a spec file is malformed; every
    file is checked either way, so one run shows every problem.
    """
    files = spec_files(paths)
    check = functools.partial(_check, defaults=defaults)
    return report(_map(check, files, None), len(files), *CHECKING)


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
    key = _digest(_fingerprint_base(content, spec.templates, strict), repr(spec.derivations))
    outputs = tuple(
        Output(doc, _pdf_path(path, out_dir, doc), _digest(key, doc))
        for doc in documents(MODES[mode], _formats(formats, spec))
    )
    stale = outputs if force else tuple(o for o in outputs if not _fresh(o))
    if not stale:
        return Outcome(path, "unchanged")
    return Task(spec, stale, strict, timeout)


def _formats(formats: str | Sequence[str] | None, spec: Spec) -> str | Sequence[str]:
    """The command's formats, else the spec's, else pdf."""
    return formats if formats is not None else spec.formats or DEFAULT_FORMATS


def _pdf_path(spec_path: Path, out_dir: Path, document: str) -> Path:
    return output_path(spec_path.stem, out_dir, document)


def _fingerprint_base(content: bytes, user_templates: Path | None, strict: bool) -> str:
    """What every output of a spec depends on, besides its document kind."""
    # sympy's version too: it shapes the printed math as much as derivtex does.
    sympy = importlib.metadata.version("sympy")  # not sympy.__version__: importing takes 0.5 s
    options = (__version__, sympy, f"strict={strict}", _builtin_digest())
    return _digest(*options, _folder_digest(user_templates), hashlib.sha256(content).hexdigest())


def _digest(*parts: str) -> str:
    # NUL-separated, so that ("ab", "c") and ("a", "bc") differ.
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@cache
def _builtin_digest() -> str:
    root = builtin_templates()
    files = [(name, template_file(root, name).read_bytes()) for name in template_names(root)]
    return _files_digest(files)


def _folder_digest(folder: Path | None) -> str:
    if folder is None or not folder.is_dir():
        return "none"  # rendering reports a missing folder; the build fails and leaves no stamp
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return _files_digest([(p.relative_to(folder).as_posix(), p.read_bytes()) for p in files])


def _files_digest(files: Iterable[tuple[str, bytes]]) -> str:
    return _digest(*(f"{name}:{hashlib.sha256(data).hexdigest()}" for name, data in files))


def _fresh(output: Output) -> bool:
    try:
        stamp = json.loads(output.stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = isinstance(stamp, dict) and stamp.get("fingerprint") == output.fingerprint
    return same and output.pdf.is_file() and output.tex.is_file()


# --- building: Python work in worker processes, TeX runs in threads beside it ---


def _pipeline(tasks: Sequence[Task], jobs: int | None) -> Iterator[Outcome]:
    """Build the tasks; TeX runs on one spec while the next one is derived."""
    # TeX runs are subprocesses, so a thread waiting on one leaves the GIL to the derivations.
    with ThreadPoolExecutor(max_workers=_workers(jobs, len(tasks))) as tex:
        running: set[Future[Outcome]] = set()
        for item in _map(_render_task, tasks, jobs):
            running.add(tex.submit(_compile_task, item))
            done = {future for future in running if future.done()}
            running -= done
            yield from (future.result() for future in done)
        yield from (future.result() for future in as_completed(running))


def _contained(fn: Callable[[T], R]) -> Callable[[T], R | Outcome]:
    """fn, with a file-system or internal failure of one spec turned into its failed Outcome."""

    @functools.wraps(fn)
    def run(item: T) -> R | Outcome:
        try:
            return fn(item)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            message = f"cannot read or write{where}: {exc.strerror or exc}"
            return _failed(item, message, "check the output folder (-o) and its permissions", 2)
        except Exception as exc:  # noqa: BLE001 - one spec's failure must not stop the others
            message = f"internal error ({type(exc).__name__}: {exc})"
            return _failed(item, message, "please report it with the spec file", 1)

    return run


def _failed(item: object, message: str, hint: str, code: int) -> Outcome:
    path = item if isinstance(item, Path) else _spec_path(item)
    problem = Problem(str(path), None, message, (f"hint: {hint}",))
    return Outcome(path, "failed", problems=(problem,), code=code)


def _spec_path(item: object) -> Path:
    if isinstance(item, Task):
        return item.spec.path
    if isinstance(item, Rendered):
        return item.task.spec.path
    assert isinstance(item, Outcome)
    return item.path


@_contained
def _render_task(task: Task) -> Rendered | Outcome:
    """Plan, verify and render the outdated documents of one spec: a build's Python half."""
    started = time.perf_counter()
    texts, problems = _texts(task.spec, [output.document for output in task.outputs])
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
        from derivtex.tex.files import write_text_atomic  # see _section

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


def _texts(spec: Spec, documents: Sequence[str]) -> tuple[tuple[str, ...], tuple[Problem, ...]]:
    """The .tex text of each document, or the problems that stop it."""
    sections, problems = _derive_all(spec)
    if problems:
        return (), problems
    try:
        return tuple(_render(spec, sections, document) for document in documents), ()
    except DerivtexError as exc:  # a template failed, perhaps one of the user's
        return (), (Problem(str(spec.path), None, *error_lines(exc)),)


def _derive_all(spec: Spec) -> tuple[tuple[Section, ...], tuple[Problem, ...]]:
    """Every derivation planned and verified; the problems of all that fail."""
    sections, problems = [], []
    for dspec in spec.derivations:
        try:
            sections.append(_section(dspec))
        except DerivtexError as exc:
            key = getattr(exc, "key", "given")  # a $...$ in a title or intro names its key
            problems.append(
                derivation_problem(spec, dspec, *error_lines(exc), key=key, code=exc.exit_code)
            )
        except Exception as exc:  # noqa: BLE001 - one bug must not stop the other specs
            message = f"internal error ({type(exc).__name__}: {exc}); please report it"
            problems.append(derivation_problem(spec, dspec, message, ()))
    return tuple(sections), tuple(problems)


def _section(dspec: DerivationSpec) -> Section:
    # Imported here: an unchanged build decides without them, so sympy need not load for it.
    from derivtex.api import derive
    from derivtex.rendering.document import section
    from derivtex.rendering.view import ANSWER_SPACE

    given, wrt, shapes = dspec.given, dspec.wrt, dict(dspec.shapes)
    example = dict(dspec.example)
    d = derive(
        given,
        wrt,
        shapes,
        of=dspec.of,
        layout=dspec.layout,
        example=example,
        steps=dspec.steps,
        order=dspec.order,
    )
    return section(
        d,
        title=dspec.title or dspec.name,
        intro=dspec.intro,
        vectors=dspec.vectors,
        answer_space=dspec.answer_space or ANSWER_SPACE,
    )


def _render(spec: Spec, sections: Sequence[Section], document: str) -> str:
    return render_document(  # imports the rendering layer when called; see _section
        document,
        sections,
        title=spec.title,
        author=spec.author,
        date=spec.date,
        course=spec.course,
        intro=spec.intro,
        templates=spec.templates,
    )


def _write_output(task: Task, output: Output, tex: str) -> tuple[Problem, ...]:
    """Compile one document; the PDF and stamp are replaced only if all went well."""
    from derivtex.tex.files import write_text_atomic  # see _section

    write_text_atomic(output.tex, tex)
    output.stamp.parent.mkdir(parents=True, exist_ok=True)
    if output.document == "html":  # no TeX: the page is written, its assets go beside it
        finish_site(output.pdf)
        return _write_stamp(task, output)
    # A private folder beside the target: --strict can still reject the new PDF, and the final
    # rename stays on one file system, so it is atomic.
    with tempfile.TemporaryDirectory(dir=output.stamp.parent, prefix="tmp-") as work:
        result = compile_pdf(output.tex, output=Path(work, output.pdf.name), timeout=task.timeout)
        boxes = tuple(
            overfull_problem(task.spec.path, output.pdf, box, task.strict)
            for box in result.overfull
        )
        warnings = [w for w in result.warnings if not w.startswith((MINOR, "Overfull"))]
        if task.strict and (warnings or boxes):
            os.replace(result.pdf, failed_pdf(output.pdf))  # to look at; the last good PDF stays
            return boxes + tuple(warning_problem(task.spec.path, output.pdf, w) for w in warnings)
        os.replace(result.pdf, output.pdf)
        failed_pdf(output.pdf).unlink(missing_ok=True)
    return boxes + _write_stamp(task, output)


def _write_stamp(task: Task, output: Output) -> tuple[Problem, ...]:
    from derivtex.tex.files import write_text_atomic  # see _section

    stamp = {"fingerprint": output.fingerprint, "derivtex": __version__}
    write_text_atomic(output.stamp, json.dumps(stamp | {"spec": str(task.spec.path)}) + "\n")
    return ()


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
    problems = _texts(spec, DOCUMENTS)[1]
    if problems:
        return Outcome(path, "failed", problems=problems, code=failure_code(problems))
    return Outcome(path, "checked", seconds=time.perf_counter() - started)


def _workers(jobs: int | None, items: int) -> int:
    return max(1, min(jobs or os.cpu_count() or 1, items))


def _map(fn: Callable[[T], R], items: Sequence[T], jobs: int | None) -> Iterator[R]:
    """fn over items, in worker processes when there are several; results as they finish."""
    if _workers(jobs, len(items)) == 1:  # no pool: it would only add start-up time
        yield from map(fn, items)
        return
    # Processes, not threads: sympy's work is pure Python and holds the GIL.
    with ProcessPoolExecutor(_workers(jobs, len(items)), mp_context=_preloaded()) as pool:
        for future in as_completed([pool.submit(fn, item) for item in items]):
            yield future.result()


def _preloaded() -> multiprocessing.context.BaseContext | None:
    """Fork workers from a parent that has imported and warmed the pipeline once, for them all.

    Each worker would otherwise import sympy, fill sympy's caches and compile the built-in
    templates itself: with --jobs 2, twice that CPU before any work. Where fork is not
    available, the platform's default start method (and the workers do it themselves).
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    from derivtex.api import derive
    from derivtex.rendering.document import render, section

    warm = [  # between them, every step kind: every built-in step template gets compiled
        section(derive(text, wrt, shapes))
        for text, wrt, shapes in (
            ("y = W x", "x", {"W": "C x D", "x": "D"}),
            ("y = sigmoid(W x)", "x", {"W": "C x D", "x": "D"}),
            ("h = tanh(W x); y = V h", "x", {"W": "M x D", "x": "D", "V": "C x M"}),
            ("y = x W", "W", {"x": "1 x D", "W": "D x C"}),
            ("Y = X W", "X", {"X": "N x D", "W": "D x C"}),
        )
    ]
    for document in ("handout", "exercises"):
        render(warm, document=document)
    return multiprocessing.get_context("fork")
