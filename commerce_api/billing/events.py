"""The operator's Stripe events: stored once by event id, then the subscription they concern is read
from Stripe and its current state applied. An event already processed is a duplicate and does nothing;
one stored but not processed (Stripe was unreachable while we applied it) is applied when it comes again.
"""

from __future__ import annotations

import json

from content.registry import now_iso

from .service import Billing

HANDLED = ("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
           "customer.subscription.trial_will_end", "invoice.paid", "invoice.payment_failed")


def subscription_id(event: dict) -> str | None:
    """The subscription an event concerns: the object itself, or the invoice's subscription (where the
    pinned API version puts it, or where later versions do)."""
    obj = _object(_object(event.get("data")).get("object"))
    if obj.get("object") == "subscription":
        return obj.get("id") if isinstance(obj.get("id"), str) else None
    found = obj.get("subscription")
    if isinstance(found, dict):
        found = found.get("id")
    if not found:
        found = _object(_object(obj.get("parent")).get("subscription_details")).get("subscription")
    return found if isinstance(found, str) else None


def _object(value: object) -> dict:
    """A JSON object of an event, or an empty one where the event has something else (never a 500)."""
    return value if isinstance(value, dict) else {}


def _type(event: dict) -> str:
    kind = event.get("type")
    return kind if isinstance(kind, str) else ""


def record(billing: Billing, event: dict) -> bool:
    """Store the event; False when it was already processed (a replay)."""
    conn = billing.registry.conn
    with conn:
        conn.execute("INSERT OR IGNORE INTO billing_events (event_id, type, subscription_id, payload, received_at) "
                     "VALUES (?, ?, ?, ?, ?)", (event["id"], _type(event), subscription_id(event),
                                                json.dumps(event, sort_keys=True), now_iso()))
    row = conn.execute("SELECT processed_at FROM billing_events WHERE event_id = ?", (event["id"],)).fetchone()
    return row["processed_at"] is None


def handle(billing: Billing, event: dict) -> dict:
    """Apply one verified event; the answer the webhook gives Stripe."""
    if not isinstance(event.get("id"), str):
        return {"received": True, "duplicate": False, "outcome": "not an event"}
    if not record(billing, event):
        return {"received": True, "duplicate": True}
    found = subscription_id(event)
    if _type(event) not in HANDLED or not found:
        outcome = "ignored"
    else:
        # Stripe unreachable raises here: the event stays unprocessed and Stripe sends it again.
        outcome = billing.sync(found)
    with billing.registry.conn as conn:
        conn.execute("UPDATE billing_events SET processed_at = ?, outcome = ? WHERE event_id = ?",
                     (now_iso(), outcome, event["id"]))
    return {"received": True, "duplicate": False, "outcome": outcome}
