"""Refunds of all or part of a paid order: chosen lines (each restocked or not), the shipping, or an
amount, through Stripe for card payments and recorded for manual ones.

A refund is worth what the order's refunded part is worth after it, less what it was worth before:
units at their discounted price, the shipping, and their share of a tax charged on top, each share
rounded down, so that the whole order is worth exactly its total. However an order is refunded
(line by line, unit by unit, shipping first or last) the refunds add up to the total and never
pass it. Each refund goes back in the proportions the order was paid: the gift-card part to the
cards, the rest to the payment provider.

A card refund is written first as pending (holding its amount and units, so that nothing refunds
them twice), then sent to Stripe under its own idempotency key, then completed. A crash between
leaves it pending; the next refund request on the order completes it with the same key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Protocol

from content.migrations import immediate
from content.money import Money, display
from content.registry import now_iso

from ..errors import BadRequest, Conflict
from ..notify import outbox
from .giftcards import refund_to_cards
from .orders import PENDING, TRANSITIONS, Orders

REFUNDABLE = ("paid", "partially_refunded")
MAX_REASON = 500


@dataclass(frozen=True)
class Wanted:
    """Units of one line to refund, and whether they go back on the shelf."""
    sku: str
    quantity: int
    restock: bool = False


class Provider(Protocol):
    """The payment provider's side of a refund (``StripeGateway``)."""

    def refund(self, payment_intent: str, amount: int | None = None, *, key: str | None = None,
               metadata: dict[str, str] | None = None) -> str: ...

    def find_refund(self, payment_intent: str, key: str) -> str | None: ...


@dataclass(frozen=True)
class Plan:
    """What a refund would do, worked out before anything is written (the admin shows it to confirm)."""
    amount: int
    provider_amount: int
    gift_card_amount: int
    lines: list[dict] = field(default_factory=list)  # sku, name, title, quantity, restock, amount (net, before tax)
    shipping: int = 0
    tax: int = 0  # the tax share added on top (prices without tax); 0 when prices include it
    left_after: int = 0
    complete: bool = False  # after it, the whole order is refunded


# -- what a refund is worth -------------------------------------------------------------------------


def _net(line: sqlite3.Row) -> int:
    return line["line_total"] - line["discount"]


def worth(order: sqlite3.Row, lines: list[sqlite3.Row], units: dict[str, int], shipping: bool) -> int:
    """What ``units`` of each line (and the shipping, if ``shipping``) are worth, tax share included.

    Monotone in what is refunded, and exactly the order's total when everything is: so refunds
    taken as differences of it sum to the total, whatever their order and size."""
    base = sum(_net(line) for line in lines) + order["shipping"]
    net = sum(_net(line) * min(units.get(line["sku"], 0), line["quantity"]) // line["quantity"]
              for line in lines if line["quantity"]) + (order["shipping"] if shipping else 0)
    if base <= 0:
        return net
    if order["tax_inclusive"]:
        # A zero-rated sale (export, reverse charge) took the home tax out of the prices: the total
        # is below the lines' sum, and each part is worth its share of what was paid.
        return net if order["total"] >= base else order["total"] * net // base
    return net + order["tax"] * net // base if order["tax"] else net


def _done(conn: sqlite3.Connection, order_id: int) -> tuple[dict[str, int], bool, int, int]:
    """What the order's refunds (pending ones too: they hold their share) took so far: units per
    sku, the shipping, the money, and the part of it that went back to gift cards."""
    units: dict[str, int] = {}
    shipping, money, gift = False, 0, 0
    for row in conn.execute("SELECT amount, gift_card_amount, lines, shipping FROM refunds WHERE order_id = ?",
                            (order_id,)):
        for line in json.loads(row["lines"]):
            units[line["sku"]] = units.get(line["sku"], 0) + line["quantity"]
        shipping = shipping or bool(row["shipping"])
        money += row["amount"]
        gift += row["gift_card_amount"]
    return units, shipping, money, gift


