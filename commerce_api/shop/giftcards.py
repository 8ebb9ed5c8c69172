"""Gift cards: codes, balances and a ledger of every change; spent at checkout as a tender.

A code is 16 symbols from an alphabet without look-alikes (80 random bits), shown as
``XXXX-XXXX-XXXX-XXXX``. The database keeps its SHA-256 (to find the card), the code sealed with the
platform's key (so the buyer's email and order page can show it again; a copy of ``tenant.db`` alone
does not give codes away) and its last four symbols for staff, who never see a whole code again.

A card bought in the shop is made when the order is placed, disabled and empty, and comes to life
(balance, ``issue`` in the ledger) in the transaction that marks the order paid; an order cancelled
unpaid takes its unborn cards with it. Every change of a balance is a conditional UPDATE in the
caller's transaction plus a ledger row, so the ledger of a card always sums to its balance, and two
checkouts spending one card can never overdraw it (the CHECK on ``balance`` is the backstop).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from datetime import datetime, timezone
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from content.registry import now_iso

from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..sealing import InvalidToken, seal, unseal

PURPOSE = b"tessera gift cards"
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols, no 0/O or 1/I: 5 bits each
LENGTH = 16
MAX_AMOUNT = 1_000_000_00  # minor units: larger is a typing mistake
_SEPARATORS = re.compile(r"[\s\-_.]")


class InvalidGiftCard(ApiError):
    """The same answer for a code that does not exist, is disabled, expired or empty: an answer
    that differed would tell a guesser which codes exist."""

    status = 422
    code = "invalid_gift_card"

    def __init__(self) -> None:
        super().__init__("this is not a valid gift card code, or it has no balance left", field="code")


def new_code() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(symbols[i:i + 4] for i in range(0, LENGTH, 4))


def normalise(code: object) -> str | None:
    """The code's 16 symbols (any case, with or without spaces and dashes), None when it cannot be one."""
    if not isinstance(code, str) or len(code) > 40:
        return None
    text = _SEPARATORS.sub("", code).upper()
    return text if len(text) == LENGTH and all(c in ALPHABET for c in text) else None


def code_hash(symbols: str) -> str:
    return hashlib.sha256(f"tessera gift card {symbols}".encode()).hexdigest()


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day when it has fewer)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# -- making cards ---------------------------------------------------------------------------------


def _insert(conn: sqlite3.Connection, amount: int, currency: str, actor: str, *, balance: int, status: str,
            order_id: int | None, sku: str | None, recipient: str, note: str, expires_at: str | None,
            secret_key: str) -> tuple[int, str]:
    for _ in range(3):  # 80 random bits: a clash is only imaginable, but must not become an error
        code = new_code()
        symbols = code.replace("-", "")
        try:
            cursor = conn.execute(
                "INSERT INTO gift_cards (code_hash, code_sealed, last4, currency, initial, balance, expires_at, status, "
                "order_id, sku, recipient, note, issued_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (code_hash(symbols), seal(secret_key, PURPOSE, code), symbols[-4:], currency, amount, balance,
                 expires_at, status, order_id, sku, recipient, note, actor, now_iso()))
        except sqlite3.IntegrityError as exc:
            if "code_hash" not in str(exc):
                raise
            continue
        return cursor.lastrowid, code  # type: ignore[return-value]
    raise Conflict("could not make a unique gift card code; try again", code="gift_card_clash")


