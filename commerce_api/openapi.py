"""What ``/api/docs`` shows: the OpenAPI document with the errors each route sends, and a viewer
served from the installed package (Swagger UI from ``swagger-ui-bundle-v2``), never from a CDN, so
that the page works on a machine without internet.
"""

from __future__ import annotations

import msgspec
from litestar import Router
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

DOCS = "/api/docs"
ASSETS = f"{DOCS}/assets"


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    field: str | None


class ErrorEnvelope(msgspec.Struct):
    """Every error the API sends: ``{"error": {"code", "message", "field"}}``."""

    error: ErrorDetail


_MEANING = {
    400: "The request is malformed: a parameter or body field is missing, of the wrong type or out of range "
         "(`field` names it), or two sources name different tenants",
    401: "No valid credential: log in again (a bad Authorization header is refused on every route)",
    403: "The credential may not do this here, the tenant has the feature off, the tenant is suspended "
         "(writes), or a cookie-authenticated write lacks its CSRF token",
    404: "Unknown tenant, or no such resource",
    409: "The change clashes with the current state (an illegal status move, stock below what is reserved, "
         "a reused Idempotency-Key with another cart)",
    413: "The request body is larger than the server accepts",
    422: "The request is well formed but cannot be carried out as it stands (the site's files would not parse, "
         "a discount code that is not valid, expired or used up: `field` is `code`)",
    429: "Too many attempts: wait for the number of seconds in Retry-After",
}

# Statuses every route under /api can answer, before its handler runs: the gateway resolves the
# tenant (400 on disagreement, 404 if unknown), and the guard checks features, suspension and any
# Authorization header sent (401 and 403 even on public routes).
TENANT_ROUTE = (400, 401, 403, 404)


def errors(*extra: int, body: bool = False, tenant: bool = True) -> dict[int, ResponseSpec]:
    """The documented error answers of one route: the common ones, 413 when it reads a body, and ``extra``."""
    statuses = {*(TENANT_ROUTE if tenant else ()), *extra, *((400, 413) if body else ())}
    return {status: ResponseSpec(data_container=ErrorEnvelope, description=_MEANING[status], generate_examples=False)
            for status in sorted(statuses)}


def openapi_config() -> OpenAPIConfig:
    def asset(name: str) -> str:
        return f"{ASSETS}/{name}"

    viewer = SwaggerRenderPlugin(js_url=asset("swagger-ui-bundle.js"), css_url=asset("swagger-ui.css"),
                                 standalone_preset_js_url=asset("swagger-ui-standalone-preset.js"),
                                 favicon=f"<link rel='icon' type='image/png' href='{asset('favicon-32x32.png')}'>",
                                 path="/")
    return OpenAPIConfig(
        title="Tessera API", version="1.0.0", path=DOCS, render_plugins=[viewer],
        description="Every route also answers under /api/tenant/{slug}/... in place of /api/...; "
                    "the tenant comes from the host, that prefix, or the X-Tenant-ID header. "
                    "Every error is JSON: {\"error\": {\"code\", \"message\", \"field\"}}, where `field` names "
                    "the parameter or body field at fault (or `body` for a body that cannot be read).")


def viewer_assets() -> Router:
    """Swagger UI's files from the installed package, pinned in requirements.lock like any dependency."""
    from swagger_ui_bundle import swagger_ui_path

    return create_static_files_router(ASSETS, directories=[swagger_ui_path], opt={"tenant": False},
                                      include_in_schema=False, name="docs-assets")