def plan(conn: sqlite3.Connection, order: sqlite3.Row, wanted: list[Wanted], *, amount: int | None = None,
         shipping: bool = False) -> Plan:
    """Check a refund against what is left and work out its amount and its split between tenders.
    Nothing chosen (no lines, no shipping, no amount) means everything that is left."""
    number = order["number"]
    if order["payment_status"] not in REFUNDABLE:
        raise Conflict(f"order {number} is {order['payment_status'].replace('_', ' ')}, so there is nothing to refund",
                       code="not_refundable")
    lines = conn.execute("SELECT * FROM order_lines WHERE order_id = ? ORDER BY sku", (order["id"],)).fetchall()
    by_sku = {line["sku"]: line for line in lines}
    units, shipping_done, refunded, _ = _done(conn, order["id"])
    left = order["total"] - refunded
    if left <= 0:
        raise Conflict(f"order {number} has been refunded in full; nothing is left to refund", code="not_refundable")
    everything = not wanted and not shipping and amount is None
    if everything:
        wanted = [Wanted(l["sku"], l["quantity"] - units.get(l["sku"], 0)) for l in lines
                  if l["quantity"] > units.get(l["sku"], 0)]
        shipping = bool(order["shipping"]) and not shipping_done
    seen: set[str] = set()
    for n, want in enumerate(wanted):
        line = by_sku.get(want.sku)
        if line is None:
            raise BadRequest(f"order {number} has no line with the sku {want.sku!r}", field=f"lines[{n}].sku",
                             code="unknown_sku")
        if want.sku in seen:
            raise BadRequest(f"{want.sku} is listed twice; give its quantity once", field=f"lines[{n}].sku")
        seen.add(want.sku)
        if isinstance(want.quantity, bool) or not isinstance(want.quantity, int) or want.quantity < 1:
            raise BadRequest("quantity must be a whole number of at least 1", field=f"lines[{n}].quantity")
        open_units = line["quantity"] - units.get(want.sku, 0)
        if want.quantity > open_units:
            raise Conflict(f"only {open_units} of {want.sku} can still be refunded ({line['quantity']} bought, "
                           f"{units.get(want.sku, 0)} refunded)", field=f"lines[{n}].quantity", code="too_many")
        if want.restock and order["status"] == "cancelled":
            raise Conflict(f"order {number} was cancelled, so its items are back in stock already; refund "
                           "without restocking", field=f"lines[{n}].restock", code="already_restocked")
    if shipping and not everything:
        if not order["shipping"]:
            raise BadRequest(f"order {number} has no shipping charge to refund", field="shipping")
        if shipping_done:
            raise Conflict(f"the shipping of order {number} has been refunded already", field="shipping",
                           code="too_many")
    after = dict(units)
    for want in wanted:
        after[want.sku] = after.get(want.sku, 0) + want.quantity
    before_worth = worth(order, lines, units, shipping_done)
    after_worth = worth(order, lines, after, shipping_done or shipping)
    full = all(after.get(l["sku"], 0) >= l["quantity"] for l in lines) and (shipping_done or shipping
                                                                              or not order["shipping"])
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise BadRequest("amount must be a whole number of minor units (pence, cents) of at least 1",
                             field="amount")
        if amount > left:
            raise Conflict(f"only {display(Money(left, order['currency']))} is left to refund on order {number}",
                           field="amount", code="too_much")
    else:
        # Everything refunded: exactly what is left, so no rounding (or an earlier smaller refund of
        # some lines) can leave a remainder behind.
        amount = left if full else min(after_worth - before_worth, left)
    if amount <= 0:
        raise Conflict("what was chosen is worth nothing (the lines were free, or what is left has been refunded "
                       "as an amount); set stock on the product's page instead", field="lines",
                       code="nothing_to_refund")
    line_parts = []
    for want in wanted:
        line, had = by_sku[want.sku], units.get(want.sku, 0)
        part = _net(line) * (had + want.quantity) // line["quantity"] - _net(line) * had // line["quantity"]
        line_parts.append({"sku": want.sku, "name": line["name"], "title": line["title"], "quantity": want.quantity,
                           "restock": bool(want.restock and line["track_stock"]), "amount": part})
    shipping_part = order["shipping"] if shipping else 0
    # The gift-card share is that of the money refunded so far, as a whole: the cards get back
    # exactly what they paid once everything is refunded.
    gift = order["gift_card"] * (refunded + amount) // order["total"] - order["gift_card"] * refunded // order["total"]
    tax = 0 if order["tax_inclusive"] else max(after_worth - before_worth - sum(p["amount"] for p in line_parts)
                                               - shipping_part, 0)
    return Plan(amount, amount - gift, gift, line_parts, shipping_part, tax, left - amount,
                refunded + amount >= order["total"])