def _ledger(conn: sqlite3.Connection, card_id: int, kind: str, amount: int, actor: str,
            order_id: int | None = None) -> None:
    balance = conn.execute("SELECT balance FROM gift_cards WHERE id = ?", (card_id,)).fetchone()[0]
    conn.execute("INSERT INTO gift_card_ledger (card_id, order_id, kind, amount, balance, actor, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (card_id, order_id, kind, amount, balance, actor, now_iso()))


def issue(conn: sqlite3.Connection, amount: int, currency: str, actor: str, *, order_id: int | None = None,
          sku: str | None = None, recipient: str = "", note: str = "", expires_at: str | None = None,
          secret_key: str) -> tuple[int, str]:
    """A live card with ``amount`` on it, in the caller's transaction. Returns (id, code): the only
    moment the whole code is at hand in clear."""
    card_id, code = _insert(conn, amount, currency, actor, balance=amount, status="active", order_id=order_id,
                            sku=sku, recipient=recipient, note=note, expires_at=expires_at, secret_key=secret_key)
    _ledger(conn, card_id, "issue", amount, actor, order_id)
    return card_id, code


def gift_card_skus(conn: sqlite3.Connection) -> Mapping[str, dict]:
    """Skus of the published gift-card products → ``{"valid_months": n | None}`` (read-only: shared by
    every request while the published catalog stays the same)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'gift_cards'").fetchone()
    return skus_from(row["value"]) if row else MappingProxyType({})


@lru_cache(maxsize=256)
def skus_from(raw: str) -> Mapping[str, dict]:
    """The published gift-card skus from their JSON, parsed once per version and shared (read-only)."""
    return MappingProxyType(json.loads(raw))


def prepare_for_order(conn: sqlite3.Connection, order_id: int, lines, currency: str, *, secret_key: str | None,
                      skus: dict[str, dict]) -> int:
    """One unborn card per unit of each gift-card line of a new order (disabled, balance 0), in the
    checkout's transaction. They come to life when the order is paid (``activate_for_order``)."""
    made = 0
    now = datetime.now(timezone.utc)
    for line in lines:
        if line.sku not in skus:
            continue
        if not secret_key:
            raise ApiError("gift cards cannot be sold: the platform's key is not available", code="internal_error")
        months = skus[line.sku].get("valid_months")
        expires = stamp(add_months(now, months)) if months else None
        # What the buyer paid for one card: its price less its share of any discount.
        for unit in range(line.quantity):
            share = line.discount // line.quantity + (1 if unit < line.discount % line.quantity else 0)
            value = line.unit_price - share
            if value <= 0:
                continue  # a card discounted to nothing is no card
            _insert(conn, value, currency, "shop", balance=0, status="disabled", order_id=order_id, sku=line.sku,
                    recipient="", note="", expires_at=expires, secret_key=secret_key)
            made += 1
    return made


def activate_for_order(conn: sqlite3.Connection, order_id: int, actor: str) -> int:
    """The order is paid: its cards get their balance, once (a replayed payment issues nothing)."""
    rows = conn.execute("SELECT id, initial FROM gift_cards c WHERE order_id = ? AND status = 'disabled' AND balance = 0 "
                        "AND NOT EXISTS (SELECT 1 FROM gift_card_ledger l WHERE l.card_id = c.id AND l.kind = 'issue') "
                        "ORDER BY id", (order_id,)).fetchall()
    for row in rows:
        conn.execute("UPDATE gift_cards SET balance = initial, status = 'active' WHERE id = ?", (row["id"],))
        _ledger(conn, row["id"], "issue", row["initial"], actor, order_id)
    return len(rows)


def drop_unborn(conn: sqlite3.Connection, order_id: int) -> None:
    """The order was cancelled unpaid: its cards never existed for anyone."""
    conn.execute("DELETE FROM gift_cards WHERE order_id = ? AND NOT EXISTS "
                 "(SELECT 1 FROM gift_card_ledger l WHERE l.card_id = gift_cards.id)", (order_id,))


def void_bought(conn: sqlite3.Connection, order_id: int, actor: str) -> None:
    """A paid order that bought cards is cancelled or refunded: what is left on them goes back
    with the money (an ``adjust`` to 0) and they are disabled, so a refunded card cannot be spent."""
    for row in conn.execute("SELECT id, balance FROM gift_cards c WHERE order_id = ? AND EXISTS "
                            "(SELECT 1 FROM gift_card_ledger l WHERE l.card_id = c.id AND l.kind = 'issue')",
                            (order_id,)).fetchall():
        if row["balance"]:
            conn.execute("UPDATE gift_cards SET balance = 0 WHERE id = ?", (row["id"],))
            _ledger(conn, row["id"], "adjust", -row["balance"], actor, order_id)
        conn.execute("UPDATE gift_cards SET status = 'disabled' WHERE id = ?", (row["id"],))


# -- spending ---------------------------------------------------------------------------------------


def problem(row: sqlite3.Row, currency: str, now: datetime | None = None) -> str | None:
    """Why a card cannot pay now (for the cart and checkout), None when it can."""
    if row["status"] != "active":
        return "is disabled"
    if row["expires_at"] and row["expires_at"] <= stamp(now or datetime.now(timezone.utc)):
        return "has expired"
    if row["currency"] != currency:
        return f"is in {row['currency']}, not {currency}"
    if row["balance"] <= 0:
        return "has no balance left"
    return None


def find(conn: sqlite3.Connection, code: object) -> sqlite3.Row | None:
    symbols = normalise(code)
    if symbols is None:
        return None
    return conn.execute("SELECT * FROM gift_cards WHERE code_hash = ?", (code_hash(symbols),)).fetchone()


def cart_cards(conn: sqlite3.Connection, cart_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT c.* FROM cart_gift_cards g JOIN gift_cards c ON c.id = g.card_id "
                        "WHERE g.cart_id = ? ORDER BY g.added_at, g.rowid", (cart_id,)).fetchall()


def gift_value(lines, skus: dict[str, dict]) -> int:
    """What gift cards may not pay of an order: gift cards themselves (a card bought with a card
    would turn one card into another with no money changing hands)."""
    return sum(line.total - line.discount for line in lines if line.sku in skus)


def tender(conn: sqlite3.Connection, cart_id: int, total: int, currency: str, *, gift_value: int = 0,
           now: datetime | None = None) -> dict:
    """The cart's cards as the shopper sees them: each with its balance and what it pays now, in the
    order they were added; ``gift_card`` in total and ``amount_due``."""
    left = max(total - gift_value, 0)
    cards = []
    for row in cart_cards(conn, cart_id):
        why = problem(row, currency, now)
        applied = 0 if why else min(row["balance"], left)
        left -= applied
        cards.append({"last4": row["last4"], "balance": row["balance"], "applied": applied,
                      "expires_at": row["expires_at"], "problem": why})
    used = sum(c["applied"] for c in cards)
    return {"gift_cards": cards, "gift_card": used, "amount_due": total - used}


def spend(conn: sqlite3.Connection, cart_id: int, order_id: int, total: int, currency: str, *, gift_value: int,
          actor: str, now: datetime | None = None) -> int:
    """Spend the cart's cards on the order, in the order they were added, inside the checkout's
    transaction; returns the tender. A card that can pay nothing any more (spent by another checkout,
    disabled, expired) refuses the checkout, naming it, rather than charging the shopper more in silence."""
    left = max(total - gift_value, 0)
    used = 0
    for row in cart_cards(conn, cart_id):
        if left == 0:
            break
        why = problem(row, currency, now)
        if why:
            raise Conflict(f"the gift card ending {row['last4']} {why}; remove it from the cart to pay another way",
                           field="gift_card", code="gift_card_unavailable")
        take = min(row["balance"], left)
        # Inside BEGIN IMMEDIATE the balance just read still holds; the condition is the backstop.
        taken = conn.execute("UPDATE gift_cards SET balance = balance - ? WHERE id = ? AND balance >= ?",
                             (take, row["id"], take)).rowcount
        if not taken:
            raise Conflict(f"the gift card ending {row['last4']} has no balance left", field="gift_card",
                           code="gift_card_unavailable")
        _ledger(conn, row["id"], "redeem", -take, actor, order_id)
        left -= take
        used += take
    return used


def refund_to_cards(conn: sqlite3.Connection, order_id: int, amount: int, actor: str) -> int:
    """Put up to ``amount`` back on the cards this order spent, newest redemption first, never more
    than the order spent on each (less what went back already). Runs in the caller's transaction;
    returns the amount placed."""
    rows = conn.execute(
        "SELECT card_id, -SUM(CASE WHEN kind = 'redeem' THEN amount ELSE 0 END) "
        "- SUM(CASE WHEN kind = 'refund' THEN amount ELSE 0 END) AS open, "
        "MAX(CASE WHEN kind = 'redeem' THEN id END) AS last FROM gift_card_ledger "
        "WHERE order_id = ? AND kind IN ('redeem', 'refund') GROUP BY card_id ORDER BY last DESC",
        (order_id,)).fetchall()
    left = max(amount, 0)
    placed = 0
    for row in rows:
        give = min(row["open"], left)
        if give <= 0:
            continue
        conn.execute("UPDATE gift_cards SET balance = balance + ? WHERE id = ?", (give, row["card_id"]))
        _ledger(conn, row["card_id"], "refund", give, actor, order_id)
        left -= give
        placed += give
    return placed


def spent_on(conn: sqlite3.Connection, order_id: int) -> list[dict]:
    """The cards an order spent (last four only) and how much of each, net of what went back."""
    rows = conn.execute("SELECT c.last4, -SUM(l.amount) AS amount FROM gift_card_ledger l JOIN gift_cards c "
                        "ON c.id = l.card_id WHERE l.order_id = ? AND l.kind IN ('redeem', 'refund') "
                        "GROUP BY l.card_id ORDER BY MIN(l.id)", (order_id,)).fetchall()
    return [dict(r) for r in rows]


def bought_by(conn: sqlite3.Connection, number: int, secret_key: str) -> list[dict]:
    row = conn.execute("SELECT id FROM orders WHERE number = ?", (number,)).fetchone()
    return bought(conn, row["id"], secret_key) if row else []


def to_come(conn: sqlite3.Connection, number: int) -> int:
    """How many cards an unpaid order bought: they come to life, with their codes, with its payment."""
    return conn.execute("SELECT count(*) FROM gift_cards c JOIN orders o ON o.id = c.order_id WHERE o.number = ? "
                        "AND NOT EXISTS (SELECT 1 FROM gift_card_ledger l WHERE l.card_id = c.id)",
                        (number,)).fetchone()[0]


def bought(conn: sqlite3.Connection, order_id: int, secret_key: str) -> list[dict]:
    """The live cards an order bought, with their codes: only for the buyer (order page, emails)."""
    rows = conn.execute("SELECT * FROM gift_cards c WHERE order_id = ? AND EXISTS (SELECT 1 FROM gift_card_ledger l "
                        "WHERE l.card_id = c.id AND l.kind = 'issue') ORDER BY id", (order_id,)).fetchall()
    cards = []
    for row in rows:
        try:
            code = unseal(secret_key, PURPOSE, row["code_sealed"])
        except InvalidToken:  # the platform's key changed: the card still works, the code cannot be shown
            code = None
        cards.append({"code": code, "last4": row["last4"], "amount": row["initial"], "balance": row["balance"],
                      "currency": row["currency"], "expires_at": row["expires_at"], "status": row["status"]})
    return cards


# -- staff -----------------------------------------------------------------------------------------


def create(conn: sqlite3.Connection, amount: object, currency: str, actor: str, *, recipient: object = "",
           note: object = "", expires_at: str | None = None, secret_key: str) -> tuple[dict, str]:
    """A card issued by staff: (the card, its code, shown this once)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise BadRequest(f"amount must be a whole number of minor units between 1 and {MAX_AMOUNT}", field="amount")
    recipient = recipient.strip() if isinstance(recipient, str) else ""
    if recipient and (len(recipient) > 254 or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", recipient)):
        raise BadRequest("recipient must be an email address", field="recipient")
    if not isinstance(note, str) or len(note) > 500:
        raise BadRequest("note must be text of at most 500 characters", field="note")
    if expires_at is not None and expires_at <= stamp(datetime.now(timezone.utc)):
        raise BadRequest("the expiry must be in the future", field="expires_at")
    with conn:
        card_id, code = issue(conn, amount, currency, actor, recipient=recipient, note=note.strip(),
                              expires_at=expires_at, secret_key=secret_key)
    return get(conn, card_id), code


def set_status(conn: sqlite3.Connection, card_id: int, status: str, actor: str) -> dict:
    if status not in ("active", "disabled"):
        raise BadRequest("status must be active or disabled", field="status")
    card = get(conn, card_id)
    if not card["issued"]:
        raise Conflict("this card's order is not paid yet; it comes to life with the payment", field="status",
                       code="gift_card_unpaid")
    with conn:
        conn.execute("UPDATE gift_cards SET status = ? WHERE id = ?", (status, card_id))
    return get(conn, card_id)


_LIST = ("SELECT c.*, o.number AS order_number, EXISTS (SELECT 1 FROM gift_card_ledger l WHERE l.card_id = c.id "
         "AND l.kind = 'issue') AS issued FROM gift_cards c LEFT JOIN orders o ON o.id = c.order_id")


def _public(row: sqlite3.Row) -> dict:
    return {"id": row["id"], "last4": row["last4"], "currency": row["currency"], "initial": row["initial"],
            "balance": row["balance"], "status": row["status"] if row["issued"] else "unpaid",
            "expires_at": row["expires_at"], "order_number": row["order_number"], "sku": row["sku"],
            "recipient": row["recipient"], "note": row["note"], "issued_by": row["issued_by"],
            "created_at": row["created_at"], "issued": bool(row["issued"])}


def get(conn: sqlite3.Connection, card_id: int) -> dict:
    row = conn.execute(_LIST + " WHERE c.id = ?", (card_id,)).fetchone()
    if row is None:
        raise NotFound(f"no gift card {card_id}", code="gift_card_not_found")
    return _public(row)


def ledger(conn: sqlite3.Connection, card_id: int) -> list[dict]:
    rows = conn.execute("SELECT l.id, l.kind, l.amount, l.balance, l.actor, l.created_at, o.number AS order_number "
                        "FROM gift_card_ledger l LEFT JOIN orders o ON o.id = l.order_id WHERE l.card_id = ? "
                        "ORDER BY l.id", (card_id,)).fetchall()
    return [dict(r) for r in rows]


def all_cards(conn: sqlite3.Connection, *, last4: str = "", limit: int = 100, offset: int = 0) -> list[dict]:
    where, params = " WHERE EXISTS (SELECT 1 FROM gift_card_ledger l WHERE l.card_id = c.id)", []
    if last4:
        where += " AND c.last4 = ?"
        params.append(last4.strip().upper()[-4:])
    rows = conn.execute(_LIST + where + " ORDER BY c.id DESC LIMIT ? OFFSET ?", (*params, limit, offset))
    return [_public(r) for r in rows]

