"""Webhook endpoints in the admin: add one (its secret shown once), see each delivery and its answer,
send a test event, turn an endpoint back on, remove it (after asking)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from ..errors import ApiError, Conflict
from ..notify import outbox, webhooks
from ..routes.auth import _address
from ..routes.params import Id
from ..security import services_of
from . import once
from .common import Form, back, page, text, values, who

EVENT_NAMES = {
    "order.placed": "An order is placed", "order.paid": "An order is paid", "order.shipped": "An order ships",
    "order.delivered": "An order is delivered", "order.cancelled": "An order is cancelled",
    "order.refunded": "An order is refunded", "order.partially_refunded": "Part of an order is refunded",
    "form.submitted": "Someone sends a form",
    "stock.low": "Stock runs low", "publish.failed": "A publish fails",
}


def _events() -> list[tuple[str, str]]:
    return [(kind, EVENT_NAMES.get(kind, kind)) for kind in outbox.PUBLIC_EVENTS]


@get("/admin/webhooks", opt={"action": "webhooks:read"}, sync_to_thread=True, include_in_schema=False)
def endpoints(request: Request) -> Response:
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        listed = webhooks.list_endpoints(conn)
    return page(request, "webhooks.html", title="Webhooks", section="webhooks", endpoints=listed, events=_events(),
                can_write=member.can("webhooks:write"), limit=webhooks.MAX_ENDPOINTS)


@post("/admin/webhooks/new", opt={"action": "webhooks:write"}, sync_to_thread=True, include_in_schema=False)
def add(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    try:
        with services.databases.connection(member.tenant.slug) as conn:
            endpoint, secret = webhooks.add(conn, text(data, "url"), values(data, "events"), text(data, "description"),
                                            member.user.email, secret_key=services.config.secret_key,
                                            allow=services.config.webhook_allow)
            token = once.stash(conn, services.config.secret_key, secret)
    except ApiError as exc:
        return back(request, "/webhooks", error=exc.message)
    services.audit.record("webhook.added", actor=member.user.id, tenant_id=member.tenant.id, address=_address(request),
                          endpoint=endpoint["id"], url=endpoint["url"], events=endpoint["events"])
    # A redirect (reloading never adds a second endpoint); the page shows the secret once (admin/once.py).
    return back(request, f"/webhooks/{endpoint['id']}?shown={token}",
                saved="Endpoint added. Copy its signing secret now: it is not shown again.")


def _endpoint_page(request: Request, endpoint_id: int, *, secret: str = "", confirming: bool = False,
                   **context) -> Response:
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        endpoint = webhooks.get(conn, endpoint_id)
        log = webhooks.deliveries(conn, endpoint_id)
    return page(request, "webhook.html", title=f"Webhook {endpoint['url']}", section="webhooks", endpoint=endpoint,
                deliveries=log, secret=secret, confirming=confirming, can_write=member.can("webhooks:write"),
                event_names=dict(_events()), **context)


@get("/admin/webhooks/{endpoint_id:int}", opt={"action": "webhooks:read"}, sync_to_thread=True,
     include_in_schema=False)
def endpoint(request: Request, endpoint_id: Id, shown: FromQuery[str] = "") -> Response:
    return _endpoint_page(request, endpoint_id, secret=once.shown(request, shown))


@post("/admin/webhooks/{endpoint_id:int}/test", opt={"action": "webhooks:write"}, sync_to_thread=True,
      include_in_schema=False)
def send_test(request: Request, endpoint_id: Id) -> Response:
    try:
        with services_of(request).databases.connection(who(request).tenant.slug) as conn:
            webhooks.send_test(conn, endpoint_id)
    except Conflict as exc:  # one test at a time
        return back(request, f"/webhooks/{endpoint_id}", error=exc.message[:1].upper() + exc.message[1:] + ".")
    return back(request, f"/webhooks/{endpoint_id}", saved="Test event queued: it appears below once sent "
                                                            "(reload in a moment).")


@post("/admin/webhooks/{endpoint_id:int}/enable", opt={"action": "webhooks:write"}, sync_to_thread=True,
      include_in_schema=False)
def enable(request: Request, endpoint_id: Id) -> Response:
    member = who(request)
    services = services_of(request)
    with services.databases.connection(member.tenant.slug) as conn:
        webhooks.enable(conn, endpoint_id)
    services.audit.record("webhook.enabled", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), endpoint=endpoint_id)
    return back(request, f"/webhooks/{endpoint_id}", saved="Endpoint turned on again: new events go to it.")


@post("/admin/webhooks/{endpoint_id:int}/remove", opt={"action": "webhooks:write"}, sync_to_thread=True,
      include_in_schema=False)
def remove(request: Request, endpoint_id: Id, data: Form) -> Response:
    """Asks first; removing drops the deliveries still waiting for the endpoint."""
    if text(data, "confirm") != "yes":
        return _endpoint_page(request, endpoint_id, confirming=True)
    member = who(request)
    services = services_of(request)
    with services.databases.connection(member.tenant.slug) as conn:
        removed = webhooks.remove(conn, endpoint_id)
    services.audit.record("webhook.removed", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), endpoint=endpoint_id, url=removed["url"])
    return back(request, "/webhooks", saved=f"Endpoint {removed['url']} removed.")


ROUTES = [endpoints, add, endpoint, send_test, enable, remove]
