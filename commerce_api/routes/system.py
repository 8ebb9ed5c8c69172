"""Operator routes on the platform host: health and Prometheus metrics."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromQuery
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..errors import NotFound
from ..security import services_of
from ..tenancy import host_name


def _platform_only(request: Request) -> None:
    if not services_of(request).resolver.is_platform_host(host_name(request.headers.get("host"))):
        raise NotFound("not found")


@get("/healthz", opt={"tenant": False}, tags=["system"], sync_to_thread=True, summary="Liveness and database check")
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


@get("/metrics", opt={"tenant": False}, tags=["system"], sync_to_thread=True, summary="Prometheus metrics", include_in_schema=False)
def metrics(request: Request) -> Response[bytes]:
    _platform_only(request)
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
