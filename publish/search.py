"""The edge's answer to ``/search/?q=``: the built search page with its results filled in from the
build's ``search.json``, so search works without JavaScript on sites the edge serves.

Everything from the index and the query is escaped: tenants' people write the titles and texts,
and anyone writes the query. Behind a CDN the same page runs ``search.js`` instead.
"""

from __future__ import annotations

import html
import json

MARK = b"<!--tessera:search-results-->"
MAX_QUERY = 100
MAX_RESULTS = 50


class Index:
    """A build's ``search.json`` read once: its items with their searched text lower-cased, so a
    query costs one pass over the items and nothing else."""

    def __init__(self, raw: bytes | None) -> None:
        try:
            items = json.loads(raw or b"{}").get("items") or []
        except (ValueError, AttributeError):
            items = []
        self.items = [i for i in items if isinstance(i, dict)]
        self.titles = [str(i.get("title", "")).lower() for i in self.items]
        self.texts = [f"{i.get('title', '')} {i.get('text', '')} {i.get('terms', '')}".lower() for i in self.items]


def matches(index: Index, query: str) -> list[dict]:
    """Items holding every word of ``query`` (any case), those with a word in the title first."""
    terms = list(dict.fromkeys(query.lower().split()))
    if not terms:
        return []
    found = [n for n, text in enumerate(index.texts) if all(t in text for t in terms)]
    found.sort(key=lambda n: not any(t in index.titles[n] for t in terms))
    return [index.items[n] for n in found[:MAX_RESULTS]]


def _item(item: dict) -> str:
    e = html.escape
    meta = f"Shop · {item.get('price', '')}" if item.get("kind") == "product" else \
        "Journal" + (f" · {item['date']}" if item.get("date") else "")
    image = (f'<img src="{e(item["image"])}" alt="" width="96" height="72" loading="lazy">'
             if str(item.get("image", "")).startswith("/") else "")
    url = item.get("url", "/")
    url = url if isinstance(url, str) and url.startswith("/") and not url.startswith("//") else "/"
    text = f"<p>{e(item['text'])}</p>" if item.get("text") else ""
    return (f'<li>{image}<div><h2><a href="{e(url)}">{e(item.get("title", ""))}</a></h2>'
            f'<p class="meta">{e(meta)}</p>{text}</div></li>')


def answer(page: bytes, index: Index, query: str) -> bytes:
    """``page`` (the built search page) with the results for ``query`` where its marker is."""
    query = " ".join(query.split())[:MAX_QUERY]
    if MARK not in page or not query:
        return page
    hits = matches(index, query)
    shown = html.escape(query)
    head = (f"<p>{len(hits)} result{'s' if len(hits) != 1 else ''} for “{shown}”</p>" if hits
            else f"<p>Nothing found for “{shown}”.</p>")
    body = head + ("<ol>" + "".join(_item(i) for i in hits) + "</ol>" if hits else "")
    page = page.replace(MARK, body.encode(), 1)
    page = page.replace(b'value="" data-search-query', f'value="{html.escape(query)}" data-search-query'.encode(), 1)
    return page.replace(b"data-search-results ", b"data-search-results data-searched ", 1)
