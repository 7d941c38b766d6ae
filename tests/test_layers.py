"""The layers: each imports only the layers before it; no module imports in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "derivtex"

# Lower rank first; a module may import its own layer and any layer of lower rank.
RANKS = {
    "errors": 0,
    "options": 0,
    "language": 1,
    "calculus": 2,
    "derivation": 3,
    "rendering": 4,
    "api": 5,
    "project": 6,
    "cli": 7,
    "__main__": 8,
    "__init__": 8,
}
# tex/ turns .tex into PDF and knows nothing of derivations: it imports errors only.
TEX_MAY_IMPORT = {"errors", "tex"}
# The one deliberate upward edge: Derivation.latex() and the _repr_ methods print for notebooks
# through the rendering layer, imported when called so that deriving never loads it.
ALLOWED_UPWARD = {
    ("derivation.model", "rendering.printer"),
    ("derivation.model", "rendering.notebook"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    """The derivtex modules a file imports, anywhere in it (deferred imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: derivtex imports absolutely (from derivtex.x import)"
            found |= {node.module or "", *(f"{node.module}.{a.name}" for a in node.names)}
    known = set(_modules())
    return {m.removeprefix("derivtex.") for m in found if m.removeprefix("derivtex.") in known}


def _layer(module: str) -> str:
    return module.split(".")[0]


def _edges() -> list[tuple[str, str]]:
    return [
        (name, target)
        for name, path in _modules().items()
        for target in sorted(_imports(path))
        if target != name and target != "__init__"
    ]


def test_every_module_belongs_to_a_layer() -> None:
    layers = {_layer(m) for m in _modules()} - {"tex"}
    assert layers <= set(RANKS), f"add a rank for {layers - set(RANKS)}"


@pytest.mark.parametrize(("source", "target"), _edges())
def test_no_upward_import(source: str, target: str) -> None:
    src, dst = _layer(source), _layer(target)
    if src == "tex":
        assert dst in TEX_MAY_IMPORT, f"tex/ imports errors only, not {target}"
        return
    if dst == "tex" or (source, target) in ALLOWED_UPWARD:
        return
    assert RANKS[dst] <= RANKS[src], f"{source} (layer {src}) imports {target} (layer {dst})"


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in _edges():
        if (source, target) not in ALLOWED_UPWARD and _layer(source) != "__init__":
            graph.setdefault(source, set()).add(target)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The import parser finds both absolute and deferred imports (so the tests above can fail)."""
    path = PACKAGE / "language" / "parser.py"
    assert "language.lexer" in _imports(path)
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from derivtex.rendering.printer import to_latex\n")
    assert "rendering.printer" in _imports(fake)


def test_every_subpackage_ships_in_the_wheel() -> None:
    """pyproject lists packages by name: a new layer must be added there too."""
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(config["tool"]["setuptools"]["packages"])
    folders = {f"derivtex.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    assert folders <= shipped, f"add {sorted(folders - shipped)} to [tool.setuptools] packages"
