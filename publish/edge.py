"""The edge server: every tenant's live site, by ``Host``, straight from its bucket.

Pretty URLs (``/about/`` → ``about/index.html``, ``/about`` → 301 ``/about/``), the site's own 404
page, redirects from the build, GET and HEAD, ETag with 304, precompressed ``.br``/``.gz`` siblings
where present, and security headers on every response. Suspended tenants get a plain page.

Tenants' people write the pages and the media, so nothing they write may run as a script: the
Content-Security-Policy allows exactly the theme's fingerprinted scripts the build listed, never all
of the site's origin, and media is served only with an image type (with ``nosniff``).
"""

from __future__ import annotations

import gzip
import html
import json
import posixpath
import re
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from functools import partial
from typing import Callable
from urllib.parse import parse_qs, unquote

import anyio

from content.registry import Registry, Tenant, TenantCache

from .analytics import Counter
from . import search
from .compress import is_sibling
from .storage import MANIFEST, FileStorage, Storage, cache_control

# The cart script talks to the API on the same host; styles include the theme's :root variables.
# script-src is filled in per site and host (see ``content_security_policy``).
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src {scripts}; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP.format(scripts="'none'"),
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}
PLAIN = "text/html; charset=utf-8"
# Manifest entries kept in memory over all sites (about 250 bytes each, ``_compact``): a 10,000-page site
# with its compressed siblings is ~30,000; the least recently served sites' manifests go first past this.
MAX_MANIFEST_ENTRIES = 400_000
# Items of parsed search indexes kept in memory over all sites (about 1 KB each with their lower-cased
# text), the most recently searched sites' first: bounded like the manifests, by size, not by sites.
MAX_SEARCH_ITEMS = 50_000
MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_QUERY = re.compile(r"^[\x21-\x7e]{1,2000}$")  # a query string that may go back in a Location as it came
_AUTHORITY = re.compile(r"^[a-z0-9.-]+(:[0-9]{1,5})?$")


def content_security_policy(scripts: list[str], authority: str) -> str:
    """The policy with ``script-src`` listing each of the build's scripts by exact URL.

    CSP matches paths only in host sources, so each path is prefixed with the request's host (and
    port): a site answers on several hosts, and the one the browser used is the one that matches.
    Without a scheme the source matches the page's own (http, or https and its upgrade).
    """
    authority = authority.lower()
    if not scripts or not _AUTHORITY.match(authority):
        return CSP.format(scripts="'none'")
    return CSP.format(scripts=" ".join(f"{authority}{path}" for path in scripts))


def served_type(path: str, kind: str) -> str:
    """Media is served only as the image type the build decoded; anything else there (a release
    built before media was checked) is an attachment to download, never a page or a script."""
    if path.startswith("media/") and kind not in MEDIA_TYPES:
        return "application/octet-stream"
    return kind


def _page(title: str, text: str) -> bytes:
    # The title is often the tenant's name, which its people choose: escape it like any text in HTML.
    title, text = html.escape(title), html.escape(text)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<style>body{font:18px/1.5 system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;"
            "color:#222}</style></head>"
            f"<body><main><h1>{title}</h1><p>{text}</p></main></body></html>").encode()


def _compact(manifest: dict[str, list]) -> dict[str, tuple[str, str]]:
    """What the edge keeps of a release's manifest: per path, the half of the file's SHA-256 its ETag
    shows, and its media type (one string per type, shared). About 250 bytes an entry instead of the
    parsed JSON's 400: a thousand shops' manifests are ~70 MB, not ~110."""
    return {path: (entry[0][:32], sys.intern(entry[2])) for path, entry in manifest.items()}


