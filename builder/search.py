"""The site's search index, ``search.json``: what the edge answers ``/search/?q=`` from, and what the
search script reads on a site behind a CDN.

Only what is already public on the pages: titles, excerpts, tags and categories, URLs and the
first picture. Bodies are left out, so that a big site's build does not read every body for it
(the parse cache loads a body only when a page renders it).
"""

from __future__ import annotations

import orjson

from content.model import Entry, Product

from . import urls
from .images import ImageInfo


def index(products: list[Product], posts: list[Entry], images: dict[str, ImageInfo]) -> bytes:
    items = []
    for product in products:
        info = images.get(product.images[0].removeprefix("media/")) if product.images else None
        prices = [v.price for v in product.variants]
        low = min(prices, key=lambda m: m.amount) if prices else None
        items.append({"kind": "product", "title": product.name, "url": urls.product(product.slug),
                      "text": product.meta_description or product.excerpt,
                      "terms": " ".join(product.categories),
                      "price": ("from " if len({p.amount for p in prices}) > 1 else "") + _money(low) if low else "",
                      "image": info.src(480) if info else ""})
    for post in posts:
        info = images.get(post.image.removeprefix("media/")) if post.image else None
        items.append({"kind": "post", "title": post.title, "url": urls.post(post.slug),
                      "text": post.meta_description or post.excerpt, "terms": " ".join(post.tags),
                      "date": post.published_at.date().isoformat() if post.published_at else "",
                      "image": info.src(480) if info else ""})
    return orjson.dumps({"items": items}, option=orjson.OPT_APPEND_NEWLINE)


def _money(value) -> str:
    from content.money import display

    return display(value)
