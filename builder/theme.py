"""Themes: the template loader chain, theme settings as CSS custom properties, bundled assets.

Templates resolve tenant overrides (``theme/templates/`` in the site) → the theme → ``base``.
``{% extends "theme:post.html" %}`` reaches the theme's version from an override, and
``"base:post.html"`` the base's from a theme, so each layer can extend the one below it.

Templates render in Jinja2's immutable sandbox. A site's own templates are written by its owners and
admins, who are trusted with their site but not with the server: unsandboxed, ``{{ cycler.__init__
.__globals__.os }}`` would run any Python in the builder, the admin's preview and the git hook, with
the platform's secret key and every tenant's files in reach. The sandbox refuses attributes that start
with an underscore and functions' internals, and (immutable) any method that changes a list, dict or
set: the globals are shared by every page of a build and must read the same on each.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from content.errors import ContentError
from content.model import Site
from content.source import Source

from .errors import ThemeNotFound

FONT_STACKS = {
    "system": 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    "serif": 'Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif',
    "mono": 'ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, monospace',
    "humanist": 'Seravek, "Gill Sans Nova", Ubuntu, Calibri, "DejaVu Sans", source-sans-pro, sans-serif',
}
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-z]{3,20})$")
_FAMILY = re.compile(r"^[A-Za-z0-9 \-]{1,40}$")
_COLOR_NAMES = ("primary", "accent", "background", "text", "muted", "surface")


class _SourceLoader(jinja2.BaseLoader):
    """Templates from the site's own ``theme/templates/`` folder (a commit or a directory)."""

    def __init__(self, source: Source, prefix: str = "theme/templates/") -> None:
        # Read now: rendering may happen in forked workers that must not share the source's pipe.
        self.templates = {p[len(prefix):]: (p, source.read(p).decode("utf-8", errors="replace"))
                          for p in source.paths() if p.startswith(prefix)}

    def get_source(self, environment, template):
        if template not in self.templates:
            raise jinja2.TemplateNotFound(template)
        path, text = self.templates[template]
        return text, path, lambda: True

    def list_templates(self):
        return sorted(self.templates)


@dataclass
class Theme:
    name: str
    folders: list[Path]  # the theme first, then base
    env: jinja2.Environment
    digest: str  # changes whenever any template that could be used changes


def load_theme(themes_dir: Path, name: str, source: Source, bytecode_dir: Path | None = None) -> Theme:
    """The theme ``name`` with the site's overrides. With ``bytecode_dir`` (one output folder's, so
    one site's: a site's own templates are named alike in every site), compiled templates are kept
    there and compiled again only when their text changes (Jinja checks each one's checksum)."""
    folder = themes_dir / name
    if not (folder / "templates").is_dir() or name == "base":
        available = sorted(p.name for p in themes_dir.iterdir() if (p / "templates").is_dir() and p.name != "base")
        raise ThemeNotFound(f"site.yaml names the theme {name!r}, which is not installed; "
                            f"choose one of: {', '.join(available)}")
    base = themes_dir / "base"
    theme_loader = jinja2.FileSystemLoader(str(folder / "templates"))
    base_loader = jinja2.FileSystemLoader(str(base / "templates"))
    site_loader = _SourceLoader(source)
    loader = jinja2.ChoiceLoader([
        jinja2.PrefixLoader({"theme": jinja2.ChoiceLoader([theme_loader, base_loader]), "base": base_loader},
                            delimiter=":"),
        site_loader, theme_loader, base_loader,
    ])
    env = ImmutableSandboxedEnvironment(
        loader=loader, undefined=jinja2.StrictUndefined, autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "xml", "j2"), default_for_string=True),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, auto_reload=False,
        bytecode_cache=_bytecode_cache(bytecode_dir),
    )
    digest = hashlib.blake2b(digest_size=16)
    for root in (folder, base):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for path in source.paths():
        if path.startswith("theme/"):
            digest.update(path.encode() + b"\0" + source.read(path))
    return Theme(name, [folder, base], env, digest.hexdigest())


def _bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return jinja2.FileSystemBytecodeCache(str(folder))


def css_variables(site: Site, errors: list[ContentError]) -> str:
    """``:root{--color-primary:…}`` from theme settings; anything not a colour or font is refused."""
    settings = site.theme_settings or {}
    lines = []
    colors = settings.get("colors") or {}
    if not isinstance(colors, dict):
        errors.append(ContentError("site.yaml", None, "must be a mapping of colour names", "theme_settings.colors"))
        colors = {}
    for key, value in colors.items():
        if key not in _COLOR_NAMES:
            errors.append(ContentError("site.yaml", None, f"unknown colour {key!r}; use {', '.join(_COLOR_NAMES)}",
                                       "theme_settings.colors"))
        elif not isinstance(value, str) or not _COLOR.match(value):
            errors.append(ContentError("site.yaml", None, f"{value!r} is not a colour such as #7a3e12",
                                       f"theme_settings.colors.{key}"))
        else:
            lines.append(f"--color-{key}:{value}")
    fonts = settings.get("fonts") or {}
    for key in ("body", "heading"):
        value = fonts.get(key) if isinstance(fonts, dict) else None
        if value is None:
            continue
        if value in FONT_STACKS:
            lines.append(f"--font-{key}:{FONT_STACKS[value]}")
        elif isinstance(value, str) and _FAMILY.match(value):
            lines.append(f"--font-{key}:\"{value}\",{FONT_STACKS['system']}")
        else:
            errors.append(ContentError("site.yaml", None, f"{value!r} is not a font name", f"theme_settings.fonts.{key}"))
    return ":root{" + ";".join(lines) + "}" if lines else ""


# Stylesheets for a few pages only (linked by those templates), kept out of the site-wide one.
PAGE_STYLESHEETS = frozenset({"basket.css"})


def stylesheet(theme: Theme, source: Source) -> bytes:
    """One stylesheet: base, then the theme, then the site's own ``theme/assets/custom.css``."""
    parts = []
    for folder in reversed(theme.folders):
        for path in sorted((folder / "assets").glob("*.css")):
            if path.name not in PAGE_STYLESHEETS:
                parts.append(path.read_bytes())
    if "theme/assets/custom.css" in source.paths():
        parts.append(source.read("theme/assets/custom.css"))
    return minify_css(b"\n".join(parts))


def minify_css(css: bytes) -> bytes:
    text = css.decode()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*([{};,>])\s*", r"\1", text)
    text = re.sub(r":\s+", ":", text)  # safe: no selector uses ": " with a space
    return text.replace(";}", "}").strip().encode()


def page_stylesheet(theme: Theme, name: str) -> bytes | None:
    """A page stylesheet (``basket.css``), the theme's over the base's, minified."""
    data = script(theme, name)
    return minify_css(data) if data is not None else None


def script(theme: Theme, name: str) -> bytes | None:
    for folder in theme.folders:
        path = folder / "assets" / name
        if path.exists():
            return path.read_bytes()
    return None
