"""A Derivation in Jupyter: a real notebook run by a real kernel, and the Markdown it displays."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import derivtex
from derivtex.derivation.steps import KINDS

HEADINGS = {  # each step kind's heading, as a reader sees it
    "component_formula": "Component formula",
    "sum_expansion": "Sum expansion",
    "term_partial": "Per-term partial",
    "generalization": "Generalization",
    "jacobian_assembly": "Jacobian assembly",
    "summary": "Result",
}
LINEAR = 'derivtex.derive("y = W x", shapes={"W": "C x D", "x": "D"}, wrt="x")'
HESSIAN = (
    'derivtex.derive("L = norm(X w - y)^2", shapes={"X": "N x D", "w": "D", "y": "N"},'
    ' wrt="w", order=2)'
)
# Between them every step kind, so that every notebook template is rendered below.
MANY = [
    ("y = W x", {"W": "C x D", "x": "D"}, "x", 1),
    ("h = tanh(W x); y = V h", {"W": "M x D", "x": "D", "V": "C x M"}, "x", 1),
    ("p = softmax(z)", {"z": "D"}, "z", 1),
    ("L = -sum(t .* log(softmax(W x)))", {"W": "C x D", "x": "D", "t": "C"}, "W", 1),
    ("L = tr(inv(X) A)", {"X": "D x D", "A": "D x D"}, "X", 1),
    ("L = log(det(X))", {"X": "D x D"}, "X", 1),
    ("L = norm(X w - y)^2", {"X": "N x D", "w": "D", "y": "N"}, "w", 2),
    ("Y = X W", {"X": "N x D", "W": "D x C"}, "X", 1),
    ("y = x W", {"x": "1 x D", "W": "D x C"}, "W", 1),
    ("L = x^T A x", {"A": "D x D symmetric", "x": "D"}, "x", 1),
    ("y = sigmoid(W x + b)", {"W": "C x D", "x": "D", "b": "C"}, "x", 1),
    ("Y = X W + b^T", {"X": "N x D", "W": "D x C", "b": "C"}, "b", 1),
]


def _displays(markdown: str) -> list[str]:
    """The bodies of the $$ ... $$ displays, each on lines of its own."""
    return re.findall(r"^\$\$\n(.*?)\n\$\$$", markdown, re.S | re.M)


def _notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Run a two-cell notebook in the venv's own kernel; the outputs of each cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    kernels = Path(sys.prefix, "share", "jupyter")
    if not (kernels / "kernels" / "python3" / "kernel.json").is_file():
        pytest.skip("ipykernel's kernelspec is not installed in this environment")
    # The venv's kernelspec (its "python" is this interpreter); nothing written to the home.
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    for name in ("JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    cells = [f"import derivtex\nd = {LINEAR}\nd", f"h = {HESSIAN}\nh"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120)
    client.execute(cwd=str(tmp_path))
    return [cell.outputs for cell in nb.cells]


@pytest.mark.slow
def test_a_notebook_shows_the_steps_as_equations(tmp_path, monkeypatch) -> None:
    linear, hessian = _notebook(tmp_path, monkeypatch)
    data = next(out["data"] for out in linear if out["output_type"] == "execute_result")
    markdown, latex = data["text/markdown"], data["text/latex"]
    for heading in HEADINGS.values():
        assert f"\n### {heading}\n" in markdown
    assert markdown.startswith("## The derivative of y by x\n")
    displays = _displays(markdown)
    assert r"\frac{\partial \vec{y}}{\partial \vec{x}} = W" in displays  # the Jacobian
    assert any(r"\begin{aligned}" in d and r"&= W_{3,7}" in d for d in displays)
    assert "lhs:" not in markdown and "rhs:" not in markdown
    assert latex == r"$\frac{\partial \vec{y}_{i}}{\partial \vec{x}_{j}} = W_{i,j}$"
    data = next(out["data"] for out in hessian if out["output_type"] == "execute_result")
    assert "\n### Hessian assembly\n" in data["text/markdown"]
    assert r"\partial^{2} L" in data["text/latex"] and "X_{k,i} X_{k,j}" in data["text/latex"]


@pytest.mark.parametrize(("text", "shapes", "wrt", "order"), MANY)
def test_markdown_displays_are_whole_equations(text, shapes, wrt, order) -> None:
    markdown = derivtex.derive(text, shapes=shapes, wrt=wrt, order=order)._repr_markdown_()
    assert markdown.count("$$") == 2 * len(_displays(markdown))  # every display closed
    for display in _displays(markdown):
        assert "\n\n" not in display  # a blank line would end the math in Markdown
        assert display.count(r"\begin{aligned}") == display.count(r"\end{aligned}")
        assert display.count("{") == display.count("}")
    assert "\\dtxhighlight" not in markdown  # the page's own macro: Jupyter has no such macro


def test_every_step_kind_has_a_notebook_layout() -> None:
    shown = set()
    for text, shapes, wrt, order in MANY:
        d = derivtex.derive(text, shapes=shapes, wrt=wrt, order=order)
        shown |= {step.kind for step in d.steps}
    assert shown == set(KINDS)
    root = Path(__file__).resolve().parent.parent / "templates" / "notebook" / "steps"
    assert {p.name.removesuffix(".md.j2") for p in root.glob("[!_]*.md.j2")} == set(KINDS)


def test_plain_text_is_escaped_for_markdown() -> None:
    from derivtex.rendering.notebook import escape_markdown

    assert escape_markdown("a_1 * b\n# not a heading $x$") == r"a\_1 \* b \# not a heading \$x\$"


def test_index_form_of_a_matrix_variable() -> None:
    d = derivtex.derive("Y = X W", shapes={"X": "N x D", "W": "D x C"}, wrt="X")
    assert d._repr_latex_() == r"$\frac{\partial Y_{i,j}}{\partial X_{k,l}} = \delta_{i,k} W_{l,j}$"