def preview(conn: sqlite3.Connection, number: int, wanted: list[Wanted], *, amount: int | None = None,
            shipping: bool = False) -> Plan:
    """What a refund would come to now, writing nothing (the admin's confirmation page)."""
    return plan(conn, Orders(conn)._row(conn, number), wanted, amount=amount, shipping=shipping)


# -- making a refund --------------------------------------------------------------------------------


def refund(conn: sqlite3.Connection, number: int, *, lines: list[Wanted] | tuple[Wanted, ...] = (),
           amount: int | None = None, shipping: bool = False, reason: str = "", actor: str,
           provider: Provider | None = None, key: str | None = None) -> dict:
    """Refund part or all of order ``number``; returns the order with every refund.

    ``key`` (the request's Idempotency-Key) makes a retried request return the refund it made the
    first time instead of making another. ``provider`` is needed for card orders."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise BadRequest(f"the reason is too long (at most {MAX_REASON} characters)", field="reason")
    wanted = list(lines)
    orders = Orders(conn)
    order = orders._row(conn, number)
    fingerprint = hashlib.sha256(json.dumps([number, [w.__dict__ for w in wanted], amount, shipping, reason],
                                            sort_keys=True).encode()).hexdigest()
    if key:
        seen = conn.execute("SELECT * FROM idempotency_keys WHERE key = ?", (_key(key),)).fetchone()
        if seen:
            if seen["order_id"] != order["id"] or seen["request_hash"] != fingerprint:
                raise Conflict("this Idempotency-Key was used for a different refund", code="idempotency_mismatch")
            finish_pending(conn, number, provider, only=json.loads(seen["response"])["refund_id"])
            return orders.get(number)
    if finish_pending(conn, number, provider):
        raise Conflict(f"an earlier refund of order {number} had not completed; it has now. Look at the order's "
                       "refunds, then send this one again if it is still wanted", code="refund_completed")
    with immediate(conn):
        order = orders._row(conn, number)
        chosen = plan(conn, order, wanted, amount=amount, shipping=shipping)
        card = chosen.provider_amount > 0 and order["provider"] == "stripe"
        if card and provider is None:
            raise Conflict("this shop's card payments are not set up, so a card payment cannot be refunded",
                           code="payments_not_configured")
        refund_id = conn.execute(
            "INSERT INTO refunds (order_id, amount, provider_amount, gift_card_amount, lines, shipping, reason, "
            "provider_ref, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (order["id"], chosen.amount, chosen.provider_amount, chosen.gift_card_amount, json.dumps(chosen.lines),
             chosen.shipping, reason, PENDING if card else None, actor, now_iso())).lastrowid
        if key:
            conn.execute("INSERT INTO idempotency_keys (key, request_hash, order_id, response, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (_key(key), fingerprint, order["id"],
                                                    json.dumps({"refund_id": refund_id}), now_iso()))
        if not card:
            _apply(conn, orders, number, refund_id)
    if card:
        _send(conn, orders, number, refund_id, provider, resuming=False)  # type: ignore[arg-type]
    return orders.get(number)


def _key(key: str) -> str:
    return f"refund:{key}"  # checkout keys share the table


def finish_pending(conn: sqlite3.Connection, number: int, provider: Provider | None, *,
                   only: int | None = None) -> list[int]:
    """Complete the order's refunds left pending by a crash or an unanswered call to the provider,
    asking it first whether it made them. Returns the ids completed."""
    order = Orders(conn)._row(conn, number)
    rows = conn.execute("SELECT id FROM refunds WHERE order_id = ? AND provider_ref = ? ORDER BY id",
                        (order["id"], PENDING)).fetchall()
    ids = [r["id"] for r in rows if only is None or r["id"] == only]
    if ids and provider is None:
        raise Conflict("this shop's card payments are not set up, so a pending card refund cannot complete",
                       code="payments_not_configured")
    for refund_id in ids:
        _send(conn, Orders(conn), number, refund_id, provider, resuming=True)  # type: ignore[arg-type]
    return ids


def _send(conn: sqlite3.Connection, orders: Orders, number: int, refund_id: int, provider: Provider, *,
          resuming: bool) -> None:
    """Ask the provider for a pending refund's money back, then complete it; a refusal removes it."""
    row = conn.execute("SELECT r.*, o.provider_ref AS payment FROM refunds r JOIN orders o ON o.id = r.order_id "
                       "WHERE r.id = ?", (refund_id,)).fetchone()
    key = f"order-{number}-refund-{refund_id}-{row['created_at']}"
    try:
        reference = provider.find_refund(row["payment"], key) if resuming else None
        reference = reference or provider.refund(row["payment"], row["provider_amount"], key=key,
                                                 metadata={"order_number": str(number)})
    except Conflict as exc:
        if exc.code == "refund_refused":  # a final no: nothing was refunded, so nothing is held
            with immediate(conn):
                conn.execute("DELETE FROM refunds WHERE id = ? AND provider_ref = ?", (refund_id, PENDING))
                conn.execute("DELETE FROM idempotency_keys WHERE key LIKE 'refund:%' AND "
                             "json_extract(response, '$.refund_id') = ?", (refund_id,))
        raise
    with immediate(conn):
        taken = conn.execute("UPDATE refunds SET provider_ref = ? WHERE id = ? AND provider_ref = ?",
                             (reference, refund_id, PENDING)).rowcount
        if taken:  # another request may have completed it meanwhile
            _apply(conn, orders, number, refund_id)


