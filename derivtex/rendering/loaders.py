"""Where templates come from: the user's folder (confined to itself) before the built-ins."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2

from derivtex.errors import TemplateError, TemplateFolderError
from derivtex.rendering.templatefiles import builtin_templates, template_file, template_names

BUILTIN_PREFIX = "builtin"  # templates named builtin/NAME are the built-in NAME, never a user's


def template_loader(user_dir: Path | None) -> jinja2.BaseLoader:
    """The user's folder (if any) first, confined to itself, then the built-in templates."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        if not Path(user_dir).is_dir():
            raise TemplateFolderError(
                f"template folder not found: {user_dir}",
                hint="pass an existing folder; 'derivtex templates export DIR' writes one to edit",
            )
        loaders.append(ConfinedFileSystemLoader(user_dir))
    builtin = TraversableLoader(builtin_templates())
    loaders.append(builtin)
    # "builtin/NAME" is always the built-in NAME: a user's preamble.tex.j2 can extend it.
    loaders.append(jinja2.PrefixLoader({BUILTIN_PREFIX: builtin}))
    return jinja2.ChoiceLoader(loaders)


def export_templates(dest: Path, *, overwrite: bool = False) -> tuple[Path, ...]:
    """Copy every built-in template into dest (keeping steps/) for a user to customize."""
    root = builtin_templates()
    names = template_names(root)
    targets = tuple(Path(dest, *name.split("/")) for name in names)
    existing = [str(target) for target in targets if target.exists()]
    if existing and not overwrite:
        raise TemplateError(
            f"refusing to overwrite existing templates: {', '.join(existing)}",
            hint="pass overwrite=True to replace them",
        )
    for name, target in zip(names, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(template_file(root, name).read_bytes())
    return targets


class ConfinedFileSystemLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that follows no symlink out of its folder.

    jinja's loader refuses '..' in names but opens whatever a symlink points at; a link
    leak.tex.j2 -> /etc/passwd would put that file into the .tex. Every file found is resolved
    and must lie inside the resolved folder.
    """

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if filename is not None:
            real = Path(filename).resolve()
            roots = [Path(folder).resolve() for folder in self.searchpath]
            if not any(real.is_relative_to(root) for root in roots):
                raise TemplateFolderError(
                    f"template {template!r} is a symlink to {real}, outside the template"
                    f" folder {', '.join(map(str, self.searchpath))}",
                    hint="copy the file into the template folder instead of linking to it",
                )
        return source, filename, uptodate


class TraversableLoader(jinja2.BaseLoader):
    """Loads templates from a package-data folder, wherever importlib.resources finds it."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        node = template_file(self.root, template)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), str(node), lambda: True

    def list_templates(self) -> list[str]:
        return list(template_names(self.root))
