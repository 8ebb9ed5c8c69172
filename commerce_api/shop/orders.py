"""Checkout, stock reservations and the order life cycle.

Checkout runs in one ``BEGIN IMMEDIATE`` transaction: SQLite admits one writer at a time, stock rows
are touched in sku order, and each reservation is a conditional UPDATE (``on_hand - reserved >= n``),
so concurrent checkouts for the last units can never oversell and never leave half an order.

    pending ──paid──▶ processing ──▶ shipped ──▶ delivered
       │                  │             │            │
       └──▶ cancelled ◀───┘             └──▶ refunded ◀┘   (processing → refunded too)

Cancelling an unpaid order releases its reservation; cancelling a paid one restocks it (less what
refunds restocked); payment converts the reservation into a sale. Every change goes through
``set_status`` (or ``move``, inside a caller's transaction). Refunds, in part or in full, are
``refunds.py``'s: the payment becomes ``partially_refunded``, and the last refund moves the order
to ``refunded``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from content.fields import is_email
from content.migrations import immediate
from content.plans import orders_this_month
from content.registry import now_iso

from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..notify import outbox
from content.eu_vat import normalise_vat_number, vat_number_country

from .carriers import carrier_key, carrier_name, tracking_url
from . import giftcards, pickup
from .payments import PaymentStart
from .carts import country_code, token_hash, valid_method
from .pricing import Rules, quote
from .shipping import Destination

log = logging.getLogger(__name__)

TRANSITIONS: dict[str, set[str]] = {
    "pending": {"processing", "cancelled"},
    "processing": {"shipped", "cancelled", "refunded"},
    "shipped": {"delivered", "refunded"},
    "delivered": {"refunded"},
    "cancelled": set(),
    "refunded": set(),
}
STATUSES = tuple(TRANSITIONS)
_EVENT_FOR = {"processing": "order.paid", "shipped": "order.shipped", "delivered": "order.delivered",
              "cancelled": "order.cancelled", "refunded": "order.refunded"}
PAYMENT_TTL = {"manual": timedelta(days=3), "stripe": timedelta(hours=1)}
START_TTL = timedelta(minutes=15)  # an order whose payment never started holds its stock this long
FIRST_NUMBER = 1001
PENDING = "pending"  # a refund's provider_ref while the payment provider has not confirmed it
ADDRESS_FIELDS = {"name": 200, "line1": 200, "line2": 200, "city": 100, "postal_code": 20, "country": 40}
OPTIONAL_FIELDS = ("line2", "region")  # region: a state or province, where tax depends on it


@dataclass(frozen=True)
class CheckoutDetails:
    email: str
    shipping_address: dict | None  # only a name is needed for pickup
    billing_address: dict | None
    shipping_method: str  # a shipping option's id, or "delivery"/"pickup" for the first of that kind
    # A code that stopped applying since the cart was shown (used up, expired) refuses the checkout
    # unless the shopper said to go on at full price.
    accept_without_discount: bool = False
    pickup_slot: str | None = None  # the chosen slot's start, as shipping-options lists it
    vat_number: str | None = None  # a business buyer's: reverse charge inside the EU when it is well-formed

    @property
    def pickup(self) -> bool:
        return self.shipping_method == "pickup" or self.shipping_method.startswith("pickup/")

    def destination(self) -> Destination | None:
        address = self.shipping_address if self.shipping_address and self.shipping_address.get("country") \
            else self.billing_address
        if not address or not address.get("country"):
            return None
        return Destination(address["country"], address.get("postal_code", ""), address.get("region", ""))


def validate(details: CheckoutDetails, rules: Rules) -> CheckoutDetails:
    email = (details.email or "").strip()
    if not is_email(email):
        raise BadRequest("enter a valid email address", field="email", code="invalid_email")
    method = valid_method(details.shipping_method)
    details = CheckoutDetails(email, details.shipping_address, details.billing_address, method,
                              bool(details.accept_without_discount), details.pickup_slot, details.vat_number)
    if details.pickup:  # collected in person: a name to hand it to, no postal address
        shipping = _collector(details.shipping_address)
    elif details.shipping_address is None:
        shipping = None  # enough only for a basket of gift cards: checkout asks once it has priced the cart
    else:
        shipping = _address(details.shipping_address, "shipping_address")
    billing = _address(details.billing_address, "billing_address") if details.billing_address else shipping
    vat = None
    if details.vat_number is not None and str(details.vat_number).strip():
        vat = normalise_vat_number(str(details.vat_number))
        if len(vat) > 20 or vat_number_country(vat) is None:
            raise BadRequest("enter an EU VAT number with its country prefix, such as DE123456789 (only its form is "
                             "checked)", field="vat_number", code="invalid_vat_number")
    slot = details.pickup_slot.strip() if isinstance(details.pickup_slot, str) and details.pickup_slot.strip() else None
    return CheckoutDetails(email, shipping, billing, method, details.accept_without_discount, slot, vat)


def _collector(value: dict | None) -> dict:
    raw = (value or {}).get("name", "")
    name = raw.strip() if isinstance(raw, str) else ""
    if not name:
        raise BadRequest("name is required (who collects the order)", field="shipping_address.name", code="required")
    if len(name) > ADDRESS_FIELDS["name"]:
        raise BadRequest("name is too long", field="shipping_address.name")
    return {**dict.fromkeys(ADDRESS_FIELDS, ""), "name": name}


def _address(value: object, name: str) -> dict:
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object with name, line1, city, postal_code and country", field=name)
    clean = {}
    for key, limit in {**ADDRESS_FIELDS, "region": 100}.items():
        raw = value.get(key, "")
        text = raw.strip() if isinstance(raw, str) else None
        if text is None or (not text and key not in OPTIONAL_FIELDS):
            raise BadRequest(f"{key.replace('_', ' ')} is required", field=f"{name}.{key}", code="required")
        if len(text) > limit:
            raise BadRequest(f"{key.replace('_', ' ')} is too long", field=f"{name}.{key}")
        clean[key] = text
    clean["country"] = country_code(clean["country"], f"{name}.country")
    return clean


class Orders:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- checkout ---------------------------------------------------------------------------

    def checkout(self, cart_token: str, details: CheckoutDetails, *, provider: str,
                 idempotency_key: str | None, secret_key: str | None = None,
                 within_plan: Callable[[Callable[[], int]], None] | None = None,
                 local_start: Callable[[dict], PaymentStart] | None = None) -> tuple[dict, str | None, bool]:
        """Returns (order, the shopper's order token, created?).

        ``local_start(order)``: a payment provider that needs no network (manual payment) starts the
        payment here, in the order's own transaction: one write per checkout instead of two. A
        provider that calls out (Stripe) starts after the commit, never inside the write lock.

        Gift cards in the cart are spent here, in the order they were added; an order they pay in
        full is paid at once (provider ``gift_card``). Gift cards bought are made here and come to
        life with the payment; sealing their codes needs the platform's ``secret_key``.

        The idempotency record, holding the shopper's token, commits with the order: a retry after
        anything that happens later (a failed payment provider, a crash) finds the order and its
        token, never a half answer. The order holds its stock for ``START_TTL`` until payment starts.

        ``within_plan(count)`` (``count()``: the orders this month, counted only when asked) may refuse a new order (the plan's ``orders_per_month``): it
        runs in the write transaction before anything is reserved, so a refusal leaves nothing behind
        and two checkouts cannot both take the month's last order. A retried checkout that already
        placed its order still gets it.
        """
        rules = Rules.load(self.conn)
        details = validate(details, rules)
        fingerprint = hashlib.sha256(json.dumps([token_hash(cart_token), details.__dict__], sort_keys=True)
                                     .encode()).hexdigest()
        with immediate(self.conn) as conn:
            if idempotency_key:
                seen = conn.execute("SELECT * FROM idempotency_keys WHERE key = ?", (idempotency_key,)).fetchone()
                if seen:
                    if seen["request_hash"] != fingerprint:
                        raise Conflict("this Idempotency-Key was used for a different checkout",
                                       code="idempotency_mismatch")
                    saved = json.loads(seen["response"] or "{}")
                    token = saved.get("token") or (saved.get("order") or {}).get("token")  # older records
                    return self._by_id(seen["order_id"]), token, False
            if within_plan is not None:
                within_plan(lambda: orders_this_month(conn))
            cart = conn.execute("SELECT * FROM carts WHERE token_hash = ?", (token_hash(cart_token),)).fetchone()
            if cart is None:
                raise NotFound("no such cart", field="cart_token", code="cart_not_found")
            if cart["ordered_at"]:
                raise Conflict("this cart has already been checked out", field="cart_token", code="cart_closed")
            rows = conn.execute("SELECT sku, quantity FROM cart_lines WHERE cart_id = ? ORDER BY sku",
                                (cart["id"],)).fetchall()
            codes = [r["code"] for r in conn.execute("SELECT code FROM cart_discounts WHERE cart_id = ? "
                                                     "ORDER BY added_at, code", (cart["id"],))]
            # Discounts are worked out again here, inside the write lock: usage limits are read and
            # consumed in one transaction, so no two checkouts can both take a code's last use.
            priced = quote(conn, [(r["sku"], r["quantity"], None) for r in rows], method=details.shipping_method,
                           destination=details.destination(), vat_number=details.vat_number, codes=codes,
                           email=details.email)
            if priced.needs_shipping and details.shipping_address is None:  # gift cards alone go by email
                raise BadRequest("a shipping address is needed for delivery", field="shipping_address",
                                 code="required")
            if priced.needs_shipping and priced.option is None:
                country = (details.shipping_address or {}).get("country", "")
                if not details.pickup and _no_zone(priced.shipping_problem, country):
                    raise BadRequest(priced.shipping_problem or "", field="shipping_address.country",
                                     code="country_not_served")
                raise Conflict(priced.shipping_problem or "that shipping option does not apply", field="shipping_method",
                               code="shipping_unavailable")
            lost = [c for c in priced.codes if c["blocking"]]
            if lost and not details.accept_without_discount:
                raise Conflict(f"the code {lost[0]['code']} {lost[0]['reason']}; remove it, or check out at the full "
                               f"price (accept_without_discount)", field="discount", code="discount_unavailable")
            if priced.unavailable:
                raise Conflict(f"{priced.unavailable[0]} is no longer sold; remove it from the cart", field="sku",
                               code="unavailable")
            if not priced.lines:
                raise BadRequest("the cart is empty", field="cart_token", code="empty_cart")
            for line in sorted(priced.lines, key=lambda l: l.sku):
                if line.track_stock:
                    left = self._reserve(conn, line.sku, line.name, line.quantity)
                    if left <= rules.low_stock < left + line.quantity:  # this order took it to the threshold
                        outbox.record(conn, "stock.low", {"stock": {
                            "sku": line.sku, "name": line.name, "title": line.title, "available": left,
                            "threshold": rules.low_stock}}, subject=line.sku)
            number = conn.execute("SELECT COALESCE(MAX(number), ?) + 1 FROM orders", (FIRST_NUMBER - 1,)).fetchone()[0]
            shopper_token = "ord_" + secrets.token_urlsafe(24)
            stamp = datetime.now(timezone.utc)
            cursor = conn.execute(
                "INSERT INTO orders (number, token_hash, email, status, payment_status, provider, currency, subtotal, "
                "discount, shipping, tax, tax_inclusive, total, shipping_method, shipping_option, shipping_name, "
                "shipping_estimate, vat_number, tax_note, shipping_address, billing_address, "
                "catalog_version, created_at, updated_at, expires_at) "
                "VALUES (?, ?, ?, 'pending', 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, token_hash(shopper_token), details.email, provider, priced.currency, priced.subtotal,
                 priced.discount, priced.shipping, priced.tax, int(priced.tax_inclusive), priced.total,
                 priced.shipping_method, priced.option.id if priced.option else None,
                 priced.option.name if priced.option else "", priced.option.estimate if priced.option else "",
                 details.vat_number, priced.tax_note,
                 json.dumps(details.shipping_address), json.dumps(details.billing_address),
                 self._catalog_version(conn), stamp.isoformat(timespec="seconds"),
                 stamp.isoformat(timespec="seconds"), (stamp + START_TTL).isoformat(timespec="seconds")))
            order_id = cursor.lastrowid
            conn.executemany("INSERT INTO order_lines (order_id, sku, name, title, quantity, unit_price, line_total, "
                             "track_stock, discount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [(order_id, l.sku, l.name, l.title, l.quantity, l.unit_price, l.total, int(l.track_stock),
                               l.discount) for l in priced.lines])
            conn.executemany("INSERT INTO order_tax_lines (order_id, jurisdiction, category, rate, base, amount, note) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(order_id, t.jurisdiction, t.category, t.public()["rate"], t.base, t.amount, t.note)
                              for t in priced.tax_lines])
            if priced.option is not None and priced.option.kind == "pickup":
                held = pickup.book(conn, priced.option.location or {}, details.pickup_slot, rules.timezone, order_id)
                conn.execute("UPDATE orders SET pickup = ? WHERE id = ?", (json.dumps(held), order_id))
            self._use_discounts(conn, order_id, details.email, priced)
            skus = giftcards.gift_card_skus(conn)
            tender = giftcards.spend(conn, cart["id"], order_id, priced.total, priced.currency,
                                     gift_value=giftcards.gift_value(priced.lines, skus), actor="shopper")
            if tender:  # paid in full by gift cards: no payment provider is involved
                conn.execute("UPDATE orders SET gift_card = ?, provider = CASE WHEN ? THEN 'gift_card' ELSE provider END "
                             "WHERE id = ?", (tender, tender == priced.total, order_id))
            giftcards.prepare_for_order(conn, order_id, priced.lines, priced.currency, secret_key=secret_key, skus=skus)
            conn.execute("INSERT INTO order_history (order_id, at, from_status, to_status, actor) "
                         "VALUES (?, ?, NULL, 'pending', 'shopper')", (order_id, now_iso()))
            conn.execute("UPDATE carts SET ordered_at = ? WHERE id = ?", (now_iso(), cart["id"]))
            placed = self._by_id(order_id)  # read once: the event's and (unless paid here) the answer's
            outbox.record(conn, "order.placed", {"order": self._for_event(placed)}, subject=number)
            if local_start is not None and not (tender and tender == priced.total):
                self._start_locally(conn, placed, local_start)
            if tender and tender == priced.total:
                placed = None
                self._move(conn, conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone(),
                           "processing", actor="shopper", note="paid by gift card", payment_status="paid")
                outbox.record(conn, "order.paid", {"order": self._event_order(order_id), "from_status": "pending",
                                                   "actor_kind": "shopper"}, subject=number)
            if idempotency_key:
                conn.execute("INSERT INTO idempotency_keys (key, request_hash, order_id, response, created_at) "
                             "VALUES (?, ?, ?, ?, ?)", (idempotency_key, fingerprint, order_id,
                                                        json.dumps({"token": shopper_token}), now_iso()))
        return placed if placed is not None else self._by_id(order_id), shopper_token, True

    @staticmethod
    def _use_discounts(conn: sqlite3.Connection, order_id: int, email: str, priced) -> None:
        """Consume each applied discount's use and keep it with the order as applied: a later change
        to the discount never changes a placed order."""
        stamp = now_iso()
        for applied in priced.discounts:
            d = applied.discount
            taken = conn.execute("UPDATE discounts SET uses = uses + 1, updated_at = ? WHERE id = ? AND status = 'active' "
                                 "AND (usage_limit IS NULL OR uses < usage_limit)", (stamp, d.id)).rowcount
            if not taken:  # cannot happen inside this transaction; refuse rather than give it twice
                raise Conflict(f"the code {d.label} has been used as many times as it may be", field="discount",
                               code="discount_unavailable")
            conn.execute("INSERT INTO discount_uses (discount_id, order_id, email, amount, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (d.id, order_id, email, applied.amount, stamp))
            conn.execute("INSERT INTO order_discounts (order_id, discount_id, code, title, amount, shipping, lines) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (order_id, d.id, d.code, d.title or d.label, applied.amount,
                                                          applied.shipping, json.dumps(applied.lines, sort_keys=True)))

    def payment_started(self, number: int, provider: str, payment: dict, reference: str | None) -> dict:
        """Record how the shopper pays, once: the first start wins and its provider's payment time
        begins now. Returns the recorded start (another request's, if that one won)."""
        expires = self._payment_expires(self.conn, number, provider)
        with immediate(self.conn) as conn:
            self._record_start(conn, number, provider, payment, reference, expires)
        return self.payment(number) or payment

    @staticmethod
    def _payment_expires(conn: sqlite3.Connection, number: int, provider: str) -> str:
        """When an order whose payment starts now lets its stock go: its provider's payment time, and
        for a collection at the latest when its slot begins."""
        expires = (datetime.now(timezone.utc) + PAYMENT_TTL[provider]).isoformat(timespec="seconds")
        row = conn.execute("SELECT pickup FROM orders WHERE number = ?", (number,)).fetchone()
        slot = (json.loads(row["pickup"]) or {}).get("start") if row and row["pickup"] else None
        if slot:  # an unpaid collection holds its place until the slot begins at the latest
            expires = min(expires, datetime.fromisoformat(slot).isoformat(timespec="seconds"))
        return expires

    @staticmethod
    def _record_start(conn: sqlite3.Connection, number: int, provider: str, payment: dict, reference: str | None,
                      expires: str) -> None:
        conn.execute("UPDATE orders SET payment = ?, provider = ?, provider_ref = COALESCE(?, provider_ref), "
                     "expires_at = ?, updated_at = ? WHERE number = ? AND payment IS NULL AND status = 'pending'",
                     (json.dumps(payment), provider, reference, expires, now_iso(), number))

    def _start_locally(self, conn: sqlite3.Connection, order: dict, start: Callable[[dict], PaymentStart]) -> None:
        """Start a local provider's payment inside the checkout's transaction. A provider that fails
        leaves the order as a checkout without it would: its payment starts after the commit."""
        try:
            begun = start(order)
        except ApiError:  # the provider's refusal: start_payment tries again after the commit, and says why
            return
        except Exception:  # noqa: BLE001 (the order stands; start_payment tries again and reports)
            log.exception("the payment of order %s could not start with the order", order["number"])
            return
        self._record_start(conn, order["number"], begun.provider, begun.public(), begun.reference,
                           self._payment_expires(conn, order["number"], begun.provider))

    def payment(self, number: int) -> dict | None:
        """The recorded payment start (redirect or instructions), None while none has succeeded."""
        row = self.conn.execute("SELECT payment FROM orders WHERE number = ?", (number,)).fetchone()
        return json.loads(row["payment"]) if row and row["payment"] else None

    @staticmethod
    def _reserve(conn: sqlite3.Connection, sku: str, name: str, quantity: int) -> int:
        """Hold ``quantity`` units; returns the units left to sell."""
        cursor = conn.execute("UPDATE stock SET reserved = reserved + ?, updated_at = ? "
                              "WHERE sku = ? AND on_hand - reserved >= ?", (quantity, now_iso(), sku, quantity))
        if cursor.rowcount == 0:
            row = conn.execute("SELECT on_hand - reserved AS left FROM stock WHERE sku = ?", (sku,)).fetchone()
            left = row["left"] if row else 0
            raise Conflict(f"{name} ({sku}) is out of stock" + (f": only {left} left" if left > 0 else ""),
                           field="sku", code="out_of_stock")
        return conn.execute("SELECT on_hand - reserved FROM stock WHERE sku = ?", (sku,)).fetchone()[0]

    @staticmethod
    def _catalog_version(conn: sqlite3.Connection) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key = 'catalog_version'").fetchone()
        return row["value"] if row else ""

    # -- life cycle -------------------------------------------------------------------------

    def set_status(self, number: int, status: str, *, actor: str, note: str = "",
                   tracking_number: str | None = None, carrier: str | None = None,
                   payment_status: str | None = None) -> dict:
        """Move an order on (or add tracking, a carrier or a note), with the event that tells people."""
        if status not in TRANSITIONS:
            raise BadRequest(f"{status!r} is not a status; choose one of {', '.join(STATUSES)}", field="status")
        if tracking_number is not None and len(tracking_number.strip()) > 100:
            raise BadRequest("the tracking number is too long (at most 100 characters)", field="tracking_number")
        if carrier is not None and len(carrier.strip()) > 60:
            raise BadRequest("the carrier's name is too long (at most 60 characters)", field="carrier")
        with immediate(self.conn) as conn:
            order = self._row(conn, number)
            self.move(conn, order, status, actor=actor, note=note, tracking_number=tracking_number, carrier=carrier,
                      payment_status=payment_status)
        return self._by_id(order["id"])

    def move(self, conn: sqlite3.Connection, order: sqlite3.Row, status: str, *, actor: str, note: str = "",
             tracking_number: str | None = None, carrier: str | None = None, payment_status: str | None = None,
             event_data: dict | None = None) -> None:
        """``set_status`` inside the caller's transaction (a refund that completes an order uses it, so
        that the refund and the status change commit together); ``event_data`` joins the event."""
        number = order["number"]
        current = order["status"]
        if status != current and status not in TRANSITIONS[current]:
            raise Conflict(f"an order that is {current} cannot become {status}", field="status",
                           code="invalid_transition")
        payment = order["payment_status"]
        if status != current:
            payment = self._move(conn, order, status, actor=actor, note=note, payment_status=payment_status)
        tracking_changed = False
        if tracking_number is not None and tracking_number.strip() != (order["tracking_number"] or ""):
            conn.execute("UPDATE orders SET tracking_number = ? WHERE id = ?", (tracking_number.strip(), order["id"]))
            tracking_changed = True
        if carrier is not None and carrier_key(carrier) != order["carrier"]:
            conn.execute("UPDATE orders SET carrier = ? WHERE id = ?", (carrier_key(carrier), order["id"]))
            tracking_changed = True
        if note and status == current:
            conn.execute("UPDATE orders SET notes = notes || ? WHERE id = ?", (f"{note}\n", order["id"]))
        event = _EVENT_FOR.get(status) if status != current else None
        if event == "order.paid" and payment != "paid":
            event = None  # moved on by hand without a payment: nothing to announce
        if event is None and tracking_changed and current == "shipped" == status:
            event = "order.shipped"  # tracking added after shipping: tell the shopper the new number
        if event:
            outbox.record(conn, event, {"order": self._event_order(order["id"]), "from_status": current,
                                        "actor_kind": "shopper" if actor == "shopper" else "staff",
                                        **(event_data or {})}, subject=number)

    def _move(self, conn: sqlite3.Connection, order: sqlite3.Row, status: str, *, actor: str, note: str,
              payment_status: str | None) -> str:
        """The new status with its stock and gift-card effects and its history line; returns the
        payment status. The caller holds the transaction and records the event."""
        current = order["status"]
        self._stock_effects(conn, order, current, status)
        payment = payment_status or {"cancelled": "cancelled" if order["payment_status"] == "pending"
                                     else order["payment_status"],
                                     "refunded": "refunded"}.get(status, order["payment_status"])
        conn.execute("UPDATE orders SET status = ?, payment_status = ?, updated_at = ? WHERE id = ?",
                     (status, payment, now_iso(), order["id"]))
        conn.execute("INSERT INTO order_history (order_id, at, from_status, to_status, actor, note) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (order["id"], now_iso(), current, status, actor, note))
        if current == "pending" and status == "processing" and payment == "paid":
            giftcards.activate_for_order(conn, order["id"], actor)  # the cards it bought come to life
        elif status in ("cancelled", "refunded"):
            pickup.release(conn, order["id"])  # the slot's place goes back
            # What gift cards paid goes back on them (less what a partial refund returned already);
            # cards the order bought go back with the money.
            giftcards.refund_to_cards(conn, order["id"], order["gift_card"], actor)
            if current == "pending":
                giftcards.drop_unborn(conn, order["id"])
            else:
                giftcards.void_bought(conn, order["id"], actor)
        return payment

    def _event_order(self, order_id: int) -> dict:
        """The order as events carry it: what its shopper may see, at the moment it changed."""
        return self._for_event(self._by_id(order_id))

    @staticmethod
    def _for_event(full: dict) -> dict:
        order = {k: v for k, v in full.items() if k not in ("notes", "history")}
        order["refunds"] = [{k: v for k, v in r.items() if k != "actor"} for r in order["refunds"]]  # staff's address
        return order

    def _stock_effects(self, conn: sqlite3.Connection, order: sqlite3.Row, current: str, new: str) -> None:
        lines = conn.execute("SELECT sku, quantity FROM order_lines WHERE order_id = ? AND track_stock = 1 ORDER BY sku",
                             (order["id"],)).fetchall()
        back = restocked(conn, order["id"])  # units a partial refund already put back
        for line in lines:
            if current == "pending" and new == "processing":  # paid: the reservation becomes a sale
                conn.execute("UPDATE stock SET on_hand = on_hand - ?, reserved = reserved - ?, updated_at = ? "
                             "WHERE sku = ?", (line["quantity"], line["quantity"], now_iso(), line["sku"]))
            elif current == "pending" and new == "cancelled":  # unpaid: release the reservation
                conn.execute("UPDATE stock SET reserved = reserved - ?, updated_at = ? WHERE sku = ?",
                             (line["quantity"], now_iso(), line["sku"]))
            elif current == "processing" and new == "cancelled":  # paid, not shipped: restock
                conn.execute("UPDATE stock SET on_hand = on_hand + ?, updated_at = ? WHERE sku = ?",
                             (line["quantity"] - back.get(line["sku"], 0), now_iso(), line["sku"]))

    def mark_paid(self, number: int, *, actor: str, reference: str | None = None) -> dict:
        """Idempotent: paying a paid order changes nothing; paying a cancelled one is refused."""
        order = self.get(number)
        if order["payment_status"] == "paid":
            return order
        if order["status"] != "pending":
            raise Conflict(f"order {number} is {order['status']} and cannot be paid", code="invalid_transition")
        if reference:
            with self.conn:
                self.conn.execute("UPDATE orders SET provider_ref = ? WHERE number = ?", (reference, number))
        return self.set_status(number, "processing", actor=actor, note="payment received", payment_status="paid")

    def close_unpaid(self, number: int, *, reason: str, actor: str) -> dict:
        """Payment failed or expired: cancel the order and release its stock (unless already paid)."""
        order = self.get(number)
        if order["status"] != "pending":
            return order
        return self.set_status(number, "cancelled", actor=actor, note=reason,
                               payment_status="expired" if reason == "expired" else "failed")

    def expire_unpaid(self, now: datetime | None = None) -> list[int]:
        stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        numbers = [r["number"] for r in self.conn.execute(
            "SELECT number FROM orders WHERE status = 'pending' AND payment_status = 'pending' AND expires_at < ?",
            (stamp,))]
        for number in numbers:
            self.close_unpaid(number, reason="expired", actor="system")
        return numbers

    # -- stock ------------------------------------------------------------------------------

    def set_stock(self, sku: str, on_hand: int, *, saved_skus: Callable[[], Collection[str]] | None = None) -> dict:
        """Set a sku's units on hand. The sku must be in the published catalog or, through
        ``saved_skus`` (asked only when it is not published), in the latest saved content, so that
        an owner can stock a product before it goes on sale."""
        if isinstance(on_hand, bool) or not isinstance(on_hand, int) or on_hand < 0:
            raise BadRequest("on_hand must be a whole number of at least 0", field="on_hand")
        published = self.conn.execute("SELECT 1 FROM catalog_variants WHERE sku = ?", (sku,)).fetchone()
        if published is None and (saved_skus is None or sku not in saved_skus()):
            raise NotFound(f"no product with the sku {sku!r} in the shop or in the saved products; "
                           "save the product first", field="sku", code="unknown_sku")
        with immediate(self.conn) as conn:
            row = conn.execute("SELECT reserved FROM stock WHERE sku = ?", (sku,)).fetchone()
            reserved = row["reserved"] if row else 0
            if on_hand < reserved:
                raise Conflict(f"{reserved} of {sku} are reserved by unpaid orders; on hand cannot go below that",
                               field="on_hand", code="below_reserved")
            conn.execute("INSERT INTO stock (sku, on_hand, reserved, updated_at) VALUES (?, ?, 0, ?) "
                         "ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at",
                         (sku, on_hand, now_iso()))
        return self.stock(sku)

    # Published skus, then skus stocked ahead of their first publish (tracked, since stock was set).
    _STOCK = ("SELECT * FROM (SELECT v.sku, v.track_stock, COALESCE(s.on_hand, 0) AS on_hand, "
              "COALESCE(s.reserved, 0) AS reserved, 1 AS published FROM catalog_variants v LEFT JOIN stock s "
              "ON s.sku = v.sku UNION ALL SELECT s.sku, 1, s.on_hand, s.reserved, 0 FROM stock s "
              "WHERE s.sku NOT IN (SELECT sku FROM catalog_variants))")

    def stock(self, sku: str | None = None) -> dict | list[dict]:
        if sku:
            row = self.conn.execute(self._STOCK + " WHERE sku = ?", (sku,)).fetchone()
            if row is None:
                raise NotFound(f"no product with the sku {sku!r}", field="sku", code="unknown_sku")
            return _stock(row)
        return [_stock(r) for r in self.conn.execute(self._STOCK + " ORDER BY sku")]

    # -- reading ----------------------------------------------------------------------------

    def _row(self, conn: sqlite3.Connection, number: int) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM orders WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise NotFound(f"no order {number}", code="order_not_found")
        return row

    def get(self, number: int) -> dict:
        return self._full(self._row(self.conn, number))

    def _by_id(self, order_id: int) -> dict:
        return self._full(self.conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone())

    def for_shopper(self, number: int, token: str) -> dict:
        row = self.conn.execute("SELECT * FROM orders WHERE number = ?", (number,)).fetchone()
        if row is None or not secrets.compare_digest(row["token_hash"], token_hash(token)):
            raise NotFound(f"no order {number} for that link", code="order_not_found")
        return self._full(row)

    def _full(self, row: sqlite3.Row) -> dict:
        lines = self.conn.execute("SELECT sku, name, title, quantity, unit_price, line_total, discount, track_stock "
                                  "FROM order_lines "
                                  "WHERE order_id = ? ORDER BY sku", (row["id"],)).fetchall()
        applied = self.conn.execute("SELECT code, title, amount, shipping, lines FROM order_discounts WHERE order_id = ? "
                                    "ORDER BY rowid", (row["id"],)).fetchall()
        history = self.conn.execute("SELECT at, from_status, to_status, actor, note FROM order_history "
                                    "WHERE order_id = ? ORDER BY id", (row["id"],)).fetchall()
        refunds = self.conn.execute("SELECT id, amount, provider_amount, gift_card_amount, lines, shipping, reason, "
                                    "provider_ref, actor, created_at FROM refunds WHERE order_id = ? ORDER BY id",
                                    (row["id"],)).fetchall()
        return {"number": row["number"], "email": row["email"], "status": row["status"],
                "payment_status": row["payment_status"], "provider": row["provider"], "currency": row["currency"],
                "subtotal": row["subtotal"], "discount": row["discount"],
                "gift_card": row["gift_card"], "amount_due": row["total"] - row["gift_card"],
                "gift_cards_used": giftcards.spent_on(self.conn, row["id"]),
                "discounts": [{"code": a["code"], "title": a["title"], "amount": a["amount"], "shipping": a["shipping"],
                               "lines": json.loads(a["lines"])} for a in applied],
                "shipping": row["shipping"], "tax": row["tax"],
                "tax_inclusive": bool(row["tax_inclusive"]), "total": row["total"],
                "shipping_method": row["shipping_method"],
                "shipping_option": {"id": row["shipping_option"], "kind": _kind(row), "name": row["shipping_name"],
                                    "estimate": row["shipping_estimate"]} if row["shipping_option"] else None,
                "pickup": json.loads(row["pickup"]) if row["pickup"] else None,
                "vat_number": row["vat_number"], "tax_note": row["tax_note"],
                "tax_lines": [dict(t) for t in self.conn.execute(
                    "SELECT jurisdiction, category, rate, base, amount, note FROM order_tax_lines WHERE order_id = ? "
                    "ORDER BY id", (row["id"],))],
                "shipping_address": json.loads(row["shipping_address"]),
                "billing_address": json.loads(row["billing_address"]), "tracking_number": row["tracking_number"],
                "carrier": row["carrier"], "carrier_name": carrier_name(row["carrier"]),
                "tracking_url": tracking_url(row["carrier"], row["tracking_number"]),
                "catalog_version": row["catalog_version"], "created_at": row["created_at"],
                "expires_at": row["expires_at"],
                "lines": [{**dict(l), "track_stock": bool(l["track_stock"])} for l in lines],
                "history": [dict(h) for h in history], "notes": row["notes"], "refunded": row["refunded"],
                "refunds": [_refund(r) for r in refunds]}

    def list(self, *, status: str | None = None, payment_status: str | None = None, since: str | None = None,
             until: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        where, params = [], []
        for column, value in (("status", status), ("payment_status", payment_status)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if since:
            where.append("created_at >= ?")
            params.append(since)
        if until:
            where.append("created_at < ?")
            params.append(until)
        sql = "SELECT * FROM orders" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.conn.execute(sql + " ORDER BY number DESC LIMIT ? OFFSET ?", (*params, limit, offset))
        return [{k: r[k] for k in ("number", "email", "status", "payment_status", "currency", "total", "created_at")}
                for r in rows]


def _kind(row: sqlite3.Row) -> str:
    prefix = (row["shipping_option"] or "").split("/", 1)[0]
    return prefix if prefix in ("local", "pickup") else "delivery"


def _no_zone(problem: str | None, country: str) -> bool:
    """The refusal was that no zone covers the country (a 400 on the address, not a 409 on the option)."""
    return bool(problem and country and problem.startswith(f"we do not deliver to {country}"))


def _refund(row: sqlite3.Row) -> dict:
    pending = row["provider_ref"] == PENDING
    return {"id": row["id"], "amount": row["amount"], "provider_amount": row["provider_amount"],
            "gift_card_amount": row["gift_card_amount"], "lines": json.loads(row["lines"]),
            "shipping": row["shipping"], "reason": row["reason"], "status": "pending" if pending else "done",
            "provider_ref": None if pending else row["provider_ref"], "actor": row["actor"],
            "created_at": row["created_at"]}


def restocked(conn: sqlite3.Connection, order_id: int) -> dict[str, int]:
    """Units of each sku that the order's completed refunds put back in stock."""
    back: dict[str, int] = {}
    for row in conn.execute("SELECT lines FROM refunds WHERE order_id = ? AND (provider_ref IS NULL OR "
                            "provider_ref != ?)", (order_id, PENDING)):
        for line in json.loads(row["lines"]):
            if line.get("restock"):
                back[line["sku"]] = back.get(line["sku"], 0) + line["quantity"]
    return back


def _stock(row: sqlite3.Row) -> dict:
    return {"sku": row["sku"], "track_stock": bool(row["track_stock"]), "on_hand": row["on_hand"],
            "reserved": row["reserved"], "available": max(row["on_hand"] - row["reserved"], 0),
            "published": bool(row["published"])}
