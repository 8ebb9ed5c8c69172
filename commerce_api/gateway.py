"""The ASGI layer in front of the Litestar app.

- rewrites ``/api/tenant/<slug>/...`` to ``/api/...`` and remembers the slug, so every route
  answers under both;
- maps the admin origin (``admin.<base domain>``) onto the admin's routes: ``/sites/<slug>/...`` is
  that tenant's admin (and ``/sites/<slug>/api/...`` its API, for the admin's own scripts), any
  other path a platform page; ``/admin`` on any other host redirects there, so no tenant's site
  ever shares an origin, and so cookies, with the admin;
- resolves the request's tenant once (a 400 or 404 here never reaches a handler);
- answers CORS preflights and adds CORS headers for the tenant's own origins only;
- refuses writes to a suspended tenant;
- counts requests and their latency by route template and status for ``/metrics``.
"""

from __future__ import annotations

import json
import re
import time

from prometheus_client import CollectorRegistry, Counter, Histogram

from .errors import ApiError, Forbidden, TooManyRequests
from .security import site_base, suspended_error
from .services import Services
from .tenancy import host_name

_PREFIX = re.compile(r"^/api/tenant/([^/]+)(/.*)?$")
_SITES = re.compile(r"^/sites/([^/]+)(/.*)?$")
SAFE = {"GET", "HEAD", "OPTIONS"}
# Paths that are about no site, whatever the Host: the API's docs, and the TLS proxy's question (Caddy
# asks at its upstream's address, `serve:8000` in a container or another machine's, which names no site).
UNTENANTED = ("/api/docs", "/api/tls/ask")
ALLOWED_HEADERS = "Content-Type, Authorization, Idempotency-Key, X-CSRF-Token, X-Tenant-ID"


# The admin's pages hold credentials: nothing may frame them, sniff their types or learn their URLs.
ADMIN_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                 (b"cross-origin-opener-policy", b"same-origin")]


def _fetched_by_the_admin(method: str, headers: dict[str, str]) -> bool:
    """Fetch Metadata, as browsers send it: another origin (a tenant's site on the same registrable
    domain included) may link to the admin, never post to it or load its pages into itself.
    Clients that send no such header (curl, scripts) carry their own credentials and are let be."""
    site = headers.get("sec-fetch-site")
    if site in (None, "same-origin", "none"):
        return True
    return method in SAFE and headers.get("sec-fetch-mode") == "navigate" \
        and headers.get("sec-fetch-dest") in ("document", None)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("tessera_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("tessera_http_request_duration_seconds", "Request latency by route",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class Gateway:
    def __init__(self, app, services: Services, metrics: Metrics) -> None:
        self.app = app
        self.services = services
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 500}
        method = scope["method"]
        scope = dict(scope)
        path_slug = None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        admin_origin = host_name(headers.get("host")) == self.services.config.admin_host
        if admin_origin:
            if not _fetched_by_the_admin(method, headers):
                await self._error(send, Forbidden("the admin answers only its own pages and links to them, "
                                                  "not requests made by other sites", code="cross_origin"),
                                  {}, status_holder)
                self._observe(method, scope, status_holder["status"], started)
                return
            path_slug = self._admin_path(scope)
        elif scope["path"] == "/admin" or scope["path"].startswith("/admin/"):
            await self._to_admin_origin(scope, headers, send, status_holder)
            self._observe(method, scope, status_holder["status"], started)
            return
        elif match := _PREFIX.match(scope["path"]):
            path_slug = match.group(1)
            scope["path"] = "/api" + (match.group(2) or "/")
            scope["raw_path"] = scope["path"].encode()
        origin = headers.get("origin")
        cors: dict[str, str] = {}
        try:
            tenant = None
            if scope["path"].startswith(("/api/", "/admin")) and not scope["path"].startswith(UNTENANTED):
                # On the admin's origin the path alone names the site (its cookie is scoped to it).
                header = None if admin_origin else headers.get("x-tenant-id")
                tenant = self.services.resolver.resolve(headers.get("host"), path_slug, header)
            scope["tessera.tenant"] = tenant
            if origin and tenant is not None and not admin_origin \
                    and origin in self.services.resolver.origins(tenant, self.services.config.port):
                cors = {"access-control-allow-origin": origin, "vary": "Origin"}
            if method == "OPTIONS" and "access-control-request-method" in headers:
                await self._preflight(send, cors, status_holder)
                return
            if tenant is not None and tenant.suspended and method not in SAFE and not scope["path"].startswith(("/api/auth/", "/admin")):  # the admin refuses with a page of its own
                raise suspended_error(tenant)
        except ApiError as exc:
            await self._error(send, exc, cors, status_holder)
            self._observe(method, scope, status_holder["status"], started)
            return

        extra = [(k.encode(), v.encode()) for k, v in cors.items()]
        if admin_origin:
            extra += ADMIN_HEADERS

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                if extra:
                    message = dict(message)
                    message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self._observe(method, scope, status_holder["status"], started)

    @staticmethod
    def _admin_path(scope: dict) -> str | None:
        """Rewrite an admin-origin path to the admin's route; returns the tenant the path names."""
        match = _SITES.match(scope["path"])
        slug, rest = (match.group(1), match.group(2) or "/") if match else (None, scope["path"])
        scope["tessera.admin_base"] = site_base(slug) if slug else ""
        if not (slug and rest.startswith("/api/")):
            rest = "/admin" + rest
        scope["path"] = rest
        scope["raw_path"] = rest.encode()
        return slug

    async def _to_admin_origin(self, scope: dict, headers: dict[str, str], send, holder: dict) -> None:
        """``/admin`` on a tenant's (or the platform's) host: the admin lives on its own origin now."""
        rest = scope["path"][len("/admin"):] or "/"
        try:
            tenant = self.services.resolver.resolve(headers.get("host"), None, None)
        except ApiError:
            tenant = None
        target = self.services.config.admin_origin + (site_base(tenant.slug) if tenant else "") + rest
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        holder["status"] = 302 if scope["method"] in SAFE else 303
        await send({"type": "http.response.start", "status": holder["status"],
                    "headers": [(b"location", target.encode("latin-1")), (b"content-length", b"0"),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": b""})

    def _observe(self, method: str, scope: dict, status: int, started: float) -> None:
        route = scope.get("path_template") or "unmatched"  # never the raw path: tenants control it
        self.metrics.observe(method, route, status, time.perf_counter() - started)

    async def _preflight(self, send, cors: dict[str, str], holder: dict) -> None:
        status = 204 if cors else 403
        holder["status"] = status
        headers = dict(cors)
        if cors:
            headers.update({"access-control-allow-methods": "GET, POST, PATCH, PUT, DELETE",
                            "access-control-allow-headers": ALLOWED_HEADERS, "access-control-max-age": "600"})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": b""})

    async def _error(self, send, exc: ApiError, cors: dict[str, str], holder: dict) -> None:
        holder["status"] = exc.status
        body = json.dumps(exc.body()).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in cors.items()]
        if isinstance(exc, TooManyRequests):
            headers.append((b"retry-after", str(exc.retry_after).encode()))
        await send({"type": "http.response.start", "status": exc.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
