"""The public API: stable names, and a Derivation complete when derive() returns."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

import derivtex

PUBLIC = ("Derivation", "derive", "render", "compile_pdf", "write_handout")


@pytest.mark.parametrize("name", PUBLIC)
def test_public_names_survive_submodule_imports(name: str) -> None:
    first = getattr(derivtex, name)
    for module in ("api", "rendering.document", "tex.runner", "derivation.model", "project.build"):
        importlib.import_module(f"derivtex.{module}")
    assert getattr(derivtex, name) is first
    assert callable(getattr(derivtex, name))


def test_render_is_callable_twice() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"})
    assert derivtex.render(d) == derivtex.render(d)


def test_derivation_is_complete_and_frozen() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"})
    assert d.report is not None and d.steps
    assert d.steps[0].kind == "component_formula" and d.steps[-1].kind == "summary"
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.steps = ()  # type: ignore[misc]
    assert not hasattr(d, "__dict__")  # slotted: nothing is cached onto it later


def test_result_alone_is_not_planned() -> None:
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, steps=False)
    assert d.steps == () and d.report is None
    assert str(d.result) == "W"


def test_layout_is_validated_once() -> None:
    with pytest.raises(derivtex.InputError, match="unknown layout 'sideways'"):
        derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, layout="sideways")
    d = derivtex.derive("y = W x", "x", {"W": "C x D", "x": "D"}, layout="denominator")
    assert d.layout is derivtex.options.Layout.DENOMINATOR
