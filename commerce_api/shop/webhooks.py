"""Payment events: stored once by event id, then applied to the order, in any arrival order.

An event whose order does not exist yet stays stored unprocessed and is applied as soon as the
order appears (``apply_pending``), so a webhook that beats the order's commit is never lost.
"""

from __future__ import annotations

import json
import sqlite3

from content.registry import now_iso

from ..errors import NotFound
from . import refunds
from .orders import Orders

HANDLED = {"checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.expired",
           "checkout.session.async_payment_failed", "payment_intent.payment_failed", "charge.refunded"}


def _order_number(event: dict) -> int | None:
    obj = (event.get("data") or {}).get("object") or {}
    value = (obj.get("metadata") or {}).get("order_number") or obj.get("client_reference_id")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def record(conn: sqlite3.Connection, event: dict) -> bool:
    """Store the event; False when this event id was seen before (a replay)."""
    with conn:
        cursor = conn.execute("INSERT OR IGNORE INTO payment_events (event_id, type, order_number, payload, received_at) "
                              "VALUES (?, ?, ?, ?, ?)", (event["id"], event["type"], _order_number(event),
                                                         json.dumps(event), now_iso()))
    return cursor.rowcount == 1


def apply_pending(conn: sqlite3.Connection, order_number: int | None = None) -> list[str]:
    """Apply stored events not yet processed (all, or one order's), oldest first."""
    sql = "SELECT * FROM payment_events WHERE processed_at IS NULL"
    params: tuple = ()
    if order_number is not None:
        sql += " AND order_number = ?"
        params = (order_number,)
    outcomes = []
    for row in conn.execute(sql + " ORDER BY received_at, event_id", params).fetchall():
        outcome = _apply(conn, json.loads(row["payload"]))
        if outcome != "waiting":
            with conn:
                conn.execute("UPDATE payment_events SET processed_at = ?, outcome = ? WHERE event_id = ? "
                             "AND processed_at IS NULL", (now_iso(), outcome, row["event_id"]))
        outcomes.append(outcome)
    return outcomes


def _apply(conn: sqlite3.Connection, event: dict) -> str:
    kind = event["type"]
    if kind not in HANDLED:
        return "ignored"
    number = _order_number(event)
    if number is None and kind == "charge.refunded":  # a charge carries its payment's id, not our metadata
        row = conn.execute("SELECT number FROM orders WHERE provider = 'stripe' AND provider_ref = ?",
                           (str(event["data"]["object"].get("payment_intent") or ""),)).fetchone()
        number = row["number"] if row else None
    if number is None:
        return "no order in the event"
    orders = Orders(conn)
    try:
        order = orders.get(number)
    except NotFound:
        return "waiting"  # the order has not committed yet: keep the event for later
    obj = event["data"]["object"]
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            return "not paid yet"
        if order["status"] == "cancelled":
            return "paid after cancellation: refund needed"  # surfaced to staff, never silently restocked
        orders.mark_paid(number, actor="stripe", reference=obj.get("payment_intent") or obj.get("id"))
        return "paid"
    if kind in ("checkout.session.expired", "checkout.session.async_payment_failed", "payment_intent.payment_failed"):
        if order["payment_status"] == "paid":
            return "already paid"
        orders.close_unpaid(number, reason="expired" if kind.endswith("expired") else "payment failed", actor="stripe")
        return "closed"
    if kind == "charge.refunded":
        # Sent for our own refunds too, partial ones included: only money refunded in Stripe
        # beyond what the order's refunds account for is recorded, as a refund by "stripe".
        amount = obj.get("amount_refunded")
        return refunds.from_provider(conn, number, amount if isinstance(amount, int) else None,
                                     full=bool(obj.get("refunded")))
    return "ignored"


def reconcile(conn: sqlite3.Connection, gateway) -> dict[int, str]:
    """Ask Stripe about unpaid card orders, for webhooks that never arrived."""
    orders = Orders(conn)
    results = {}
    rows = conn.execute("SELECT number, provider_ref FROM orders WHERE provider = 'stripe' AND status = 'pending' "
                        "AND payment_status = 'pending' AND provider_ref IS NOT NULL").fetchall()
    for row in rows:
        state = gateway.session_state(row["provider_ref"])
        if state == "paid":
            orders.mark_paid(row["number"], actor="reconcile", reference=row["provider_ref"])
        elif state == "expired":
            orders.close_unpaid(row["number"], reason="expired", actor="reconcile")
        results[row["number"]] = state
    return results
