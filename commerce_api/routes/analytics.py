"""``POST /api/analytics/view``: the beacon of a site behind a CDN, one per page view.

Behind a CDN that caches pages the edge does not see every view, so such a site (site.yaml
``analytics: {beacon: true}``) has its pages report their own; the edge then counts none of its
pages. Views go through the same counter as the edge's (``publish.analytics.Counter``: the same
buffer, rollups and exclusions), so nothing is counted twice and nothing is stored per person.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Request, post
from litestar.concurrency import sync_to_thread

from content.registry import Tenant

from ..errors import BadRequest, Forbidden, TooLarge
from ..openapi import errors
from ..security import require_tenant, services_of
from ..tenancy import host_name

MAX_BEACON = 4096  # a path and a referrer; anything longer is not a beacon


@post("/api/analytics/view", opt={"feature": "analytics"}, status_code=204, tags=["analytics"],
      responses=errors(body=True), summary="Count a page view reported by the page itself (sites behind a CDN)",
      description="What the storefront's beacon script sends with `navigator.sendBeacon`: a JSON object "
                  "`{\"path\": \"/about/\", \"referrer\": \"https://news.example.org/\"}` (any content type, at "
                  "most 4 KB). Counted only for a site whose live pages send beacons (site.yaml "
                  "`analytics: {beacon: true}`; otherwise 403 `beacon_off`, as the edge counts its pages), with "
                  "the edge's exclusions: crawlers, requests without a browser's User-Agent and Accept-Language, "
                  "prefetches, the operator's addresses. 204 whether or not the view was counted.")
async def page_view(request: Request) -> None:
    tenant = require_tenant(request)
    raw = await request.body()
    if len(raw) > MAX_BEACON:
        raise TooLarge(f"a page view is at most {MAX_BEACON} bytes", field="body")
    path, referrer = _parse(raw)
    if not await _beacon_on(request, tenant):
        raise Forbidden("this site's views are counted by the edge, not by beacon; set `analytics: {beacon: true}` "
                        "in site.yaml and publish to count them this way", code="beacon_off")
    counter = services_of(request).page_views
    if counter is None:  # the API served on its own, without the edge's counter: nothing to count into
        return
    headers = {k.lower(): v for k, v in request.headers.items()}
    counter.offer_beacon(tenant, request.scope, host_name(headers.get("host", "")), headers, path, referrer)


def _parse(raw: bytes) -> tuple[str, str]:
    try:
        data: Any = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise BadRequest('the body must be JSON such as {"path": "/about/", "referrer": ""}', field="body",
                         code="invalid_body") from None
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object such as {"path": "/about/"}', field="body",
                         code="invalid_body")
    path, referrer = data.get("path"), data.get("referrer") or ""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//") \
            or any(c in path for c in "?#\r\n\t\0"):
        raise BadRequest("path must be the page's path, such as /about/ (no query, no fragment)", field="path")
    if not isinstance(referrer, str):
        raise BadRequest("referrer must be a string: the referring page's address, or empty", field="referrer")
    return path, referrer


async def _beacon_on(request: Request, tenant: Tenant) -> bool:
    """Whether the live site's pages send beacons, as its last deploy published (tenant.db's meta)."""
    def read() -> bool:
        with services_of(request).databases.connection(tenant.slug) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'analytics'").fetchone()
        try:
            return bool(row and json.loads(row[0]).get("beacon"))
        except (ValueError, AttributeError):
            return False

    return await sync_to_thread(read)