def _apply(conn: sqlite3.Connection, orders: Orders, number: int, refund_id: int) -> None:
    """A refund's effects, inside the caller's transaction: stock back, gift cards credited, the
    order's refunded sum and payment state, and the event that tells the shopper."""
    row = conn.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
    order = orders._row(conn, number)
    for line in json.loads(row["lines"]):
        if line["restock"]:
            conn.execute("UPDATE stock SET on_hand = on_hand + ?, updated_at = ? WHERE sku = ?",
                         (line["quantity"], now_iso(), line["sku"]))
    if row["gift_card_amount"]:
        refund_to_cards(conn, order["id"], row["gift_card_amount"], row["actor"])
    refunded = order["refunded"] + row["amount"]
    complete = refunded >= order["total"]
    conn.execute("UPDATE orders SET refunded = ?, payment_status = ?, updated_at = ? WHERE id = ?",
                 (refunded, "refunded" if complete else "partially_refunded", now_iso(), order["id"]))
    data = {"refund": public(row), "partial": not complete}
    if complete and "refunded" in TRANSITIONS[order["status"]]:
        orders.move(conn, orders._row(conn, number), "refunded", actor=row["actor"], note="refunded",
                    payment_status="refunded", event_data=data)
        return
    # Partly refunded, or a cancelled order given its money back: the status stays.
    outbox.record(conn, "order.refunded" if complete else "order.partially_refunded",
                  {"order": orders._event_order(order["id"]), "from_status": order["status"],
                   "actor_kind": "staff", **data}, subject=number)


def from_provider(conn: sqlite3.Connection, number: int, refunded: int | None, *, full: bool) -> str:
    """Stripe says ``refunded`` of the payment is refunded in all (``full``: all of it). Record, as one
    refund without lines, what the order's own refunds do not account for: a refund made in
    Stripe's dashboard. Our own refunds, pending ones included, change nothing."""
    orders = Orders(conn)
    with immediate(conn):
        order = orders._row(conn, number)
        known = conn.execute("SELECT COALESCE(SUM(provider_amount), 0) FROM refunds WHERE order_id = ?",
                             (order["id"],)).fetchone()[0]
        paid = order["total"] - order["gift_card"]
        missing = (refunded if refunded is not None else paid if full else known) - known
        _, _, money, _ = _done(conn, order["id"])
        amount = min(missing, order["total"] - money)
        if order["payment_status"] not in REFUNDABLE or amount <= 0:
            return "refund already recorded"
        refund_id = conn.execute(
            "INSERT INTO refunds (order_id, amount, provider_amount, gift_card_amount, lines, shipping, reason, "
            "provider_ref, actor, created_at) VALUES (?, ?, ?, 0, '[]', 0, 'refunded in Stripe', NULL, 'stripe', ?)",
            (order["id"], amount, amount, now_iso())).lastrowid
        _apply(conn, orders, number, refund_id)
    return "refunded"


def public(row: sqlite3.Row) -> dict:
    return {"id": row["id"], "amount": row["amount"], "provider_amount": row["provider_amount"],
            "gift_card_amount": row["gift_card_amount"], "lines": json.loads(row["lines"]),
            "shipping": row["shipping"], "reason": row["reason"], "created_at": row["created_at"]}
