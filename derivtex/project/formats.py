"""The output formats: the PDF handout (and exercises), Beamer slides, an HTML page per spec."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from derivtex.errors import FormatError, TemplateError

if TYPE_CHECKING:
    from derivtex.derivation.model import Derivation
    from derivtex.rendering.document import Section

FORMATS = ("pdf", "slides", "html")
DEFAULT_FORMATS = ("pdf",)
# Each document: its file under the output folder ({stem} is the spec's or derivation's name) and
# the template that lays it out. "pdf" means the mode's documents (handout, exercises).
PATHS = {
    "handout": "{stem}.pdf",
    "exercises": "{stem}-exercises.pdf",
    "slides": "{stem}-slides.pdf",
    "html": "{stem}/index.html",
}
TEMPLATES = {"handout": "handout", "exercises": "exercises", "slides": "slides/deck"}


def parse_formats(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """ "pdf,slides" or ["pdf", "html"] as a tuple of known formats, in the order given."""
    if value is None:
        return DEFAULT_FORMATS
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(item).strip().lower() for item in items if str(item).strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise FormatError(
            f"unknown output format {', '.join(map(repr, unknown)) or 'none given'}",
            hint=f"choose from {', '.join(FORMATS)}, comma-separated: --format pdf,slides,html",
        )
    return names


def documents(pdf_documents: Sequence[str], formats: Iterable[str]) -> tuple[str, ...]:
    """The documents to build: the mode's PDFs where pdf is asked for, then slides and html."""
    chosen = parse_formats(formats)
    return tuple(d for f in chosen for d in (pdf_documents if f == "pdf" else (f,)))


def output_path(stem: str, out_dir: Path, document: str) -> Path:
    """Where a document of the spec or derivation named stem is written."""
    return Path(out_dir) / PATHS[document].format(stem=stem)


def source_path(document: str, output: Path) -> Path:
    """The text written before the output is made: the .tex beside a PDF, the page itself."""
    return output if document == "html" else output.with_suffix(".tex")


def stamp_name(document: str, output: Path) -> tuple[Path, str]:
    """The folder holding an output's build stamp and the stamp's stem, outside any site."""
    if document == "html":
        return output.parent.parent, f"{output.parent.name}-html"
    return output.parent, output.stem


def render_document(document: str, sections: Sequence[Section], **meta: Any) -> str:
    """The text of one document: .tex through the LaTeX templates, or the HTML page."""
    if document == "html":
        from derivtex.rendering.html import render_html

        return render_html(sections, **meta)
    from derivtex.rendering.document import render

    return render(sections, document=TEMPLATES[document], **meta)


def finish_site(page: Path) -> tuple[Path, ...]:
    """Copy the assets an HTML page needs (KaTeX) into its folder; returns the files written.

    An unchanged file is left alone, so a rebuild does not touch the fonts a server caches.
    """
    from derivtex.rendering.html import asset_files
    from derivtex.tex.files import write_bytes_atomic

    files = asset_files()
    if not files:
        raise TemplateError(
            "the KaTeX files for HTML output are missing from this installation",
            hint="reinstall derivtex; a checkout restores them with tools/update-katex",
        )
    written = []
    for name, source in files:
        target, data = page.parent.joinpath(*name.split("/")), source.read_bytes()
        if not (target.is_file() and target.read_bytes() == data):
            write_bytes_atomic(target, data)
        written.append(target)
    return tuple(written)


def write_formats(
    d: Derivation,
    out_dir: Path,
    formats: Iterable[str] = DEFAULT_FORMATS,
    *,
    name: str | None = None,
    title: str | None = None,
    tex_only: bool = False,
    png: bool = False,
    vectors: str = "arrow",
    templates: Path | None = None,
    timeout: float = 120.0,
    overwrite: bool = True,
    warn: Callable[[str], None] | None = None,
    strict: bool = False,
) -> tuple[Path, ...]:
    """One derivation in each format (derivtex derive --format); returns the paths written.

    `overwrite=False` refuses to replace a file that holds another derivation (see write_handout).
    """
    from derivtex.api import check_name, default_name, default_title, write_handout

    written: list[Path] = []
    for fmt in parse_formats(formats):
        if fmt == "pdf":
            written += write_handout(
                d,
                out_dir,
                name=name,
                title=title,
                tex_only=tex_only,
                png=png,
                vectors=vectors,
                templates=templates,
                timeout=timeout,
                overwrite=overwrite,
                warn=warn,
                strict=strict,
            )
            continue
        stem = default_name(d) if name is None else check_name(name)
        heading = title or default_title(d)
        text = _render_one(d, fmt, heading, vectors, templates)
        path = output_path(stem, out_dir, fmt)
        written += _write_one(text, path, fmt, tex_only, png, timeout, overwrite, warn, strict)
    return tuple(written)


def _render_one(
    d: Derivation, document: str, heading: str, vectors: str, templates: Path | None
) -> str:
    from derivtex.rendering.document import section

    sections = [section(d, title=heading, vectors=vectors)]
    return render_document(document, sections, title=heading, templates=templates)


def _write_one(
    text: str,
    path: Path,
    document: str,
    tex_only: bool,
    png: bool,
    timeout: float,
    overwrite: bool,
    warn: Callable[[str], None] | None = None,
    strict: bool = False,
) -> tuple[Path, ...]:
    from derivtex.api import _check_unclaimed, warn_overfull
    from derivtex.tex.files import write_text_atomic
    from derivtex.tex.runner import compile_pdf

    source = source_path(document, path)
    if not overwrite:
        _check_unclaimed(source, text)
    write_text_atomic(source, text)
    if document == "html":
        finish_site(path)
        return (source,)
    if tex_only:
        return (source,)
    result = compile_pdf(source, timeout=timeout, png=png, strict=strict)
    warn_overfull(result, warn)
    return (source, result.pdf, *result.pngs)