class Edge:
    def __init__(self, registry: Callable[[], Registry], storage_for: Callable[[str], Storage],
                 base_domain: str, counter: Counter | None = None) -> None:
        self.registry = registry
        self._tenants: TenantCache | None | bool = None  # made at the first request, from the registry's file
        self.storage_for = storage_for
        self.base_domain = base_domain.lower()
        self.counter = counter  # page views, for tenants with the analytics feature (see publish.analytics)
        # Live manifests by site, least recently used first, bounded by their entries in all (memory
        # grows with what is served now, not with every site ever served).
        self._manifests: OrderedDict[str, tuple[object, dict, list, list]] = OrderedDict()
        self._entries = 0
        self._lock = threading.Lock()
        # Sites whose live pages report their own views by beacon (behind a CDN): the edge counts
        # none of their pages, so that no view counts twice.
        self._beacons: dict[str, bool] = {}
        # Parsed search indexes by site: (the live search.json's manifest entry, its Index).
        self._indexes: OrderedDict[str, tuple[object, search.Index]] = OrderedDict()
        self._index_items = 0

    def tenant_for(self, host: str) -> Tenant | None:
        """The site served at ``host``, cached until platform.db changes (``TenantCache``)."""
        if self._tenants is None:
            path = getattr(self.registry(), "path", None)  # None: a registry with no file behind it
            self._tenants = TenantCache(path) if path is not None else False
        cached = self._tenants.get if self._tenants else (lambda key, read: read())
        suffix = "." + self.base_domain
        if host.endswith(suffix) and "." not in host[: -len(suffix)]:
            slug = host[: -len(suffix)]
            return cached(("slug", slug), lambda: self.registry().find(slug))
        return cached(("domain", host), lambda: self.registry().tenant_for_domain(host))

    def _site(self, slug: str, storage: Storage) -> tuple[dict, list, list]:
        """The live manifest, redirects and scripts, re-read only when the live release changes."""
        if isinstance(storage, FileStorage):
            try:
                key: object = storage.current.resolve(strict=True)
            except FileNotFoundError:
                return {}, [], []
        else:
            key = int(time.time() // 5)  # remote buckets: look again every few seconds
        with self._lock:
            cached = self._manifests.get(slug)
            if cached and cached[0] == key:
                self._manifests.move_to_end(slug)
                return cached[1], cached[2], cached[3]
        manifest = None
        if cached and isinstance(storage, FileStorage) and isinstance(cached[0], Path):
            delta = storage.delta(key)  # type: ignore[arg-type]
            if delta is not None and delta[0] == cached[0].name:  # the release this one followed: patch it
                manifest = dict(cached[1])
                manifest.update(_compact(delta[1]))
                for rel in delta[2]:
                    manifest.pop(rel, None)
        if manifest is None:
            manifest = _compact(storage.manifest())
        raw = storage.read("_tessera/redirects.json")
        redirects = json.loads(raw) if raw else []
        raw = storage.read("_tessera/build.json")
        build = json.loads(raw) if raw else {}
        # Releases built before the build listed its scripts: the builder alone writes assets/*.js.
        scripts = build.get("scripts") if "scripts" in build else \
            sorted("/" + p for p in manifest if p.startswith("assets/") and p.endswith(".js"))
        with self._lock:
            old = self._manifests.pop(slug, None)
            self._entries += len(manifest) - (len(old[1]) if old else 0)
            self._manifests[slug] = (key, manifest, redirects, scripts)
            while self._entries > MAX_MANIFEST_ENTRIES and len(self._manifests) > 1:
                gone, dropped = self._manifests.popitem(last=False)
                self._entries -= len(dropped[1])
                self._beacons.pop(gone, None)
            self._beacons[slug] = bool(build.get("beacon"))
        return manifest, redirects, scripts

    async def __call__(self, scope, receive, send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "").split(":")[0].lower().rstrip(".")
        tenant = self.tenant_for(host)
        query = scope.get("query_string", b"").decode("latin-1")
        respond = partial(self._respond, tenant, scope["method"], scope["path"], headers, query)
        if scope["path"] == "/search/" and query:  # a pass over a site's index: off the event loop
            status, body, extra = await anyio.to_thread.run_sync(respond)
        else:
            status, body, extra = respond()
        response_headers = {**SECURITY_HEADERS, **extra}
        response_headers.setdefault("content-type", PLAIN)
        served = response_headers.pop("x-tessera-served", None)  # which file answered: never sent
        if self.counter is not None and tenant is not None and not self._beacons.get(tenant.slug):
            self.counter.offer(tenant, scope, host, headers, status, response_headers["content-type"], served)
        response_headers["content-length"] = str(len(body))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in response_headers.items()]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    def respond(self, method: str, raw_path: str, host: str, headers: dict[str, str],
                query: str = "") -> tuple[int, bytes, dict]:
        status, body, extra = self._respond(self.tenant_for(host), method, raw_path, headers, query)
        extra.pop("x-tessera-served", None)
        return status, body, extra

    def page_of(self, slug: str, raw_path: str) -> str | None:
        """The live page ``raw_path`` names at ``slug`` (``/about/index.html`` for ``/about/``), or None
        when the site has no such page: what a beacon may count."""
        path = posixpath.normpath(unquote(raw_path))
        path = "/" if path in (".", "/") else path + ("/" if raw_path.endswith("/") and path != "/" else "")
        if ".." in path.split("/") or "\x00" in path:
            return None
        rel = path.lstrip("/")
        rel = rel + "index.html" if rel == "" or rel.endswith("/") else rel
        manifest, _, _ = self._site(slug, self.storage_for(slug))
        if rel not in manifest or not rel.endswith(".html") or rel == "404.html" or rel.startswith("_tessera/"):
            return None
        return "/" + rel

    def _respond(self, tenant: Tenant | None, method: str, raw_path: str,
                 headers: dict[str, str], query: str = "") -> tuple[int, bytes, dict]:
        if tenant is None:
            return 404, _page("No site here", "There is no site at this address."), {"cache-control": "no-store"}
        if tenant.suspended:
            return 503, _page("Site unavailable", "This site is temporarily unavailable."), {"cache-control": "no-store"}
        if method not in ("GET", "HEAD"):
            return 405, _page("Not allowed", "This address only serves pages."), {"allow": "GET, HEAD"}
        storage = self.storage_for(tenant.slug)
        manifest, redirects, scripts = self._site(tenant.slug, storage)
        if not manifest:
            return 404, _page(tenant.name, "This site has not been published yet."), {"cache-control": "no-store"}
        csp = content_security_policy(scripts, headers.get("host", ""))
        if raw_path == "/search/" and query and "search/index.html" in manifest:
            # Search without JavaScript: the built page with the results from the build's index.
            q = (parse_qs(query).get("q") or [""])[0]
            body = search.answer(storage.read("search/index.html") or b"", self._index(tenant.slug, storage, manifest), q)
            extra = {"content-type": PLAIN, "cache-control": "no-store", "content-security-policy": csp,
                     "vary": "Accept-Encoding", "x-tessera-served": "/search/index.html"}
            if "gzip" in headers.get("accept-encoding", ""):  # made per query, so compressed per query
                body, extra["content-encoding"] = gzip.compress(body, 6), "gzip"
            return 200, body, extra
        status, body, extra = self._file(storage, manifest, redirects, raw_path, headers, query)
        return status, body, {**extra, "content-security-policy": csp}

    def _index(self, slug: str, storage: Storage, manifest: dict) -> search.Index:
        """The live release's search index, parsed once per release."""
        key = manifest.get("search.json")
        with self._lock:
            cached = self._indexes.get(slug)
            if cached and cached[0] == key:
                self._indexes.move_to_end(slug)
                return cached[1]
        index = search.Index(storage.read("search.json"))
        with self._lock:
            old = self._indexes.pop(slug, None)
            self._index_items += len(index.items) - (len(old[1].items) if old else 0)
            self._indexes[slug] = (key, index)
            while self._index_items > MAX_SEARCH_ITEMS and len(self._indexes) > 1:
                _, (_, dropped) = self._indexes.popitem(last=False)
                self._index_items -= len(dropped.items)
        return index

    def _file(self, storage: Storage, manifest: dict, redirects: list, raw_path: str,
              headers: dict[str, str], query: str = "") -> tuple[int, bytes, dict]:
        path = posixpath.normpath(unquote(raw_path))
        path = "/" if path in (".", "/") else path + ("/" if raw_path.endswith("/") and path != "/" else "")
        if ".." in path.split("/") or "\x00" in path:
            return 400, _page("Bad request", "That address is not valid."), {}
        candidates = {path} if path.endswith("/") else {path, path + "/"}
        for rule in redirects:
            if rule["from"] in candidates:
                return rule["status"], b"", {"location": rule["to"], "cache-control": "public, max-age=300"}
        rel = path.lstrip("/")
        if rel.startswith("_tessera/") or rel == MANIFEST or is_sibling(rel, manifest):
            rel = "\0"  # metadata, and compressed forms (served only as a file's encoding), are not pages
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        elif rel not in manifest and f"{rel}/index.html" in manifest:
            # The query goes along (``/search?q=rye`` is still a search at ``/search/``).
            keep = "?" + query if query and _QUERY.match(query) else ""
            return 301, b"", {"location": path + "/" + keep, "cache-control": "public, max-age=300"}
        entry = manifest.get(rel)
        if entry is None:
            body = storage.read("404.html") or _page("Page not found", "There is nothing at this address.")
            return 404, body, {"content-type": PLAIN, "cache-control": "no-store"}
        sha, kind = entry
        kind = served_type(rel, kind)
        accept = headers.get("accept-encoding", "")
        # The representation first: each has its own strong ETag (a cache holding the Brotli bytes must
        # never answer a revalidation of the plain ones with a 304).
        encoding = next((e for e, suffix in (("br", ".br"), ("gzip", ".gz"))
                         if e in accept and f"{rel}{suffix}" in manifest), None)
        etag = f'"{sha[:32]}-{encoding}"' if encoding else f'"{sha[:32]}"'
        common = {"etag": etag, "cache-control": cache_control(rel), "vary": "Accept-Encoding",
                  "x-tessera-served": "/" + rel}
        if etag in [t.strip() for t in headers.get("if-none-match", "").split(",")]:
            return 304, b"", {**common, "content-type": kind}  # a page opened again is a view too
        if encoding:
            data = storage.read(rel + (".br" if encoding == "br" else ".gz"))
            if data is not None:
                return 200, data, {**common, "content-type": kind, "content-encoding": encoding}
            common["etag"] = f'"{sha[:32]}"'  # the sibling went missing: the plain bytes, with their own tag
        data = storage.read(rel)
        if data is None:
            return 404, storage.read("404.html") or b"", {"content-type": PLAIN, "cache-control": "no-store"}
        return 200, data, {**common, "content-type": kind}
