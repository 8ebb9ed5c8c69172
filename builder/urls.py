"""Where each kind of output lives. Pretty URLs: every page is a folder with an index.html."""

from __future__ import annotations

import functools
import re
import unicodedata
from types import SimpleNamespace

RESERVED_PAGE_SLUGS = frozenset({"blog", "products", "cart", "checkout", "order", "assets", "media",
                                 "api", "admin", "tags", "feed", "sitemap", "404", "search"})
HOME_SLUGS = frozenset({"index", "home"})


@functools.lru_cache(maxsize=65536)
def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


def home() -> str:
    return "/"


def page(slug: str) -> str:
    return "/" if slug in HOME_SLUGS else f"/{slug}/"


def post(slug: str) -> str:
    return f"/blog/{slug}/"


def blog(number: int = 1) -> str:
    return "/blog/" if number == 1 else f"/blog/page/{number}/"


def tag(name: str, number: int = 1) -> str:
    base = f"/blog/tags/{slugify(name)}/"
    return base if number == 1 else f"{base}page/{number}/"


def products() -> str:
    return "/products/"


def category(name: str) -> str:
    return f"/products/category/{slugify(name)}/"


def product(slug: str) -> str:
    return f"/products/{slug}/"


FEED = "/blog/feed.xml"
CART = "/cart/"
CHECKOUT = "/checkout/"
ORDER = "/order/"
SEARCH = "/search/"


def file_for(url: str) -> str:
    """The output file of a URL: ``/about/`` → ``about/index.html``."""
    if url.endswith("/"):
        return url.lstrip("/") + "index.html"
    return url.lstrip("/")


def for_templates() -> SimpleNamespace:
    """What templates see as ``urls``: the URL builders and constants, not this module (whose
    imports, ``re`` among them, a template has no business calling) nor ``slugify``'s cache."""
    return SimpleNamespace(home=home, page=page, post=post, blog=blog, tag=tag, products=products,
                           category=category, product=product, slugify=lambda text: slugify(text),
                           FEED=FEED, CART=CART, CHECKOUT=CHECKOUT, ORDER=ORDER, SEARCH=SEARCH)
