"""Search-engine markup: JSON-LD objects, safely embedded, and plain-text summaries."""

from __future__ import annotations

import json
import re

from markupsafe import Markup

from content.model import Entry, Product


def json_ld(data: dict) -> Markup:
    """A ``<script type="application/ld+json">`` body that cannot close its own tag."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def organization(name: str, base_url: str, logo: str | None) -> dict:
    data = {"@context": "https://schema.org", "@type": "Organization", "name": name, "url": base_url + "/"}
    if logo:
        data["logo"] = base_url + logo
    return data


def breadcrumbs(base_url: str, trail: list[tuple[str, str]]) -> dict:
    return {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
        {"@type": "ListItem", "position": i + 1, "name": name, "item": base_url + url}
        for i, (name, url) in enumerate(trail)]}


def product(p: Product, base_url: str, url: str, description: str, image: str | None) -> dict:
    # Pages are static and stock is live (it changes at every sale, between publishes), so a tracked
    # sku's availability is left out rather than stated wrongly; the page's script shows sold out.
    # A sku whose stock is not tracked never sells out, so InStock is always true for it.
    offers = [{
        "@type": "Offer", "sku": v.sku, "price": v.price.decimal(), "priceCurrency": v.price.currency,
        "url": base_url + url, **({} if v.track_stock else {"availability": "https://schema.org/InStock"}),
    } for v in p.variants]
    data = {"@context": "https://schema.org", "@type": "Product", "name": p.name,
            "description": description, "url": base_url + url,
            "offers": offers[0] if len(offers) == 1 else offers}
    if p.sku:
        data["sku"] = p.sku
    if image:
        data["image"] = base_url + image
    return data


def article(e: Entry, base_url: str, url: str, image: str | None, author: str | None = None) -> dict:
    data = {"@context": "https://schema.org", "@type": "BlogPosting", "headline": e.title,
            "url": base_url + url}
    if e.published_at:
        data["datePublished"] = e.published_at.isoformat()
    if e.updated_at:
        data["dateModified"] = e.updated_at
    if author or e.created_by:
        data["author"] = {"@type": "Person", "name": author or e.created_by}
    if image:
        data["image"] = base_url + image
    return data


_MD_SYNTAX = re.compile(r"!\[[^\]]*\]\([^)]*\)|<[^>]+>|[*_`>#|~]|\[\^[^\]]*\]")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def summary(text: str, body: str, limit: int = 160) -> str:
    """The given summary, or the first paragraph of the body as plain text, cut at a word."""
    if text:
        return text
    for block in body.split("\n\n"):
        block = block.strip()
        if block and not block.startswith(("#", "|", "```", "- ", "1.", "<", "!")):
            plain = _MD_SYNTAX.sub("", _LINK.sub(r"\1", block))
            plain = " ".join(plain.split())
            if len(plain) <= limit:
                return plain
            return plain[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"
    return ""
