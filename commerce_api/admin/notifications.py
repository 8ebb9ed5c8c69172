"""The outbox in the admin: every email and webhook delivery with its state and attempts, "send
again", previews of each email with a real order, each person's choice of staff emails, and the
unsubscribe link those emails carry."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from content.registry import now_iso

from ..errors import NotFound
from ..notify import outbox, recipients
from ..notify.deliver import read_unsubscribe_token
from ..notify.emails import TEMPLATES, EmailTemplateError
from ..security import services_of
from ..shop.orders import Orders
from .common import Form, back, number, page, who
from .session import _platform_page

STATUSES = ("pending", "sending", "sent", "held", "failed")
# The event each email answers to, for previews.
PREVIEW_EVENT = {"order_confirmation": "order.placed", "order_paid": "order.paid", "order_shipped": "order.shipped",
                 "order_cancelled": "order.cancelled", "order_refunded": "order.refunded",
                 "staff_new_order": "order.placed", "staff_low_stock": "stock.low",
                 "staff_publish_failed": "publish.failed", "staff_form": "form.submitted",
                 "staff_webhook_disabled": "webhook.disabled"}


@get("/admin/notifications", opt={"action": "notifications:read"}, sync_to_thread=True, include_in_schema=False)
def outbox_page(request: Request, status: FromQuery[str] = "", n: FromQuery[str] = "1") -> Response:
    member = who(request)
    services = services_of(request)
    status = status if status in STATUSES else ""
    offset = (max(int(n), 1) - 1) * 100 if n.isdigit() and len(n) < 6 else 0
    # Webhook deliveries name their endpoints (URLs that are often credentials) and quote their
    # answers: only people who may see webhooks see them here.
    channel = None if member.can("webhooks:read") else "email"
    with services.databases.connection(member.tenant.slug) as conn:
        items = outbox.listing(conn, status=status or None, channel=channel, limit=101, offset=offset)
        counts = outbox.counts(conn, channel=channel)
        endpoints = {r["id"]: r["url"] for r in conn.execute("SELECT id, url FROM webhook_endpoints")}
        tried = {d.id: outbox.attempts(conn, d.id) for d in items[:100]}
    rows = [{"id": d.id, "when": d.created_at, "kind": d.event.kind, "subject": d.event.subject,
             "channel": d.channel, "template": TEMPLATES.get(d.template, d.template),
             "to": d.recipient if d.channel == "email" else endpoints.get(d.endpoint_id, "a removed endpoint"),
             "status": d.status, "attempts": tried[d.id], "error": d.last_error, "sent_at": d.sent_at}
            for d in items[:100]]
    return page(request, "notifications.html", title="Notifications", section="notifications", rows=rows,
                counts=counts, status=status, statuses=STATUSES, n=offset // 100 + 1, more=len(items) > 100,
                mail=bool(services.config.smtp_url))


@post("/admin/notifications/resend", opt={"action": "notifications:write"}, sync_to_thread=True,
      include_in_schema=False)
def resend(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    delivery_id = number(data, "id")
    with services.databases.connection(member.tenant.slug) as conn:
        delivery = outbox.get(conn, delivery_id)
        if delivery is not None and delivery.channel == "webhook" and not member.can("webhooks:write"):
            return back(request, "/notifications", error="Only people who manage webhooks can send a webhook again.")
        again = outbox.resend(conn, delivery_id)
    if not again:
        return back(request, "/notifications", error="Only a held or failed delivery can be sent again.")
    services.queue.enqueue(member.tenant.slug, "notify", actor=member.user.email)
    services.audit.record("notification.resent", actor=member.user.id, tenant_id=member.tenant.id,
                          delivery=delivery_id)
    held = "" if services.config.smtp_url else " It stays held until a mail server is set up (TESSERA_SMTP_URL)."
    return back(request, "/notifications", saved=f"Delivery {delivery_id} will be sent again in a moment.{held}")


# -- previews ------------------------------------------------------------------------------------


@get("/admin/emails", opt={"action": "notifications:read"}, sync_to_thread=True, include_in_schema=False)
def emails_page(request: Request, template: FromQuery[str] = "order_confirmation", order: FromQuery[str] = "") -> Response:
    member = who(request)
    services = services_of(request)
    template = template if template in TEMPLATES else "order_confirmation"
    shop = member.tenant.has("ecommerce")
    listed = {k: v for k, v in TEMPLATES.items() if shop or not (k.startswith("order_") or k in (
        "staff_new_order", "staff_low_stock"))}
    template = template if template in listed else next(iter(listed))
    with services.databases.connection(member.tenant.slug) as conn:
        orders = Orders(conn).list(limit=20) if shop else []
        chosen = int(order) if order.isdigit() and len(order) < 10 else (orders[0]["number"] if orders else None)
        try:
            rendered, sample = _render(request, conn, template, chosen)
            problem = ""
        except EmailTemplateError as exc:
            rendered, sample, problem = None, False, str(exc)
    return page(request, "emails.html", title="Email previews", section="notifications", templates=listed,
                chosen=template, orders=orders, order=chosen, rendered=rendered, sample=sample, problem=problem)


@get("/admin/emails/preview", opt={"action": "notifications:read"}, sync_to_thread=True, include_in_schema=False)
def email_preview(request: Request, template: FromQuery[str] = "", order: FromQuery[str] = "") -> Response:
    """The HTML of one email, for the preview frame. Its templates are the site's, so it is shown as
    a sandboxed document (no script, no access to the admin) that loads nothing from elsewhere."""
    member = who(request)
    if template not in TEMPLATES:
        return Response("No such email.", status_code=404, media_type="text/plain")
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        try:
            rendered, _ = _render(request, conn, template, int(order) if order.isdigit() and len(order) < 10 else None)
            body = rendered.html or f"<pre>{escape(rendered.text)}</pre>"
        except EmailTemplateError as exc:
            body = f"<p>{escape(str(exc))}</p>"
    return Response(body, media_type="text/html", headers={
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"})


def _render(request: Request, conn, template: str, order_number: int | None):
    """(the email rendered for a real order, or for sample data where the site has none; sample?)"""
    member = who(request)
    notifier = services_of(request).notifier()
    site = notifier.site(conn, member.tenant.slug)
    data, sample = _preview_data(conn, template, order_number)
    event = outbox.Event(0, PREVIEW_EVENT[template], "", data, now_iso())
    return notifier.render(conn, member.tenant.slug, site, template, event, member.user.email), sample


def _preview_data(conn, template: str, order_number: int | None) -> tuple[dict, bool]:
    kind = PREVIEW_EVENT[template]
    if kind.startswith("order."):
        orders = Orders(conn)
        if order_number is not None:
            try:
                order = orders.get(order_number)
                return {"order": {k: v for k, v in order.items() if k not in ("notes", "history")}}, False
            except NotFound:  # an order number that is not this shop's: show the sample instead
                pass
        return {"order": SAMPLE_ORDER}, True
    if kind == "stock.low":
        row = conn.execute("SELECT v.sku, p.name, v.title FROM catalog_variants v JOIN catalog_products p "
                           "ON p.slug = v.product_slug ORDER BY v.sku LIMIT 1").fetchone()
        item = dict(row) if row else {"sku": "SAMPLE-1", "name": "Sample product", "title": "Sample product"}
        return {"stock": {**item, "available": 2, "threshold": 3}}, True
    if kind == "form.submitted":
        row = conn.execute("SELECT * FROM form_submissions ORDER BY id DESC LIMIT 1").fetchone()
        if row:
            fields = json.loads(row["fields"])
            fields = fields if isinstance(fields, list) else [{"name": k, "label": k.title(), "value": v}
                                                              for k, v in fields.items()]
            return {"form": {"name": row["form"], "title": row["form"].replace("-", " ").title()},
                    "submission": {"id": row["id"], "name": row["name"], "email": row["email"], "page": row["page"],
                                   "fields": fields}}, False
        return {"form": {"name": "contact", "title": "Contact"},
                "submission": {"id": 0, "name": "Sam Sample", "email": "sam@example.com", "page": "/contact/",
                               "fields": [{"name": "message", "label": "Message",
                                           "value": "Hello! Do you bake for weddings?"}]}}, True
    if kind == "publish.failed":
        return {"publish": {"job": 0, "actor": "editor@example.com",
                            "message": "publish failed: posts/hello.md line 3: published_at is not a date"}}, True
    return {"webhook": {"id": 0, "url": "https://hooks.example.com/tessera",
                        "reason": "it failed 20 times in a row (last: HTTP 500)"}}, True


SAMPLE_ORDER = {
    "number": 1000, "email": "sam@example.com", "status": "pending", "payment_status": "pending",
    "provider": "manual", "currency": "EUR", "subtotal": 2400, "shipping": 495, "tax": 0, "tax_inclusive": True,
    "total": 2895, "shipping_method": "delivery", "tracking_number": "AB123456789GB", "carrier": "royal-mail",
    "carrier_name": "Royal Mail", "tracking_url": "https://www.royalmail.com/track-your-item#/tracking-results/AB123456789GB",
    "shipping_address": {"name": "Sam Sample", "line1": "1 Sample Street", "line2": "", "city": "Sampleton",
                         "postal_code": "SA1 1AA", "country": "GB"},
    "lines": [{"sku": "SAMPLE-1", "name": "Sample product", "title": "Sample product", "quantity": 2,
               "unit_price": 1200, "line_total": 2400}],
}


# -- each person's staff emails -------------------------------------------------------------------


@post("/admin/account/notifications", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def choose_emails(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    mine = set(recipients.topics_for(member.role, shop=member.tenant.has("ecommerce")))
    wanted = data.get("topics", [])
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    recipients.set_opted_out(services.db.conn, member.user.id, member.tenant.id, mine - wanted, among=mine)
    return back(request, "/tokens", saved="Your email choices are saved.")


def email_choices(request: Request) -> list[dict[str, Any]]:
    """For the account page: the topics this person may get, and whether they do."""
    member = who(request)
    off = recipients.opted_out(services_of(request).db.conn, member.user.id, member.tenant.id)
    return [{"topic": t, "label": recipients.TOPICS[t], "on": t not in off}
            for t in recipients.topics_for(member.role, shop=member.tenant.has("ecommerce"))]


# -- unsubscribing from a link in an email (no session: the link's signature is the permission) ----


@get("/admin/unsubscribe", opt={"tenant": False}, sync_to_thread=False, include_in_schema=False)
def unsubscribe_form(request: Request, t: FromQuery[str] = "") -> Response:
    found = _unsubscribe_target(request, t)
    if found is None:
        return _platform_page("unsubscribe.html", 400, title="Unsubscribe", problem=True, token="")
    email, tenant, topic = found
    return _platform_page("unsubscribe.html", title="Unsubscribe", problem=False, token=t, email=email,
                          site=tenant.name, topic=recipients.TOPICS[topic].lower(), done=False)


@post("/admin/unsubscribe", opt={"tenant": False}, sync_to_thread=True, include_in_schema=False)
def unsubscribe(request: Request, t: FromQuery[str] = "") -> Response:
    """One click (RFC 8058: a mail client POSTs ``List-Unsubscribe=One-Click`` here) or the form's button."""
    services = services_of(request)
    found = _unsubscribe_target(request, t)
    if found is None:
        return _platform_page("unsubscribe.html", 400, title="Unsubscribe", problem=True, token="")
    email, tenant, topic = found
    user = services.users.find(email)
    if user is not None and services.users.role(user.id, tenant.id) is not None:
        off = recipients.opted_out(services.db.conn, user.id, tenant.id)
        recipients.set_opted_out(services.db.conn, user.id, tenant.id, off | {topic})
        services.audit.record("notifications.unsubscribed", actor=user.id, tenant_id=tenant.id, topic=topic)
    return _platform_page("unsubscribe.html", title="Unsubscribed", problem=False, token="", email=email,
                          site=tenant.name, topic=recipients.TOPICS[topic].lower(), done=True)


def _unsubscribe_target(request: Request, token: str):
    services = services_of(request)
    found = read_unsubscribe_token(services.config.secret_key, token[:1000]) if token else None
    if found is None:
        return None
    email, slug, topic = found
    tenant = services.db.registry.find(slug)
    return (email, tenant, topic) if tenant is not None else None


ROUTES = [outbox_page, resend, emails_page, email_preview, choose_emails, unsubscribe_form, unsubscribe]
