"""The HTML page: escaped, self-contained, and typeset by KaTeX in a real (headless) browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from derivtex.api import derive
from derivtex.cli import main
from derivtex.errors import TemplateError
from derivtex.project.build import build_specs
from derivtex.project.spec import load_spec
from derivtex.rendering.document import section
from derivtex.rendering.html import render_html

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference.toml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian's chromium)")
# As CI runs it: headless, as root, with every host name unresolvable (the page needs none).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


class Page(HTMLParser):
    """What a page holds: ids, links, assets, the text of math and of everything visible."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.assets: list[str] = []
        self.math: list[str] = []  # the LaTeX of each .dtx-tex element, before KaTeX
        self.rendered = 0  # .katex nodes (after KaTeX)
        self.errors = 0  # .dtx-failed or .katex-error nodes
        self.visible: list[str] = []  # text outside scripts, styles and KaTeX's MathML copy
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, hidden, in math)
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        hidden, in_math = self._stack[-1][1:] if self._stack else (False, False)
        hidden = hidden or tag in ("script", "style", "title") or "katex-mathml" in classes
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if (tag == "link" and "href" in a) or (tag in ("script", "img") and "src" in a):
            self.assets.append(a.get("href") or a["src"])
        self.rendered += "katex" in classes
        self.errors += "dtx-failed" in classes or "katex-error" in classes
        if "dtx-tex" in classes:
            self.math.append("")
            in_math = True
        if tag not in ("meta", "link", "br", "img", "input"):
            self._stack.append((tag, hidden, in_math))

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        hidden, in_math = self._stack[-1][1:] if self._stack else (False, False)
        if in_math and not hidden:
            self.math[-1] += data
        if not hidden:
            self.visible.append(data)


@pytest.fixture(scope="module")
def site() -> Path:
    out = Path(tempfile.mkdtemp(prefix="derivtex-html-"))
    assert build_specs([REFERENCE], out, formats="html", jobs=1) == 0
    return out / "reference" / "index.html"


def test_page_is_self_contained(site: Path) -> None:
    page = Page(site.read_text(encoding="utf-8"))
    assert page.assets and all("://" not in asset for asset in page.assets)
    for asset in page.assets:
        assert (site.parent / asset).is_file(), asset
    assert (site.parent / "katex" / "fonts" / "KaTeX_Main-Regular.woff2").is_file()
    assert (site.parent / "katex" / "LICENSE").is_file()
    assert "://" not in site.read_text(encoding="utf-8").replace("http://www.w3.org", "")


def test_page_has_contents_anchors_and_verification(site: Path) -> None:
    page = Page(site.read_text(encoding="utf-8"))
    spec = load_spec(REFERENCE)
    assert len(page.ids) == len(set(page.ids))
    internal = [link[1:] for link in page.links if link.startswith("#")]
    assert internal and set(internal) <= set(page.ids)
    text = " ".join("".join(page.visible).split())
    assert "Contents" in text
    for derivation in spec.derivations:
        assert str(derivation.title) in text
    assert text.count("Verified.") == len(spec.derivations)
    equations = [i for i in page.ids if i.count("-") == 2 or i.endswith("-given")]
    assert len(equations) >= 5 * len(spec.derivations)  # an anchor per displayed equation
    assert all(page.math) and any("\\frac" in m for m in page.math)


def test_print_and_dark_styles(site: Path) -> None:
    html = site.read_text(encoding="utf-8")
    assert "@media print" in html and "prefers-color-scheme: dark" in html


def _page(title: str, intro: str) -> str:
    d = derive("y = W x", "x", {"W": "C x D", "x": "D"})
    return render_html([section(d, title=title, intro=intro)], title=title, intro=intro)


def test_text_is_html_escaped() -> None:
    hostile = "</script><script>alert(1)</script> <b>bold</b> & \\frac{1}{2}"
    html = _page(hostile, hostile)
    assert "<script>alert(1)" not in html and "<b>bold" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp; \\frac{1}{2}" in html
    page = Page(html)
    assert hostile in "".join(page.visible)


