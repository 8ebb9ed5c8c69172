"""Markdown to safe HTML: CommonMark plus tables, strikethrough, footnotes and heading anchors.

Raw HTML is allowed in the source but goes through an allow-list sanitiser (nh3): scripts, event
handlers and ``javascript:`` URLs never reach a page. Links such as ``page:about`` or
``product:rye-loaf`` and images in ``media/`` become placeholders that ``resolve`` fills in after
sanitising, so the expensive part (``render``) depends on the text alone and can be cached.

A paragraph that is only ``{{< form >}}`` marks where the page's form goes: it becomes ``FORM_MARK``
after sanitising (a comment, which nothing written in Markdown can produce, since the sanitiser
removes comments), and the renderer puts the theme's form partial there.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Callable

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin

from .errors import ContentError

VERSION = "md-2"  # bump when the renderer's output changes, to invalidate caches
REF_KINDS = ("page", "post", "product", "category", "tag")
_REF = re.compile(r"^(page|post|product|category|tag):([A-Za-z0-9._-]*)(#[^\s]*)?$")
_HREF = re.compile(r'href="tessera:([a-z]+):([^"#]*)(#[^"]*)?"')
_IMG = re.compile(r'<img src="tessera-media:([^"]+)"([^>]*)>')
_ATTR = re.compile(r'\s(alt|title)="([^"]*)"')
SHORTCODE = re.compile(r"^\{\{<\s*form\s*>\}\}$")
FORM_MARK = "<!--tessera:form-->"

_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {"section"}
_ALLOWED_ATTRS = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title", "id", "class"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"style", "colspan", "rowspan", "scope"},
    "td": {"style", "colspan", "rowspan"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
    "sup": {"class"}, "section": {"class"}, "ol": {"class", "start"}, "li": {"id", "class"},
    "hr": {"class"},
}
_SCHEMES = {"http", "https", "mailto", "tel", "tessera", "tessera-media"}


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True})
    md.enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    md.use(anchors_plugin, min_level=2, max_level=4)
    return md


_MD = _parser()


@dataclass(frozen=True)
class Rendered:
    """Sanitised HTML with placeholders, and the references it makes (with source lines)."""

    html: str
    refs: tuple[tuple[str, str, int], ...]  # (kind, slug, line)
    media: tuple[tuple[str, int], ...]  # (name in media/, line)
    forms: tuple[int, ...] = ()  # lines of {{< form >}} shortcodes, each now FORM_MARK in ``html``


def cache_key(body: str) -> str:
    return hashlib.blake2b(f"{VERSION}\0{body}".encode(), digest_size=16).hexdigest()


def render(body: str, body_line: int = 1) -> Rendered:
    tokens = _MD.parse(body)
    refs: list[tuple[str, str, int]] = []
    media: list[tuple[str, int]] = []
    forms: list[int] = []
    # A marker no one can have written (new each render), swapped for FORM_MARK once sanitised.
    nonce = "tessera-form-" + secrets.token_hex(16)
    line = body_line
    for n, token in enumerate(tokens):
        if token.map:
            line = body_line + token.map[0]
        if (token.type == "inline" and n and tokens[n - 1].type == "paragraph_open" and tokens[n - 1].level == 0
                and SHORTCODE.match(token.content.strip())):
            forms.append(line)
            token.children = [_text(nonce)]
            continue
        for child in token.children or ():
            if child.type == "link_open":
                href = str(child.attrGet("href") or "")
                match = _REF.match(href)
                if match:
                    refs.append((match.group(1), match.group(2), line))
                    child.attrSet("href", f"tessera:{href}")
            elif child.type == "image":
                src = str(child.attrGet("src") or "")
                if src.startswith("media/"):
                    media.append((src[6:], line))
                    child.attrSet("src", f"tessera-media:{src[6:]}")
    html = _MD.renderer.render(tokens, _MD.options, {})
    clean = nh3.clean(html, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRS, url_schemes=_SCHEMES,
                      link_rel=None, filter_style_properties={"text-align"})
    if forms:
        clean = clean.replace(f"<p>{nonce}</p>", FORM_MARK)
    return Rendered(clean, tuple(refs), tuple(media), tuple(forms))


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def resolve(rendered: Rendered, path: str, link: Callable[[str, str], str | None],
            image: Callable[[str, str, str], str | None]) -> tuple[str, list[ContentError]]:
    """Fill in links and images; a reference to something missing is an error naming the line."""
    errors = []
    for kind, slug, line in rendered.refs:
        if link(kind, slug) is None:
            errors.append(ContentError(path, line, f"links to {kind}:{slug}, which does not exist or is not published"))
    for name, line in rendered.media:
        if image(name, "", "") is None:
            errors.append(ContentError(path, line, f"shows media/{name}, which is not in media/"))

    def sub_link(m: re.Match) -> str:
        url = link(m.group(1), m.group(2)) or "#"
        return f'href="{url}{m.group(3) or ""}"'

    def sub_img(m: re.Match) -> str:
        attrs = dict(_ATTR.findall(m.group(2)))
        return image(m.group(1), attrs.get("alt", ""), attrs.get("title", "")) or ""

    html = _HREF.sub(sub_link, rendered.html)
    html = _IMG.sub(sub_img, html)
    return html, errors
