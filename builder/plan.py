"""What a build writes: one job per output file, each with the inputs that decide its bytes.

A job's inputs are plain frozen values (entries, products, numbers), so hashing their ``repr``
gives a fingerprint that changes exactly when the output could.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from content import shipping as shipping_rules
from content import tax as tax_rules
from content.errors import ContentError
from content.model import Content, Entry, Product

from . import delivery, seo, urls

FEED_SIZE = 20


class Job:
    """One output file: its URL, the template that renders it, and the inputs it depends on.

    A plain slotted class rather than a dataclass: a 10,000-page plan makes tens of thousands.
    """

    __slots__ = ("url", "template", "kind", "inputs", "file")

    def __init__(self, url: str, template: str, kind: str, inputs: tuple) -> None:
        self.url, self.template, self.kind, self.inputs = url, template, kind, inputs
        self.file = url[1:] + "index.html" if url.endswith("/") else url[1:]

    def __repr__(self) -> str:
        return f"Job({self.url!r}, {self.template!r})"


@dataclass(frozen=True)
class Plan:
    jobs: tuple[Job, ...]
    live: frozenset[tuple[str, str]]  # (kind, slug) that links may point at
    redirects: tuple[tuple[str, str, int], ...]  # (from, to, status)
    catalog: dict
    catalog_version: str
    next_scheduled: datetime | None
    errors: tuple[ContentError, ...]


def make_plan(content: Content, *, now: datetime, shop: bool,
              renamed: dict[str, list[str]] | None = None) -> Plan:
    errors: list[ContentError] = []
    pages = [p for p in content.pages if p.is_live(now)]
    posts = [p for p in content.posts if p.is_live(now)]
    products = [p for p in content.products if p.status == "active"] if shop else []
    for page in pages:
        if page.slug in urls.RESERVED_PAGE_SLUGS:
            errors.append(ContentError(page.path, None, f"{page.slug!r} is used by the site itself; pick another slug",
                                       "slug"))
    scheduled = [e.published_at for e in (*content.pages, *content.posts)
                 if e.status == "published" and e.published_at and e.published_at > now]

    catalog, version = catalog_snapshot(content, products)
    home_entry = next((p for p in pages if p.slug in urls.HOME_SLUGS), None)
    # Outside the version, which keys the shop's pages: a changed form must not re-render the shop.
    catalog["forms"] = live_forms(pages, posts, home_entry)
    # Whether pages report their own views (behind a CDN): the API accepts their beacons only then.
    catalog["analytics"] = {"beacon": content.site.analytics_beacon}
    jobs = [Job("/", "home.html", "home", (home_entry, _featured(products), tuple(posts[:3]), version if shop else "",
                                           _collections(products)))]
    jobs += [Job(urls.page(p.slug), "page.html", "page", (p,)) for p in pages if p is not home_entry]
    jobs += _blog_jobs(posts, content.site.posts_per_page)
    jobs += [Job(urls.post(p.slug), "post.html", "post", (p,)) for p in posts]
    jobs += _tag_jobs(posts, content.site.posts_per_page)
    if posts:
        jobs.append(Job(urls.FEED, "feed.xml", "feed", (tuple(posts[:FEED_SIZE]),)))
    if shop:
        jobs += _shop_jobs(products, version, catalog)
    jobs.append(Job(urls.SEARCH, "search.html", "search", ()))
    jobs.append(Job("/404.html", "404.html", "404", ()))
    redirects = _redirects(content, pages, posts, products, renamed or {}, {j.url for j in jobs})
    jobs += [Job(source, "redirect.html", "redirect", (target,)) for source, target, _ in redirects
             if source.endswith("/")]
    jobs.append(Job("/sitemap.xml", "sitemap.xml", "sitemap", (_sitemap(jobs),)))
    jobs.append(Job("/robots.txt", "robots.txt", "robots", ()))
    live = frozenset({("page", p.slug) for p in pages} | {("post", p.slug) for p in posts}
                     | {("product", p.slug) for p in products}
                     | {("tag", urls.slugify(t)) for p in posts for t in p.tags}
                     | {("category", urls.slugify(c)) for p in products for c in p.categories})
    return Plan(tuple(jobs), live, tuple(redirects), catalog, version, min(scheduled, default=None), tuple(errors))


def _blog_jobs(posts: list[Entry], per_page: int) -> list[Job]:
    chunks = [posts[i:i + per_page] for i in range(0, len(posts), per_page)] or [[]]
    return [Job(urls.blog(n), "blog.html", "blog", (n, len(chunks), tuple(chunk)))
            for n, chunk in enumerate(chunks, start=1)]


def _tag_jobs(posts: list[Entry], per_page: int) -> list[Job]:
    tags: dict[str, tuple[str, list[Entry]]] = {}
    for post in posts:
        for tag in post.tags:
            tags.setdefault(urls.slugify(tag), (tag, []))[1].append(post)
    jobs = []
    for _, (name, items) in sorted(tags.items()):
        chunks = [items[i:i + per_page] for i in range(0, len(items), per_page)]
        jobs += [Job(urls.tag(name, n), "tag.html", "tag", (name, n, len(chunks), tuple(chunk)))
                 for n, chunk in enumerate(chunks, start=1)]
    return jobs


def _featured(products: list[Product]) -> tuple[Product, ...]:
    """Up to eight products for the home page, featured ones first, topped up with the rest to a
    multiple of four (rows of two on a phone, of four on a wide screen: no row left half empty)."""
    chosen = [p for p in products if p.featured][:8]
    rest = [p for p in products if p not in chosen]
    want = min(8, max(4, -(-len(chosen) // 4) * 4))
    if len(products) < want:  # a small shop shows what it has
        want = len(products) if len(products) < 4 else len(products) // 4 * 4
    return tuple(chosen + rest)[:want]


def _collections(products: list[Product]) -> tuple[tuple[str, str, str], ...]:
    """Each category with a picture, ``(name, url, image)``: the first picture of its products that
    no collection before it shows already (else its first), so the row does not repeat itself."""
    members: dict[str, tuple[str, list[Product]]] = {}
    for product in products:
        for name in product.categories:
            members.setdefault(urls.slugify(name), (name, []))[1].append(product)
    used: set[str] = set()
    found = []
    for key in sorted(members):
        name, items = members[key]
        pictures = [i for p in items for i in p.images]
        image = next((i for i in pictures if i not in used), pictures[0] if pictures else "")
        used.add(image)
        found.append((name, urls.category(name), image))
    return tuple(found)


def _related(product: Product, products: list[Product], limit: int = 4) -> tuple[Product, ...]:
    """Products sharing a category with this one (most shared first), then others, ``limit`` at most."""
    mine = set(product.categories)
    others = [p for p in products if p is not product]
    others.sort(key=lambda p: -len(mine & set(p.categories)))
    return tuple(others[:limit])


def _shipping_of(catalog: dict) -> dict:
    return catalog.get("shipping") or {}


def _shop_jobs(products: list[Product], version: str, catalog: dict) -> list[Job]:
    categories: dict[str, tuple[str, list[Product]]] = {}
    for product in products:
        for category in product.categories:
            categories.setdefault(urls.slugify(category), (category, []))[1].append(product)
    names = tuple(name for _, (name, _) in sorted(categories.items()))
    jobs = [Job(urls.products(), "products.html", "products", (None, tuple(products), names, version))]
    jobs += [Job(urls.category(name), "products.html", "category", (name, tuple(items), names, version))
             for _, (name, items) in sorted(categories.items())]
    shipping = _shipping_of(catalog)
    jobs += [Job(urls.product(p.slug), "product.html", "product",
                 (p, version, _related(p, products), delivery.options(shipping, p, catalog["currency"])))
             for p in products]
    jobs += [Job(url, f"{name}.html", name, (version,))
             for url, name in ((urls.CART, "cart"), (urls.CHECKOUT, "checkout"), (urls.ORDER, "order"))]
    return jobs


def live_forms(pages: list[Entry], posts: list[Entry], home: Entry | None) -> dict:
    """Each live form, for the API: the fields it accepts and the page that shows it."""
    forms = {}
    for entry in (*pages, *posts):
        if entry.form is None:
            continue
        page = "/" if entry is home else urls.page(entry.slug) if entry.kind == "page" else urls.post(entry.slug)
        form = entry.form
        forms[form.name] = {"title": form.title, "page": page, "success": form.success,
                            "fields": [{"name": f.name, "label": f.label, "type": f.type, "required": f.required,
                                        "options": list(f.options)} for f in form.fields]}
    return forms


def catalog_snapshot(content: Content, products: list[Product]) -> tuple[dict, str]:
    """Every active product and variant, for the commerce API, and a version hash of it."""
    items = []
    for p in products:
        items.append({
            "slug": p.slug, "name": p.name, "url": urls.product(p.slug),
            "image": f"/media/{p.images[0].removeprefix('media/')}" if p.images else None,
            "categories": list(p.categories), "featured": p.featured,
            "description": seo.summary(p.excerpt, p.body, 300),
            "variants": [{"sku": v.sku, "title": v.title, "options": dict(v.options),
                          "price": v.price.amount, "compare_price": v.compare_price.amount if v.compare_price else None,
                          "currency": v.price.currency, "track_stock": v.track_stock, "weight": v.weight,
                          "tax_category": v.tax_category}
                         for v in p.variants],
            # Only on gift cards, so that other shops' snapshots (and versions) stay as they were.
            **({"gift_card": {"valid_months": p.gift_card_months}} if p.gift_card else {}),
        })
    site = content.site
    body = {
        "currency": site.currency, "products": items,
        "shipping": _shipping(content),
        "tax": tax_rules.snapshot(site.tax),
        "payment_instructions": site.payment_instructions,
        "email": site.email, "low_stock_threshold": site.low_stock_threshold, "timezone": site.timezone,
    }
    version = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": version, **body}, version


def _shipping(content: Content) -> dict:
    """shipping.yaml normalised, else the legacy object (the commerce API converts it, as it does for
    catalogs published before shipping.yaml existed)."""
    if content.shipping is not None:
        return shipping_rules.snapshot(content.shipping)
    legacy = content.site.shipping
    return {"flat_rate": legacy.flat_rate.amount if legacy else 0,
            "free_over": legacy.free_over.amount if legacy and legacy.free_over else None,
            "countries": list(legacy.countries) if legacy else []}


def _redirects(content: Content, pages, posts, products, renamed: dict[str, list[str]],
               taken: set[str]) -> list[tuple[str, str, int]]:
    result: dict[str, tuple[str, int]] = {}
    for r in content.site.redirects:
        result[r.source] = (r.target, r.status)
    for kind, items, make in (("page", pages, urls.page), ("post", posts, urls.post),
                              ("product", products, urls.product)):
        for item in items:
            target = make(item.slug)
            olds = list(item.aliases) + [make(s) for s in renamed.get(item.path, [])]
            for old in olds:
                old = old if old.endswith("/") or "." in old.rsplit("/", 1)[-1] else old + "/"
                if old != target and old not in taken:  # live content always wins over a redirect
                    result.setdefault(old, (target, 301))
    return sorted((source, target, status) for source, (target, status) in result.items())


_LISTED = frozenset({"home", "blog", "tag", "products", "category"})  # in the sitemap, without a date
_DATED = frozenset({"page", "post", "product"})  # in the sitemap, dated by their item


def _sitemap(jobs: list[Job]) -> tuple[tuple[str, str], ...]:
    # One pass over every job of the site, at every build: kept to plain lookups.
    entries = []
    for job in jobs:
        kind = job.kind
        if kind in _DATED:
            item = job.inputs[0]
            stamp = item.updated_at
            if not stamp:
                published = getattr(item, "published_at", None)  # products have none
                stamp = published.isoformat() if published else ""
            entries.append((job.url, stamp[:10]))
        elif kind in _LISTED:
            entries.append((job.url, ""))
    return tuple(entries)