def test_math_is_escaped_too() -> None:
    # printed LaTeX is escaped like any value; the browser reads it back as the text KaTeX takes
    from derivtex.rendering.html import _environment
    from derivtex.rendering.view import Tex

    template = _environment(None).from_string("<p><< tex >></p>")
    assert template.render(tex=Tex("a < b & c")) == "<p>a &lt; b &amp; c</p>"


def test_html_templates_override_by_name_and_stay_sandboxed(tmp_path: Path) -> None:
    steps = tmp_path / "html" / "steps"
    steps.mkdir(parents=True)
    (steps / "summary.html.j2").write_text('<p class="mine"><< step.justification >></p>\n')
    d = derive("y = W x", "x", {"W": "C x D", "x": "D"})
    html = render_html(d, templates=tmp_path)
    assert '<p class="mine">' in html and "Sum expansion" in html
    (steps / "summary.html.j2").write_text("<< range(10 ** 7) | list | length >>\n")
    with pytest.raises(TemplateError, match="too large"):
        render_html(d, templates=tmp_path)
    (steps / "summary.html.j2").write_text("<< step.lhs.__class__ >>\n")
    with pytest.raises(TemplateError):
        render_html(d, templates=tmp_path)


def test_cli_derive_html(tmp_path: Path) -> None:
    args = ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D"]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path), "--format", "html"])
    assert result.exit_code == 0, result.output
    page = tmp_path / "dy-dx" / "index.html"
    assert result.output.split() == [str(page)]
    assert (tmp_path / "dy-dx" / "katex" / "katex.min.js").is_file()
    assert not (tmp_path / "dy-dx.pdf").exists()


def test_html_build_is_incremental(tmp_path: Path) -> None:
    spec = tmp_path / "one.toml"
    spec.write_text(
        'title = "One"\n[[derivation]]\ngiven = "y = W x"\nwrt = "x"\n'
        'shapes = { W = "C x D", x = "D" }\n'
    )
    out = tmp_path / "build"
    assert build_specs([spec], out, formats="html", jobs=1) == 0
    page = out / "one" / "index.html"
    before = page.stat().st_mtime_ns
    runner = CliRunner()
    again = runner.invoke(main, ["build", str(spec), "-o", str(out), "--format", "html"])
    assert again.exit_code == 0 and "1 unchanged" in again.output
    assert page.stat().st_mtime_ns == before
    assert not (out / "one" / ".derivtex").exists()  # stamps stay outside the site


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    profile = tempfile.mkdtemp(prefix="chromium-", dir=cwd)
    command = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    env = {**os.environ, "HOME": str(cwd)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


@needs_chromium
def test_page_typesets_in_a_browser_without_network(site: Path, tmp_path: Path) -> None:
    """Headless Chromium, no host resolvable: every equation becomes a KaTeX node, no raw TeX."""
    url = site.resolve().as_uri()
    dom = _chromium("--virtual-time-budget=10000", "--dump-dom", url, cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-math="done"' in dom.stdout
    before = Page(site.read_text(encoding="utf-8"))
    after = Page(dom.stdout)
    assert after.errors == 0
    assert after.rendered == len(before.math) > 50  # every equation produced a rendered node
    visible = "".join(after.visible)
    for raw in ("\\frac", "\\sum", "\\partial", "\\begin{", "\\dtxhighlight"):
        assert raw not in visible, raw
    shot = tmp_path / "reference-page.png"
    taken = _chromium("--window-size=1000,2400", f"--screenshot={shot}", url, cwd=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]


def test_tex_only_build_still_writes_a_whole_page(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build_specs([REFERENCE], out, formats="html,slides", tex_only=True, jobs=1) == 0
    assert (out / "reference" / "katex" / "katex.min.js").is_file()
    assert (out / "reference-slides.tex").is_file() and not (out / "reference-slides.pdf").exists()
