"""The ASGI layer in front of the Litestar app.

- rewrites ``/api/tenant/<slug>/...`` to ``/api/...`` and remembers the slug, so every route
  answers under both;
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

from .errors import ApiError, TenantSuspended
from .services import Services

_PREFIX = re.compile(r"^/api/tenant/([^/]+)(/.*)?$")
SAFE = {"GET", "HEAD", "OPTIONS"}
ALLOWED_HEADERS = "Content-Type, Authorization, Idempotency-Key, X-CSRF-Token, X-Tenant-ID"


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
        match = _PREFIX.match(scope["path"])
        if match:
            path_slug = match.group(1)
            scope["path"] = "/api" + (match.group(2) or "/")
            scope["raw_path"] = scope["path"].encode()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        origin = headers.get("origin")
        cors: dict[str, str] = {}
        try:
            tenant = None
            if scope["path"].startswith(("/api/", "/admin")) and not scope["path"].startswith("/api/docs"):
                tenant = self.services.resolver.resolve(headers.get("host"), path_slug, headers.get("x-tenant-id"))
            scope["tessera.tenant"] = tenant
            if origin and tenant is not None and origin in self.services.resolver.origins(tenant, self.services.config.port):
                cors = {"access-control-allow-origin": origin, "vary": "Origin"}
            if method == "OPTIONS" and "access-control-request-method" in headers:
                await self._preflight(send, cors, status_holder)
                return
            if tenant is not None and tenant.suspended and method not in SAFE and not scope["path"].startswith(("/api/auth/", "/admin")):  # the admin refuses with a page of its own
                raise TenantSuspended("this site is suspended: it can be read but not changed")
        except ApiError as exc:
            await self._error(send, exc, cors, status_holder)
            self._observe(method, scope, status_holder["status"], started)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                if cors:
                    message = dict(message)
                    message["headers"] = list(message.get("headers", [])) + [
                        (k.encode(), v.encode()) for k, v in cors.items()]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self._observe(method, scope, status_holder["status"], started)

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
        await send({"type": "http.response.start", "status": exc.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
