"""Operator routes on the platform host: health and Prometheus metrics."""

from __future__ import annotations

import ipaddress
import secrets

from litestar import Request, Response, get
from litestar.params import FromQuery
from prometheus_client import generate_latest

from ..errors import Forbidden, NotFound, Unauthorized
from ..openapi import errors
from ..security import client_address, services_of
from ..tenancy import host_name

# prometheus_client's CONTENT_TYPE_LATEST ends in "; charset=utf-8", which Litestar adds to text types itself.
METRICS_TYPE = "text/plain; version=1.0.0"


def _platform_only(request: Request) -> None:
    if not services_of(request).resolver.is_platform_host(host_name(request.headers.get("host"))):
        raise NotFound("not found")


def _may_read_metrics(request: Request) -> None:
    """A bearer token (TESSERA_METRICS_TOKEN) or an address in TESSERA_METRICS_ALLOW: request counts by
    route and status say what a site is doing, so they are not for anyone who asks."""
    config = services_of(request).config
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if config.metrics_token and scheme.lower() == "bearer" and secrets.compare_digest(sent.encode(),
                                                                                      config.metrics_token.encode()):
        return
    address = client_address(request.scope, config.trusted_proxies)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is not None and any(ip in ipaddress.ip_network(net) for net in config.metrics_allow):
        return
    if config.metrics_token:
        raise Unauthorized("send 'Authorization: Bearer <TESSERA_METRICS_TOKEN>' to read the metrics",
                           code="invalid_token")
    raise Forbidden("metrics are open only to the addresses in TESSERA_METRICS_ALLOW, or with TESSERA_METRICS_TOKEN",
                    code="forbidden")


@get("/healthz", responses=errors(404, tenant=False), opt={"tenant": False}, tags=["system"], sync_to_thread=True,
     summary="Liveness and database check")
def healthz(request: Request) -> dict[str, str]:
    _platform_only(request)
    services_of(request).db.conn.execute("SELECT 1").fetchone()
    return {"status": "ok"}


@get("/api/tls/ask", opt={"tenant": False}, tags=["system"], sync_to_thread=False, include_in_schema=False,
     summary="Caddy on-demand TLS: 200 only for tenant subdomains and verified custom domains")
def tls_ask(request: Request, domain: FromQuery[str] = "") -> Response[str]:
    from publish.domains import allowed

    services = services_of(request)
    ok = bool(domain) and allowed(services.db.registry, domain, services.config.base_domain,
                                          services.config.admin_host)
    return Response("ok" if ok else "unknown domain", status_code=200 if ok else 404, media_type="text/plain")


@get("/metrics", opt={"tenant": False}, tags=["system"], sync_to_thread=True, summary="Prometheus metrics",
     include_in_schema=False)
def metrics(request: Request) -> Response[bytes]:
    _platform_only(request)
    _may_read_metrics(request)
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=METRICS_TYPE)
