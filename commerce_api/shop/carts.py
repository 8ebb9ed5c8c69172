"""Carts: a bearer token (stored hashed), lines by sku, repriced from the catalog on every read."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from datetime import datetime, timezone

from content import countries
from content.migrations import immediate
from content.registry import now_iso

from ..errors import ApiError, BadRequest, Conflict, NotFound, TooManyRequests
from . import discounts, giftcards
from . import pickup
from . import shipping as zones
from .pricing import (MAX_LINES, MAX_QUANTITY, Quote, Rules, catalog_lines, quote, shipped_items, stock_notice,
                      units_left)
from .shipping import Destination

# Failed codes allowed in CODE_WINDOW (an address may be shared); gift cards count on their own.
CODE_ATTEMPTS = {"cart": 10, "address": 30, "gift-cart": 10, "gift-address": 30}
MAX_GIFT_CARDS = 5  # per cart
CODE_WINDOW = 15 * 60
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")


class UnprocessableCode(ApiError):
    status = 422
    code = "invalid_code"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="code")


def valid_code(code: object) -> str:
    if not isinstance(code, str) or not _CODE.match(code.strip()):
        raise BadRequest("code: letters, digits, - and _ only, at most 50", field="code", code="invalid_code")
    return code.strip()


def valid_method(value: object) -> str:
    """A shipping option's id (``zone/method``, ``local/x``, ``pickup/x``) or the word delivery or pickup."""
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9/_-]{0,450}", value.strip()):
        raise BadRequest("shipping_method must be a shipping option's id (see shipping-options), or 'delivery' or "
                         "'pickup'", field="shipping_method", code="unknown_shipping_option")
    return value.strip()


def country_code(value: str, field: str) -> str:
    """An ISO 3166 country code (any case) in capitals; anything else is a 400 naming ``field``:
    tax depends on the country, so a made-up one must never pass for an export."""
    code = value.strip().upper() if value.isascii() else value
    if countries.problem(code) is not None:
        raise BadRequest(f"{value[:20]!r} is not a country code; use two letters such as GB or DE", field=field,
                         code="invalid_country")
    return code


def destination(country: str | None, postal_code: str | None = None, region: str | None = None) -> Destination | None:
    """Where to send, from query or body fields; None without a country."""
    code = (country or "").strip()
    if not code:
        return None
    code = country_code(code, "country")
    postcode, area = (postal_code or "").strip(), (region or "").strip()
    if len(postcode) > 20:
        raise BadRequest("postal_code is too long", field="postal_code")
    if len(area) > 100:
        raise BadRequest("region is too long", field="region")
    return Destination(code, postcode, area)


def token_hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def valid_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise BadRequest("quantity must be a whole number", field="quantity", code="invalid_quantity")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise BadRequest(f"quantity must be between 1 and {MAX_QUANTITY}", field="quantity", code="invalid_quantity")
    return quantity


def _autocommit(conn: sqlite3.Connection, sql: str, params: dict) -> int:
    """Run one writing statement as its own transaction and return how many rows it changed.

    SQLite takes the write lock, writes and commits inside a single step, during which the
    interpreter's lock is let go; Python's implicit BEGIN ... COMMIT (or a RETURNING clause, whose
    commit waits for the rows to be read) would keep the write lock while the thread waits for the
    interpreter between two steps, and every other writer of the file would wait meanwhile. Held
    that briefly, the lock is cheaper to meet than the write gate (``content.migrations.WriteGate``)
    is to pass: a writer that finds it taken rarely waits long."""
    if conn.in_transaction:  # a caller's transaction: the statement is part of it
        return conn.execute(sql, params).rowcount
    level = conn.isolation_level
    conn.isolation_level = None
    try:
        return conn.execute(sql, params).rowcount
    finally:
        conn.isolation_level = level


