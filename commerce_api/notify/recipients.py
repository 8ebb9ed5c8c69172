"""Who hears of each event: the shopper, the site's staff (by role, unless they opted out of the
topic), and the site's webhook endpoints subscribed to it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from .outbox import ORDER_EVENTS, PUBLIC_EVENTS, Event, Planned

# Staff emails come in topics; each person may turn a topic off for a site (the account page or
# the List-Unsubscribe link in the email).
TOPICS: dict[str, str] = {
    "orders": "New orders",
    "stock": "Low stock",
    "forms": "Messages sent through the site's forms",
    "publish": "Failed publishes",
    "webhooks": "Webhook endpoints turned off after failing",
}


@dataclass(frozen=True)
class StaffRule:
    topic: str
    roles: tuple[str, ...]
    template: str
    shop: bool = False  # only where the ecommerce feature is on


STAFF: dict[str, StaffRule] = {
    "new_order": StaffRule("orders", ("owner", "shop_manager"), "staff_new_order", shop=True),
    "stock.low": StaffRule("stock", ("owner", "shop_manager"), "staff_low_stock", shop=True),
    "form.submitted": StaffRule("forms", ("owner", "admin"), "staff_form"),
    "publish.failed": StaffRule("publish", ("owner", "admin"), "staff_publish_failed"),
    "webhook.disabled": StaffRule("webhooks", ("owner",), "staff_webhook_disabled"),
}


def topic_of(template: str) -> str | None:
    return next((rule.topic for rule in STAFF.values() if rule.template == template), None)


def topics_for(role: str | None, *, shop: bool) -> list[str]:
    """The topics a person with ``role`` hears about on a site (with or without a shop)."""
    return [t for t in TOPICS if any(r.topic == t and role in r.roles and (shop or not r.shop) for r in STAFF.values())]


def opted_out(platform: sqlite3.Connection, user_id: int, tenant_id: int) -> set[str]:
    rows = platform.execute("SELECT topic FROM notification_optouts WHERE user_id = ? AND tenant_id = ?",
                            (user_id, tenant_id))
    return {r["topic"] for r in rows}


def set_opted_out(platform: sqlite3.Connection, user_id: int, tenant_id: int, topics: set[str],
                  among: set[str] | None = None) -> None:
    """Opt out of ``topics`` (and back in to the rest of ``among``, default every topic)."""
    with platform:
        platform.executemany("DELETE FROM notification_optouts WHERE user_id = ? AND tenant_id = ? AND topic = ?",
                             [(user_id, tenant_id, t) for t in (among if among is not None else set(TOPICS)) - topics])
        platform.executemany("INSERT OR IGNORE INTO notification_optouts (user_id, tenant_id, topic) VALUES (?, ?, ?)",
                             [(user_id, tenant_id, t) for t in topics if t in TOPICS])


def shopper_template(event: Event) -> str | None:
    """The email an order event sends its shopper, if any.

    Manual payments are confirmed when the order is placed (with how to pay) and thanked for when
    the money arrives; card payments are confirmed once paid, since an order left at the card form
    is not an order the shopper made. Cancelling an order the shopper was never told of (an
    abandoned card payment) sends nothing."""
    if event.kind not in ORDER_EVENTS:
        return None
    order = event.data["order"]
    manual = order.get("provider") == "manual"
    if event.kind == "order.placed":
        return "order_confirmation" if manual else None
    if event.kind == "order.paid":
        return "order_paid" if manual else "order_confirmation"
    if event.kind == "order.cancelled":
        told = manual or order.get("payment_status") in ("paid", "partially_refunded", "refunded")
        return "order_cancelled" if told else None
    return {"order.shipped": "order_shipped", "order.refunded": "order_refunded",
            "order.partially_refunded": "order_refunded"}.get(event.kind)


def staff_rule(event: Event) -> StaffRule | None:
    """A new order is news to staff when it is placed (manual payment) or paid (card)."""
    if event.kind in ("order.placed", "order.paid"):
        manual = event.data["order"].get("provider") == "manual"
        return STAFF["new_order"] if (event.kind == "order.placed") == manual else None
    return STAFF.get(event.kind)


def staff(platform: sqlite3.Connection, tenant: str, rule: StaffRule) -> list[str]:
    """Addresses of the site's people with one of the rule's roles who have not opted out."""
    marks = ",".join("?" * len(rule.roles))
    rows = platform.execute(
        f"SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id "
        f"WHERE t.slug = ? AND m.role IN ({marks}) AND NOT EXISTS (SELECT 1 FROM notification_optouts o "
        f"WHERE o.user_id = u.id AND o.tenant_id = t.id AND o.topic = ?) ORDER BY u.id",
        (tenant, *rule.roles, rule.topic))
    return [r["email"].lower() for r in rows]


def endpoints(conn: sqlite3.Connection, event: Event) -> list[int]:
    """Enabled endpoints subscribed to the event (a test event goes to its one endpoint)."""
    if event.kind == "webhook.test":
        row = conn.execute("SELECT id FROM webhook_endpoints WHERE id = ?", (event.data.get("endpoint_id"),)).fetchone()
        return [row["id"]] if row else []
    if event.kind not in PUBLIC_EVENTS:
        return []
    rows = conn.execute("SELECT id, events FROM webhook_endpoints WHERE enabled = 1 ORDER BY id")
    return [r["id"] for r in rows if event.kind in json.loads(r["events"]) or "*" in json.loads(r["events"])]


def plan(conn: sqlite3.Connection, platform: sqlite3.Connection, tenant: str, event: Event, *,
         shop: bool) -> list[Planned]:
    planned: list[Planned] = []
    template = shopper_template(event)
    if template and event.data["order"].get("email"):
        planned.append(Planned("email", event.data["order"]["email"].lower(), template))
    rule = staff_rule(event)
    if rule and (shop or not rule.shop):
        planned += [Planned("email", address, rule.template) for address in staff(platform, tenant, rule)]
    planned += [Planned("webhook", f"endpoint:{n}") for n in endpoints(conn, event)]
    return planned
