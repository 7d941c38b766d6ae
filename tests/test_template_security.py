"""Hostile user templates: sandbox escapes and resource exhaustion end in a clean TemplateError.

Templates see only inert views (printed LaTeX, str, numbers, booleans, None, tuples), so no gadget
reaches a sympy object, a Notation or a callable that parses strings as Python.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

from derivtex.api import derive
from derivtex.cli import main
from derivtex.errors import TemplateError
from derivtex.rendering.document import render, section
from derivtex.rendering.view import ReportView, SectionView, Tex, notation_view

PWN = "__import__('os').system('touch PWNED')"

GADGETS = [
    f'<< sections[0].asked.subs(1, "{PWN}") >>',
    f'<< sections[0].statements[0][0].subs(1, "{PWN}") >>',
    f'<< sections[0].steps[0].lhs.subs(1, "{PWN}") >>',
    f'<< sections[0].steps[0].lhs.func("{PWN}") >>',
    "<< ''.__class__.__mro__[1].__subclasses__() >>",
    "<< cycler.__init__.__globals__ >>",
    "<< joiner.__init__.__globals__.os >>",
    "<< namespace.__init__.__globals__ >>",
    "<< lipsum.__globals__['os'].popen('id').read() >>",
    "<< self._TemplateReference__context >>",
    "<< self.__init__.__globals__ >>",
    "<< ''|attr('__class__') >>",
    "<< sections[0]|attr('__class__') >>",
    "<< '{0.__class__}'.format(1) >>",
    "<< '{0.__class__.__base__.__subclasses__}'.format(sections) >>",
    "<< '%s'|format(sections[0].__class__) >>",
    "<< '%*d'|format(1000000000, 1) >>",
    "<< '%*d' % (1000000000, 1) >>",
    "<< '{:>1000000000}'.format(1) >>",
    "<< 'x'.format_map({}) >>",
    "<< '{0.__class__}'.format_map([1]) >>",
    "<% for i in range(10**9) %>x<% endfor %>",
    "<< range(10**10)|list >>",
    "<% macro f() %><< f() >><% endmacro %><< f() >>",
    "<< config >>",
    "<< request >>",
    "<< ().__class__.__base__ >>",
    "<< (1).__class__ >>",
    "<< sections[0].__dict__ >>",
    "<< sections[0].__slots__ >>",
    "<< sections[0].steps[0].__class__.__init__.__globals__ >>",
    "<< x.__reduce_ex__(2) >>",
    "<< sections[0].__reduce_ex__(2) >>",
    "<< 'a'*10**9 >>",
    "<< [1]*10**9 >>",
    "<< 10**9*'a' >>",
    "<% for x in sections %><< loop.__class__ >><% endfor %>",
    "<% set x = namespace() %><% set x.__class__ = 1 %>",
    "<< dict(a=1).items().__class__ >>",
    "<< sections|map(attribute='__class__')|list >>",
    "<< 9**9**9 >>",
    "<< 2**100000000 >>",
    "<< 9**(9**9) >>",
    "<< (10**1000)*(10**1000) >>",
    "<< 'a'|center(10**9) >>",
    "<< 'a'.center(10**9) >>",
    "<< 'a'.ljust(10**9) >>",
    "<< ('x'*100000)|replace('x', 'y'*100000) >>",
    "<< ('x'*100000).replace('x', 'y'*100000) >>",
    "<< 'a'|indent(10**9) >>",
    "<< sections[0].notation.kind('x') >>",
    "<< sections[0].steps[0].__init__ >>",
    "<< sections.__getitem__(0) >>",
    "<< sections.pop() >>",
    "<< notation.__class__.__init__.__globals__['sympy'] >>",
    "<< range.__globals__ >>",
    "<< (sections|first).title.__class__.__mro__ >>",
    "<< 1/0 >>",
    "<< sections[99] >>",
    '<% include "/etc/passwd" %>',
    '<% include "../../../../etc/passwd" %>',
    '<% extends "../x.tex.j2" %>',
    "<< {}.__class__.__subclasses__() >>",
    "<< ''.join|attr('__self__') >>",
    "<< [].append(1) or 'appended' >>",
    "<% set l = [1] %><% for i in range(100) %><% set _ = l.extend(l) %><% endfor %><< l|length >>",
    "<% set d = {} %><% for i in range(100) %><< d.update(a=i) >><% endfor %>",
    "<< sections[0].steps[0].report >>",
]


@functools.cache
def _derivation():
    return derive("y = W x", "x", {"W": "C x D", "x": "D"})


def _render(tmp_path: Path, source: str) -> str:
    (tmp_path / "handout.tex.j2").write_text(source, encoding="utf-8")
    return render([section(_derivation())], templates=tmp_path)


@pytest.mark.parametrize("source", GADGETS)
def test_gadget_ends_in_a_template_error_or_inert_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "tpl"
    folder.mkdir()
    start = time.monotonic()
    try:
        out = _render(folder, source)
    except TemplateError as exc:
        assert "handout.tex.j2" in str(exc)
        assert "Traceback" not in str(exc)
    else:  # harmless: no object's repr with an address, no secrets
        assert "<function" not in out and "<class" not in out and "object at 0x" not in out
        assert "root:" not in out and "uid=" not in out
    assert time.monotonic() - start < 5
    assert not (tmp_path / "PWNED").exists()
    assert not Path("/tmp/PWNED").exists()


def test_there_are_at_least_30_gadgets() -> None:
    assert len(GADGETS) >= 30


def _inert(value: object) -> bool:
    if isinstance(value, str | int | float | bool) or value is None:
        return not isinstance(value, sympy.Basic)
    if isinstance(value, tuple):
        return all(_inert(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        own = [n for n in vars(type(value)) if not n.startswith("_")]
        names = {f.name for f in dataclasses.fields(value)}
        assert not [n for n in own if callable(getattr(value, n)) and n not in names], own
        return all(_inert(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def test_the_view_of_every_step_is_inert() -> None:
    from derivtex.rendering.view import section_view

    d = derive("y = sigmoid(W x + b)", "W", {"W": "C x D", "x": "D", "b": "C"})
    for d_ in (_derivation(), d):
        view = section_view(section(d_))
        assert isinstance(view, SectionView)
        assert _inert(view)
        assert isinstance(view.asked, Tex)
        assert view.notation == notation_view(section(d_).notation)
    reports = [s.report for s in view.steps if getattr(s, "report", None) is not None]
    assert all(isinstance(r, ReportView) for r in reports)


def test_cli_reports_a_gadget_template_by_file_name_without_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "handout.tex.j2").write_text(
        f'ok\n<< sections[0].asked.subs(1, "{PWN}") >>\n', encoding="utf-8"
    )
    result = CliRunner().invoke(
        main,
        [
            "derive",
            "y = W x",
            "--wrt",
            "x",
            "-s",
            "W=C x D",
            "-s",
            "x=D",
            "--templates",
            str(folder),
            "--tex-only",
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "handout.tex.j2" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "PWNED").exists()
    assert not Path("PWNED").exists()


@pytest.mark.parametrize(
    "source",
    [
        "<% macro f() %><< f() >><% endmacro %><< f() >>",
        "<< 9**(9**9) >>",
        "<< 1/0 >>",
        "<< range(10**10)|list >>",
    ],
)
def test_cli_recursion_and_overflow_are_template_errors(tmp_path: Path, source: str) -> None:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "handout.tex.j2").write_text(source, encoding="utf-8")
    args = ["derive", "y = W x", "--wrt", "x", "-s", "W=C x D", "-s", "x=D"]
    out = ["--templates", str(folder), "--tex-only", "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(main, [*args, *out])
    assert result.exit_code == 1, result.output
    assert "handout.tex.j2" in result.output
    assert "Traceback" not in result.output
