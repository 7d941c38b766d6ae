"""The template environment: LaTeX-safe syntax, escaping, overrides, sandbox, errors, export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st
from pylatex.utils import NoEscape

from derivtex.errors import TemplateError, TemplateFolderError
from derivtex.rendering.environment import (
    TYPESETTABLE,
    builtin_templates,
    escape_text,
    export_templates,
    make_environment,
    render_template,
    template_names,
)
from derivtex.rendering.printer import Notation
from derivtex.rendering.view import notation_view

NOTATION = Notation((("x", "vector"), ("W1", "matrix")))

ESCAPES = [
    (r"\input{/etc/passwd}", r"\textbackslash{}input\{/etc/passwd\}"),
    (r"\write18{rm -rf /}", r"\textbackslash{}write18\{rm {-}rf /\}"),
    ("100% sure", r"100\% sure"),
    ("#1 & $2", r"\#1 \& \$2"),
    ("x_1^2", r"x\_1\^{}2"),
    ("{}~", r"\{\}\textasciitilde{}"),
    ("\\", r"\textbackslash{}"),
    ("[opt]", "{[}opt{]}"),
    ("<<a>> ?`", "{<}{<}a{>}{>} ?{`}"),
    ("\\par\\end{document}", r"\textbackslash{}par\textbackslash{}end\{document\}"),
    ("line\n\n\tnext", "line next"),
    ("naïve café, Łódź", "naïve café, Łódź"),
    ("σ(W x) and Λ", r"\ensuremath{\sigma}(W x) and \ensuremath{\Lambda}"),
    ("ﬁne ＼input Ạ", r"fine \textbackslash{}input A"),
    ("好 😀 \x00\x07", "? ? ??"),
    ("Ħ", "?"),
]


@pytest.mark.parametrize(("text", "expected"), ESCAPES)
def test_escape_text(text: str, expected: str) -> None:
    assert escape_text(text) == expected


# Every backslash escape_text writes starts one of these; none comes from the input.
ESCAPE_TOKEN = re.compile(
    r"\\(?:textbackslash\{\}|textasciitilde\{\}|\^\{\}|[&%$#_{}]|ensuremath\{\\[A-Za-z]+\})"
)


@given(st.text())
def test_escaped_text_holds_no_command_of_its_own(text: str) -> None:
    escaped = escape_text(text)
    rest = ESCAPE_TOKEN.sub("", escaped)
    assert "\\" not in rest
    assert _balanced(rest)
    assert set(escaped) <= TYPESETTABLE


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def render(source: str, **context: object) -> str:
    return make_environment().from_string(source).render(**context)


def test_printed_values_are_escaped_but_noescape_passes() -> None:
    out = render(
        "<< a >>|<< b >>|<< c | tex >>|<< d | escape >>",
        a="$x$",
        b=NoEscape(r"\alpha"),
        c=r"\beta",
        d="%",
    )
    assert out == r"\$x\$|\alpha|\beta|\%"


def test_text_a_template_renders_is_not_escaped_again() -> None:
    source = (
        r"<% macro bold(a) %>\textbf{<< a >>}<% endmacro %><< bold('&') >>|"
        r"<% set b %>\emph{<< '%' >>}<% endset %><< b >>|"
        r"<< '$' ~ 1 >>"
    )
    assert render(source) == r"\textbf{\&}|\emph{\%}|\$1"


def test_latex_braces_and_percent_are_plain_text_to_jinja() -> None:
    source = "\\frac{{a}}{b} % {{ not jinja }} {% neither %}\n"
    assert render(source) == source


def test_there_is_no_math_filter_templates_get_printed_math() -> None:
    assert "math" not in make_environment().filters


def test_name_filter_takes_a_notation_set_in_a_loop_as_an_argument() -> None:
    bold = notation_view(Notation((("x", "vector"),), vectors="bold"))
    source = (
        "<% for n in [bold] %><% set notation = n %><< 'x' | name(notation=notation) >><% endfor %>"
    )
    assert render(source, bold=bold, notation=NOTATION) == r"\mathbf{x}"
    assert render("<< 'x' | name(notation=bold) >>", bold=bold) == r"\mathbf{x}"


def test_name_filter_takes_the_kind_from_the_notation() -> None:
    out = render("<< 'W1' | name >> << 'x' | name >> << 'b' | name('vector') >>", notation=NOTATION)
    assert out == r"W^{(1)} \vec{x} \vec{b}"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("source", "context", "message"),
    [
        ("ok\n<< title >>\n", {}, r"'title' is undefined \(at .*doc\.tex\.j2, line 2\)"),
        ("<< ''.__class__.__mro__ >>", {}, "unsafe"),
        ("<< e >>", {"e": sympy.Symbol("x")}, "templates take printed LaTeX only"),
        ("<< e | math >>", {"e": "__import__('os')"}, "No filter named 'math'"),
        ("<< 'x' | name >>", {}, "needs a notation named 'notation'"),
        ("<< n | name('vector') >>", {"n": sympy.Symbol("x")}, "takes a str name"),
        ("<< 'q' | name >>", {"notation": NOTATION}, "no kind declared for tensor 'q'"),
        ("<< 'x y' | name('scalar') >>", {"notation": NOTATION}, "not a tensor name"),
        ('<% include "nowhere.tex.j2" %>', {}, r"'nowhere\.tex\.j2' not found \(needed at"),
        ("one\n<% if %>", {}, r"syntax error in template .*doc\.tex\.j2, line 2"),
    ],
)
def test_template_failures_become_template_errors(
    tmp_path: Path, source: str, context: dict[str, object], message: str
) -> None:
    write(tmp_path, "doc.tex.j2", source)
    with pytest.raises(TemplateError, match=message):
        render_template(make_environment(tmp_path), "doc.tex.j2", **context)


def test_missing_template_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="'no-such.tex.j2' not found"):
        render_template(make_environment(), "no-such.tex.j2")


def test_missing_user_folder_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template folder not found"):
        make_environment(tmp_path / "absent")


def test_user_template_overrides_builtin_of_the_same_name(tmp_path: Path) -> None:
    assert "\\documentclass" in render_template(make_environment(), "preamble.tex.j2")
    write(tmp_path, "preamble.tex.j2", "mine\n")
    assert render_template(make_environment(tmp_path), "preamble.tex.j2") == "mine\n"


def test_user_template_extends_the_builtin_preamble(tmp_path: Path) -> None:
    write(
        tmp_path,
        "doc.tex.j2",
        '<% extends "preamble.tex.j2" %>\n'
        "<% block packages %><< super() >>\\usepackage{bm}\n<% endblock %>\n"
        "<% block document %>\\begin{document}<< title >>\\end{document}\n<% endblock %>\n",
    )
    out = render_template(make_environment(tmp_path), "doc.tex.j2", title="50%")
    assert "\\usepackage{xcolor}\n\\usepackage{bm}\n" in out
    assert out.endswith("\\begin{document}50\\%\\end{document}\n")


def test_preamble_starts_with_documentclass_and_trailer_id() -> None:
    lines = render_template(make_environment(), "preamble.tex.j2").splitlines()
    assert lines[0] == r"\documentclass[11pt]{article}"
    assert r"\pdftrailerid{}" in lines[1]


def test_builtin_templates_are_found_in_the_checkout() -> None:
    assert "preamble.tex.j2" in template_names(builtin_templates())


def test_export_copies_every_builtin_and_refuses_to_overwrite(tmp_path: Path) -> None:
    written = export_templates(tmp_path)
    names = template_names(builtin_templates())
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == list(names)
    assert (tmp_path / "preamble.tex.j2").read_bytes() == (
        builtin_templates() / "preamble.tex.j2"
    ).read_bytes()
    (tmp_path / "preamble.tex.j2").write_text("edited", encoding="utf-8")
    with pytest.raises(TemplateError, match="refusing to overwrite"):
        export_templates(tmp_path)
    assert (tmp_path / "preamble.tex.j2").read_text(encoding="utf-8") == "edited"
    export_templates(tmp_path, overwrite=True)
    assert (tmp_path / "preamble.tex.j2").read_text(encoding="utf-8") != "edited"


HOSTILE = "".join(text for text, _ in ESCAPES) + "\u00ad\u20ac\u2026 ‹›"


@pytest.mark.tex
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_hostile_title_compiles(tmp_path: Path) -> None:
    write(
        tmp_path,
        "doc.tex.j2",
        '<% extends "preamble.tex.j2" %>\n<% block document %>\n'
        "\\title{<< title >>}\n\\begin{document}\n\\maketitle\n\\section{<< title >>}\n"
        "<< title >>\n\\end{document}\n<% endblock %>\n",
    )
    source = render_template(make_environment(tmp_path), "doc.tex.j2", title=HOSTILE)
    (tmp_path / "doc.tex").write_text(source, encoding="utf-8")
    run = subprocess.run(
        ["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    log = (tmp_path / "doc.log").read_text(encoding="latin-1")
    assert run.returncode == 0, log[-2000:]
    assert "Missing character" not in log


def test_a_template_symlinked_out_of_the_user_folder_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/secret.txt", "SECRET\n")
    user = tmp_path / "user"
    user.mkdir()
    (user / "preamble.tex.j2").symlink_to(outside)
    with pytest.raises(TemplateFolderError, match="symlink to .*outside the template folder"):
        render_template(make_environment(user), "preamble.tex.j2")
    (user / "leak.tex.j2").symlink_to("/etc/hostname")
    with pytest.raises(TemplateFolderError, match="/etc/hostname"):
        render_template(make_environment(user), "leak.tex.j2")


def test_a_symlinked_subfolder_out_of_the_user_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "outside/steps/chain.tex.j2", "SECRET\n")
    user = tmp_path / "user"
    user.mkdir()
    (user / "steps").symlink_to(tmp_path / "outside" / "steps")
    with pytest.raises(TemplateFolderError, match="outside the template folder"):
        render_template(make_environment(user), "steps/chain.tex.j2")


def test_a_symlink_inside_the_user_folder_is_followed(tmp_path: Path) -> None:
    write(tmp_path, "user/real.tex.j2", "mine\n")
    (tmp_path / "user" / "preamble.tex.j2").symlink_to("real.tex.j2")
    assert render_template(make_environment(tmp_path / "user"), "preamble.tex.j2") == "mine\n"
