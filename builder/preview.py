"""One page rendered exactly as a build would render it, for the admin's live preview.

The entry is shown even while it is a draft or scheduled; the stylesheet and the entry's own
images are inlined as data URLs (the theme settings being edited and a photo just uploaded may not
be published yet); other images use the published derivatives.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime, timezone
from pathlib import Path

from content.errors import ContentErrors
from content.parse import parse_site
from content.source import Source

from .build import BuildConfig, _media
from .errors import BuildErrors
from .plan import make_plan
from .render import Renderer, Settings
from .theme import css_variables, load_theme, stylesheet


# Images already processed in this process, by (cache, name, fingerprint): a preview per keystroke must
# not read and hash every image of the library again.
_PROCESSED: dict = {}


class PreviewError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def preview_html(source: Source, path: str, *, themes_dir: Path, cache_dir: Path, shop: bool,
                 base_url: str = "", parse_cache: dict | None = None, image_cache: Path | None = None) -> bytes:
    """``image_cache``: the installation's shared image derivatives (as builds use), else the tenant's own."""
    try:
        content = parse_site(source, cache=parse_cache)
    except ContentErrors as exc:
        raise PreviewError([str(e) for e in exc.errors]) from None
    content = _visible(content, path)
    errors: list = []
    theme = load_theme(themes_dir, content.site.theme, source)
    css = stylesheet(theme, source)
    config = BuildConfig(source=source, out_dir=cache_dir / "preview", themes_dir=themes_dir, cache_dir=cache_dir / "build",
                         image_cache=image_cache)
    static: dict = {}
    if len(_PROCESSED) > 10_000:
        _PROCESSED.clear()
    images = _media(content, config, static, errors, memo=_PROCESSED)
    images.update(_inlined(content, path, images, static))
    plan = make_plan(content, now=datetime.now(timezone.utc), shop=shop)
    css_vars = css_variables(content.site, errors)
    if errors or plan.errors:
        raise PreviewError([str(e) for e in (*errors, *plan.errors)])
    job = next((j for j in plan.jobs if j.inputs and getattr(j.inputs[0], "path", None) == path), None)
    if job is None:
        raise PreviewError([f"{path} does not make a page of its own (is it an unpublished product on a site "
                            "without the shop?)"])
    css_url = "data:text/css;base64," + base64.b64encode(css).decode()
    settings = Settings(base_url, shop, "/api", css_url, css_vars, {}, None, themes_dir)
    try:
        html, _ = Renderer(content, theme.env, plan, images, settings).render(job)
    except BuildErrors as exc:
        raise PreviewError([str(e) for e in exc.errors]) from None
    return html


def _inlined(content, path: str, images: dict, static: dict) -> dict:
    """The previewed item's images as data URLs: one WebP of at most 960 pixels each."""
    item = next((i for i in (*content.pages, *content.posts, *content.products) if i.path == path), None)
    if item is None:
        return {}
    names = {n.removeprefix("media/") for n in getattr(item, "images", ()) or ()}
    if getattr(item, "image", None):
        names.add(item.image.removeprefix("media/"))
    names |= {name for name in images if f"media/{name}" in item.body}
    inlined = {}
    for name in names & set(images):
        info = images[name]
        webp = [v for v in info.variants if v.format == "webp" and v.width <= 960] or \
            [min((v for v in info.variants if v.format == "webp"), key=lambda v: v.width, default=None)]
        chosen = webp[-1]
        cached = static.get(chosen.url.lstrip("/")) if chosen else None
        if cached is None:
            continue
        data = cached.read_bytes() if isinstance(cached, Path) else cached
        url = "data:image/webp;base64," + base64.b64encode(data).decode()
        inlined[name] = dataclasses.replace(info, variants=(dataclasses.replace(chosen, url=url),))
    return inlined


def _visible(content, path: str):
    """The content with the previewed entry live now, whatever its status or date."""
    def show(items, **live):
        return tuple(dataclasses.replace(i, **live) if i.path == path else i for i in items)

    return dataclasses.replace(content, pages=show(content.pages, status="published", published_at=None),
                               posts=show(content.posts, status="published", published_at=None),
                               products=show(content.products, status="active"))
