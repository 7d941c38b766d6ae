"""The course spec (23 derivations) in all three formats: handout, slides and page."""

from __future__ import annotations

from pathlib import Path

from derivtex.project.build import build_specs
from derivtex.project.spec import load_spec
from tests.test_html import CHROMIUM, Page, _chromium
from tests.test_slides import COURSE, HEADINGS, _step_kinds, needs_beamer, pdf_pages, pdf_text


@needs_beamer
def test_course_in_every_format(tmp_path: Path) -> None:
    """--strict: any overfull box (in a frame or on a page) fails the build."""
    code = build_specs([COURSE], tmp_path, formats="pdf,slides,html", jobs=1, strict=True)
    assert code == 0
    spec, kinds = load_spec(COURSE), _step_kinds(load_spec(COURSE))
    slides, page = tmp_path / "course-slides.pdf", tmp_path / "course" / "index.html"
    assert (tmp_path / "course.pdf").is_file() and pdf_pages(slides) >= len(kinds)
    text = pdf_text(slides)
    assert all(HEADINGS[kind] in text for kind in set(kinds))
    before = Page(page.read_text(encoding="utf-8"))
    assert all(str(d.title) in "".join(before.visible) for d in spec.derivations)
    if CHROMIUM is None:
        return
    dom = _chromium(
        "--virtual-time-budget=20000", "--dump-dom", page.resolve().as_uri(), cwd=tmp_path
    )
    after = Page(dom.stdout)
    assert 'data-math="done"' in dom.stdout and after.errors == 0
    assert after.rendered == len(before.math)
    assert "\\frac" not in "".join(after.visible) and "\\sum" not in "".join(after.visible)
