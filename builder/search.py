"""The site's search index, ``search.json``: what the edge answers ``/search/?q=`` from, and what the
search script reads on a site behind a CDN.

Only what is already public on the pages: titles, excerpts, tags and categories, URLs and the
first picture. Bodies are left out, so that a big site's build does not read every body for it
(the parse cache loads a body only when a page renders it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from content.model import Entry, Product

from . import urls

if TYPE_CHECKING:  # Pillow loads only when a site has images
    from .images import ImageInfo


def index(products: list[Product], posts: list[Entry], images: dict[str, ImageInfo],
          memo: dict[int, tuple] | None = None) -> bytes:
    """``memo`` (a long-lived builder's): each entry's item by the entry's identity, with the
    entry and its picture's info, so an unchanged entry's item is not worked out again."""
    items = []
    kept: dict[int, tuple] = {}
    for entry in (*products, *posts):
        image = entry.images[0] if type(entry) is Product and entry.images else getattr(entry, "image", None)
        info = images.get(image.removeprefix("media/")) if image else None
        known = memo.get(id(entry)) if memo is not None else None
        if known is not None and known[0] is entry and known[1] is info:
            item = known[2]
        else:
            item = _product(entry, info) if type(entry) is Product else _post(entry, info)
        kept[id(entry)] = (entry, info, item)
        items.append(item)
    if memo is not None:  # only this build's entries: the rest may be freed and their ids reused
        memo.clear()
        memo.update(kept)
    return orjson.dumps({"items": items}, option=orjson.OPT_APPEND_NEWLINE)


def _product(product: Product, info: ImageInfo | None) -> dict:
    prices = [v.price for v in product.variants]
    low = min(prices, key=lambda m: m.amount) if prices else None
    return {"kind": "product", "title": product.name, "url": urls.product(product.slug),
            "text": product.meta_description or product.excerpt, "terms": " ".join(product.categories),
            "price": ("from " if len({p.amount for p in prices}) > 1 else "") + _money(low) if low else "",
            "image": info.src(480) if info else ""}


def _post(post: Entry, info: ImageInfo | None) -> dict:
    return {"kind": "post", "title": post.title, "url": urls.post(post.slug),
            "text": post.meta_description or post.excerpt, "terms": " ".join(post.tags),
            "date": post.published_at.date().isoformat() if post.published_at else "",
            "image": info.src(480) if info else ""}


def _money(value) -> str:
    from content.money import display

    return display(value)
