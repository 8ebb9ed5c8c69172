"""The Litestar application: routes, the access guard, one JSON error envelope, OpenAPI docs."""

from __future__ import annotations

import logging
import sqlite3
import re

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException

from content.archive import MOVED_AWAY
from content.errors import TesseraError

from .admin import ROUTES as ADMIN_PAGES
from .admin.common import admin_error_page
from .body import ApiRequest
from .errors import ApiError, BadRequest, TooManyRequests, Unauthorized
from .gateway import Gateway, Metrics
from .openapi import openapi_config, viewer_assets
from .routes.admin import AdminController
from .routes.auth import AuthController
from .routes.billing import billing_webhook
from .routes.catalog import CatalogController
from .routes.discounts import DiscountsController
from .routes.forms import ROUTES as FORM_ROUTES
from .routes.giftcards import GiftCardController
from .routes.analytics import page_view
from .routes.reports import ReportsController, SalesReportController
from .routes.shop import CartController, ShopController, stripe_webhook
from .routes.staff import StaffShopController
from .routes.webhooks import WebhooksController
from .routes.params import INT64_MAX, INT64_MIN
from .routes.system import healthz, metrics, tls_ask
from .security import access_guard, admin_base
from .services import ApiConfig, Services

log = logging.getLogger("tessera.api")


def _envelope(status: int, code: str, message: str, field: str | None = None,
              headers: dict[str, str] | None = None) -> Response:
    return Response({"error": {"code": code, "message": message, "field": field}}, status_code=status,
                    headers=headers)


def _api_error(request: Request, exc: ApiError) -> Response:
    if request.url.path.startswith("/admin"):  # people read pages, not JSON
        if (isinstance(exc, Unauthorized) and exc.code not in ("invitation_invalid", "link_expired")) \
                or exc.code == "tenant_required":
            return Response("", status_code=303, headers={"Location": f"{admin_base(request)}/login"})
        if "text/html" in request.headers.get("accept", ""):
            return admin_error_page(request, exc.status, exc.message)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return _envelope(exc.status, exc.code, exc.message, exc.field, headers)


def _validation_error(request: Request, exc: ValidationException) -> Response:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    field = first.get("key")
    message = first.get("message") or "the request body is not valid"
    missing = _MISSING.search(exc.detail or "") if not extra else None
    if missing:  # a parameter left out of the query, the path or the headers
        field, message = missing.group(2), f"the {missing.group(1)} parameter is required"
    elif field in (None, "data"):  # a body problem: msgspec names the field in its message
        located = _FIELD.search(message)
        field = located.group(1) or located.group(2) if located else "body"
    message = re.sub(r"\s*-\s*at `\$[^`]*`", "", message)
    if field:
        message = f"{field}: {message}"
    if request.url.path.startswith("/admin") and "text/html" in request.headers.get("accept", ""):
        return admin_error_page(request, 400, message)
    return _envelope(400, "invalid_request", message, field)


_MISSING = re.compile(r"Missing required (query|path|header|cookie) parameter '([^']+)'")
_FIELD = re.compile(r"at `\$\.([A-Za-z0-9_.\[\]]+)`|required field `([A-Za-z0-9_]+)`")


def _http_error(request: Request, exc: HTTPException) -> Response:
    codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
             413: "request_too_large", 415: "unsupported_media_type"}
    status = exc.status_code
    if status >= 500:
        return _unexpected(request, exc)
    field = "body" if status in (413, 415) else None
    return _envelope(status, codes.get(status, "http_error"), exc.detail or "request refused", field)


def _content_error(request: Request, exc: TesseraError) -> Response:
    """Errors from the content package (a tenant name left empty, an unknown plan, a taken slug)
    carry their own 4xx status and, for a bad value, the field."""
    if exc.status >= 500:
        return _unexpected(request, exc)
    return _api_error(request, _as_api_error(exc))


def _as_api_error(exc: TesseraError) -> ApiError:
    error = ApiError(str(exc), field=getattr(exc, "field", None), code=exc.code)
    error.status = exc.status
    return error


def _out_of_range(request: Request) -> BadRequest | None:
    """A number in the path or query string past SQLite's 64-bit range: the parameter to blame.

    Routes bound their numbers (``routes.params``); this covers any route that does not yet, so that
    an overflow in a query is a 400 naming the parameter rather than a 500."""
    for name, value in [*request.path_params.items(), *request.query_params.items()]:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if not INT64_MIN <= number <= INT64_MAX:
            return BadRequest(f"{name} is out of range: at most {INT64_MAX}", field=name, code="out_of_range")
    return None


def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, OverflowError) and (culprit := _out_of_range(request)) is not None:
        return _api_error(request, culprit)
    if isinstance(exc, sqlite3.IntegrityError) and MOVED_AWAY in str(exc):
        # The tenant moved to another node while this request waited on its database: try again.
        return _envelope(503, "moving", "this site has just moved; try again in a moment",
                         headers={"Retry-After": "2"})
    log.exception("unhandled error on %s %s", request.method, request.scope.get("path_template"))
    if request.url.path.startswith("/admin") and "text/html" in request.headers.get("accept", ""):
        return admin_error_page(request, 500, "Something went wrong on our side; it has been logged. "
                                              "Nothing you saved before this was lost.")
    return _envelope(500, "internal_error", "something went wrong on our side; it has been logged")


def create_app(config: ApiConfig, services: Services | None = None) -> Gateway:
    services = services or Services.build(config)
    metrics_store = Metrics()
    app = Litestar(
        route_handlers=[AuthController, AdminController, CatalogController, CartController, ShopController,
                        StaffShopController, DiscountsController, GiftCardController, WebhooksController,
                        ReportsController, SalesReportController, page_view, stripe_webhook, billing_webhook, *FORM_ROUTES, healthz, metrics, tls_ask, viewer_assets(),
                        *ADMIN_PAGES],
        guards=[access_guard],
        exception_handlers={ApiError: _api_error, TesseraError: _content_error, ValidationException: _validation_error,
                            NotAuthorizedException: _http_error, HTTPException: _http_error, Exception: _unexpected},
        openapi_config=openapi_config(),
        request_class=ApiRequest,
        request_max_body_size=config.max_body,
        on_shutdown=[services.close],
        debug=False,
    )
    app.state.services = services
    app.state.metrics = metrics_store
    return Gateway(app, services, metrics_store)