class Carts:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def create(self) -> str:
        token = "crt_" + secrets.token_urlsafe(24)
        stamp = now_iso()
        with self.conn:
            self.conn.execute("INSERT INTO carts (token_hash, created_at, updated_at) VALUES (?, ?, ?)",
                              (token_hash(token), stamp, stamp))
        return token

    def _cart(self, token: str) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM carts WHERE token_hash = ?", (token_hash(token),)).fetchone()
        if row is None:
            raise NotFound("no such cart; start a new one", code="cart_not_found")
        if row["ordered_at"]:
            raise Conflict("this cart has already been checked out; start a new one", code="cart_closed")
        return row

    def view(self, token: str, shipping_method: str = "delivery", destination: Destination | None = None,
             vat_number: str | None = None) -> dict:
        """The cart priced for ``shipping_method`` (an option's id, or delivery/pickup) to
        ``destination``, exactly as checkout with the same choice will charge."""
        method = valid_method(shipping_method)
        return self._view(self._cart(token), token, method, destination, vat_number)

    def _view(self, cart: sqlite3.Row, token: str, method: str = "delivery", destination: Destination | None = None,
              vat_number: str | None = None) -> dict:
        result = self.quote(cart["id"], method=method, destination=destination, vat_number=vat_number)
        changed = [line for line in result.lines if line.previous_price != line.unit_price]
        if changed or result.unavailable:  # once shown, the new prices are the ones the shopper has seen
            with self.conn:
                for line in changed:
                    self.conn.execute("UPDATE cart_lines SET seen_price = ? WHERE cart_id = ? AND sku = ?",
                                      (line.unit_price, cart["id"], line.sku))
                for sku in result.unavailable:
                    self.conn.execute("DELETE FROM cart_lines WHERE cart_id = ? AND sku = ?", (cart["id"], sku))
        return {"token": token, **result.public(), **self._tender(cart["id"], result)}

    def shipping_options(self, token: str, destination: Destination | None, vat_number: str | None = None,
                         now: datetime | None = None) -> dict:
        """Every way this cart can reach ``destination`` (None: pickup only), each priced with the
        whole cart as checkout would charge it; pickup points list their free slots."""
        cart = self._cart(token)
        rules = Rules.load(self.conn)
        rows = self._rows(cart["id"])
        lines, _, _ = catalog_lines(self.conn, rows)
        goods = shipped_items(lines, giftcards.gift_card_skus(self.conn))
        answer = {"country": destination.country if destination else None,
                  "postal_code": zones.normalise_postcode(destination.postal_code, destination.country)
                  if destination else None, "needs_shipping": bool(goods), "options": [], "unavailable": [],
                  "reason": None}
        if not goods:
            return answer
        found = zones.options(rules.shipping, destination, goods, rules.currency)
        now = now or datetime.now(timezone.utc)
        codes = self.codes(cart["id"])
        for option in found.available:
            priced = quote(self.conn, rows, option=option, destination=destination, vat_number=vat_number,
                           codes=codes)
            entry = {**option.public(), "quote": {
                "shipping": priced.shipping, "discount": priced.discount, "tax": priced.tax, "total": priced.total,
                "tax_lines": [t.public() for t in priced.tax_lines], "tax_note": priced.tax_note,
                "tax_removed": priced.tax_removed}}
            if option.kind == "pickup":
                location = option.location or {}
                entry["slots"] = [s.public() for s in pickup.slots(
                    location, rules.timezone, now, pickup.booked(self.conn, option.id, now))]
                if location.get("hours") and not entry["slots"]:
                    answer["unavailable"].append({"id": option.id, "name": option.name,
                                                  "reason": f"{option.name} has no collection times left in the "
                                                            f"next {location.get('days_ahead') or 7} days"})
                    continue
            answer["options"].append(entry)
        if found.no_zone:  # said even when a pickup point is left, so the shopper knows why
            answer["unavailable"].insert(0, {"id": None, "name": "Delivery", "reason": found.no_zone})
        answer["unavailable"] += [r.public() for r in found.refused]
        if not answer["options"]:
            answer["reason"] = "; ".join(u["reason"] for u in answer["unavailable"]) or found.reason
        return answer

    def _tender(self, cart_id: int, result: Quote) -> dict:
        """The cart's gift cards, what each pays and the amount left to pay (as checkout will spend them)."""
        if not giftcards.cart_cards(self.conn, cart_id):
            return {"gift_cards": [], "gift_card": 0, "amount_due": result.total}
        value = giftcards.gift_value(result.lines, giftcards.gift_card_skus(self.conn))
        return giftcards.tender(self.conn, cart_id, result.total, result.currency, gift_value=value)

    def _rows(self, cart_id: int) -> list[tuple[str, int, int | None]]:
        return [(r["sku"], r["quantity"], r["seen_price"]) for r in self.conn.execute(
            "SELECT sku, quantity, seen_price FROM cart_lines WHERE cart_id = ? ORDER BY added_at, sku", (cart_id,))]

    def quote(self, cart_id: int, *, method: str = "delivery", destination: Destination | None = None,
              vat_number: str | None = None, email: str | None = None) -> Quote:
        return quote(self.conn, self._rows(cart_id), method=method, destination=destination, vat_number=vat_number,
                     codes=self.codes(cart_id), email=email)

    def codes(self, cart_id: int) -> list[str]:
        return [r["code"] for r in self.conn.execute("SELECT code FROM cart_discounts WHERE cart_id = ? "
                                                     "ORDER BY added_at, code", (cart_id,))]

    # -- discount codes -----------------------------------------------------------------------

    def apply_code(self, token: str, code: object, *, address: str = "") -> dict:
        """Add a code to the cart. A code that does not exist (or is paused, expired, used up) is
        refused with the same kind of answer for all, naming the field; failed tries are limited per
        cart and per address, so codes cannot be guessed. A code whose basket condition is not met
        yet stays in the cart and applies once it is (the cart says what it needs)."""
        cart = self._cart(token)
        code = valid_code(code)
        keys = (f"cart:{cart['id']}", f"address:{address}" if address else "")
        self._check_attempts(keys)
        row = self.conn.execute("SELECT * FROM discounts WHERE code = ?", (code,)).fetchone()
        if row is None or row["status"] != "active":
            self._failed_attempt(keys)
            raise UnprocessableCode(f"{code} is not a valid code")
        result = self.quote(cart["id"])
        why = discounts.problem(self.conn, discounts.Discount.from_row(row), [], 0, currency=result.currency,
                                zone=Rules.load(self.conn).timezone, email=None,
                                now=datetime.now(timezone.utc))
        if why is not None and why.kind in discounts.BLOCKING:
            self._failed_attempt(keys)
            raise UnprocessableCode(f"{row['code']} {why.text}")
        with self.conn:
            self.conn.execute("INSERT OR IGNORE INTO cart_discounts (cart_id, code, added_at) VALUES (?, ?, ?)",
                              (cart["id"], row["code"], now_iso()))
        return self.view(token)

    def remove_code(self, token: str, code: str | None = None) -> dict:
        cart = self._cart(token)
        with self.conn:
            if code:
                cursor = self.conn.execute("DELETE FROM cart_discounts WHERE cart_id = ? AND code = ?",
                                           (cart["id"], code.strip()))
                if cursor.rowcount == 0:
                    raise NotFound(f"{code.strip()[:50]} is not in the cart", field="code", code="not_in_cart")
            else:
                self.conn.execute("DELETE FROM cart_discounts WHERE cart_id = ?", (cart["id"],))
        return self.view(token)

    # -- gift cards -----------------------------------------------------------------------------

    def apply_gift_card(self, token: str, code: object, *, address: str = "") -> dict:
        """Add a gift card to the cart as a tender. Unknown, disabled, expired and empty cards get one
        answer (the field ``code``); failed tries are limited per cart and per address."""
        cart = self._cart(token)
        keys = (f"gift-cart:{cart['id']}", f"gift-address:{address}" if address else "")
        self._check_attempts(keys)
        row = giftcards.find(self.conn, code)
        if row is None or giftcards.problem(row, Rules.load(self.conn).currency) is not None:
            self._failed_attempt(keys)
            raise giftcards.InvalidGiftCard()
        with self.conn:
            count = self.conn.execute("SELECT count(*) FROM cart_gift_cards WHERE cart_id = ? AND card_id != ?",
                                      (cart["id"], row["id"])).fetchone()[0]
            if count >= MAX_GIFT_CARDS:
                raise BadRequest(f"a cart takes at most {MAX_GIFT_CARDS} gift cards", field="code",
                                 code="too_many_gift_cards")
            self.conn.execute("INSERT OR IGNORE INTO cart_gift_cards (cart_id, card_id, added_at) VALUES (?, ?, ?)",
                              (cart["id"], row["id"], now_iso()))
        return self.view(token)

    def remove_gift_card(self, token: str, last4: str) -> dict:
        cart = self._cart(token)
        with self.conn:
            cursor = self.conn.execute("DELETE FROM cart_gift_cards WHERE cart_id = ? AND card_id IN "
                                       "(SELECT id FROM gift_cards WHERE last4 = ?)",
                                       (cart["id"], last4.strip().upper()[:4]))
        if cursor.rowcount == 0:
            raise NotFound(f"no gift card ending {last4.strip()[:4]} in the cart", field="last4", code="not_in_cart")
        return self.view(token)

    def _check_attempts(self, keys: tuple[str, ...]) -> None:
        since = time.time() - CODE_WINDOW
        for key in filter(None, keys):
            count = self.conn.execute("SELECT COUNT(*) FROM code_attempts WHERE key = ? AND at > ?",
                                      (key, since)).fetchone()[0]
            if count >= CODE_ATTEMPTS[key.partition(":")[0]]:
                error = TooManyRequests(f"too many codes tried; wait {CODE_WINDOW // 60} minutes and try again",
                                        CODE_WINDOW)
                error.field = "code"
                raise error

    def _failed_attempt(self, keys: tuple[str, ...]) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM code_attempts WHERE at < ?", (time.time() - CODE_WINDOW,))
            self.conn.executemany("INSERT INTO code_attempts (key, at) VALUES (?, ?)",
                                  [(key, time.time()) for key in keys if key])

    # One statement adds the line or raises its quantity, only when every rule still holds at that
    # instant: units left to sell (counting what the cart already holds), a cart's number of lines
    # and a line's quantity. A single statement is its own transaction, so two tabs adding at once
    # cannot race, and SQLite's write lock is held for that statement alone, never while Python
    # waits for its turn to run (which a BEGIN IMMEDIATE ... COMMIT across several statements did).
    _UPSERT = (
        "INSERT INTO cart_lines (cart_id, sku, quantity, seen_price, added_at) "
        "SELECT :cart, v.sku, :quantity, v.price, :now FROM catalog_variants v LEFT JOIN stock s ON s.sku = v.sku "
        "LEFT JOIN cart_lines held ON held.cart_id = :cart AND held.sku = v.sku "
        "WHERE v.sku = :sku "
        "AND (NOT v.track_stock OR :quantity + COALESCE(held.quantity, 0) "
        "     <= MAX(COALESCE(s.on_hand, 0) - COALESCE(s.reserved, 0), 0)) "
        "AND (held.sku IS NOT NULL OR (SELECT count(*) FROM cart_lines WHERE cart_id = :cart) < :max_lines) "
        "ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = quantity + excluded.quantity "
        "WHERE quantity + excluded.quantity <= :max_quantity")

    def add(self, token: str, sku: str, quantity: int) -> dict:
        cart = self._cart(token)
        quantity = valid_quantity(quantity)
        from .orders import Orders  # orders imports this module

        Orders(self.conn).expire_unpaid()  # stock held by orders whose time ran out is for sale again
        params = {"cart": cart["id"], "sku": sku, "quantity": quantity, "now": now_iso(), "max_lines": MAX_LINES,
                  "max_quantity": MAX_QUANTITY}
        for _ in range(3):  # a refusal is explained by reading again; a rule that passed by then is retried
            # The cart's updated_at moves with the line (the cart_lines_touch_cart triggers).
            if _autocommit(self.conn, self._UPSERT, params):
                return self._view(cart, token)
            self._refusal(cart["id"], sku, quantity)
        raise Conflict("the cart changed while adding; try again", field="sku", code="cart_busy")

    def _refusal(self, cart_id: int, sku: str, quantity: int) -> None:
        """Raise why the upsert added nothing: units left, an unknown sku, a full cart, a line past the
        most one line holds (checked in that order, as shoppers have always been told)."""
        current = self.conn.execute("SELECT quantity FROM cart_lines WHERE cart_id = ? AND sku = ?",
                                    (cart_id, sku)).fetchone()
        variant = self._require_stock(sku, quantity + (current["quantity"] if current else 0))
        if variant is None:
            raise NotFound(f"no product with the sku {sku!r}", field="sku", code="unknown_sku")
        if current is None:
            count = self.conn.execute("SELECT count(*) FROM cart_lines WHERE cart_id = ?", (cart_id,)).fetchone()[0]
            if count >= MAX_LINES:
                raise BadRequest(f"a cart holds at most {MAX_LINES} different items", field="sku", code="cart_full")
        else:
            valid_quantity(current["quantity"] + quantity)

    def _require_stock(self, sku: str, quantity: int) -> sqlite3.Row | None:
        """Refuse, naming the sku, a line that asks for more than is left (checkout reserves for real).
        Returns the variant's row (its price, its stock), None when the catalog has no such sku."""
        row = self.conn.execute("SELECT v.price, v.track_stock, p.name, s.on_hand, s.reserved FROM catalog_variants v "
                                "JOIN catalog_products p ON p.slug = v.product_slug LEFT JOIN stock s ON s.sku = v.sku "
                                "WHERE v.sku = ?", (sku,)).fetchone()
        left = units_left(row) if row else None
        if left is not None and quantity > left:
            raise Conflict(stock_notice(row["name"], sku, left), field="sku", code="out_of_stock")
        return row

    def set_quantity(self, token: str, sku: str, quantity: int) -> dict:
        cart = self._cart(token)
        quantity = valid_quantity(quantity)
        with immediate(self.conn):
            current = self.conn.execute("SELECT quantity FROM cart_lines WHERE cart_id = ? AND sku = ?",
                                        (cart["id"], sku)).fetchone()
            if current is not None and quantity > current["quantity"]:  # lowering is always allowed
                self._require_stock(sku, quantity)
            cursor = self.conn.execute("UPDATE cart_lines SET quantity = ? WHERE cart_id = ? AND sku = ?",
                                       (quantity, cart["id"], sku))
        if cursor.rowcount == 0:
            raise NotFound(f"{sku!r} is not in the cart", field="sku", code="not_in_cart")
        return self.view(token)

    def remove(self, token: str, sku: str) -> dict:
        cart = self._cart(token)
        with self.conn:
            cursor = self.conn.execute("DELETE FROM cart_lines WHERE cart_id = ? AND sku = ?", (cart["id"], sku))
        if cursor.rowcount == 0:
            raise NotFound(f"{sku!r} is not in the cart", field="sku", code="not_in_cart")
        return self.view(token)
