"""Discounts as people write and read them: the admin's form and the command line give a value in the
shop's currency or in percent and times in the shop's own zone; a listing says what a discount takes
off in words ("10 % off the order", "£5.00 off Dark Rye", "free shipping").

``discounts.checked`` stays the one judge of a discount's fields; this module only translates words
into its values (each problem a 400 naming the field) and back.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from content.money import Money, display, parse_price

from ..errors import BadRequest, NotFound
from . import discounts
from .discounts import PERCENT_SCALE, Discount

LOCAL_FORMAT = "%Y-%m-%d %H:%M"


def value_of(kind: str, text: str, currency: str) -> int:
    """``"12.5"`` for a percentage (stored 1250), ``"5.00"`` for an amount (stored in minor units)."""
    if kind == "free_shipping":
        return 0
    if kind == "percent":
        return discounts.percent(text)
    return money(text, currency, "value")


def money(text: str, currency: str, field: str) -> int:
    """A decimal in the shop's currency, strictly (``"5.00"``, never ``"5,00"`` or ``"£5"``)."""
    try:
        return parse_price(text.strip(), currency).amount
    except ValueError as exc:
        raise BadRequest(f"{field}: {exc}", field=field) from None


def moment(text: str, zone: str, field: str) -> str | None:
    """``2027-03-31 23:59`` in the shop's zone as a stored moment; empty: none."""
    if not text.strip():
        return None
    try:
        return discounts.to_utc(text, zone)
    except BadRequest as exc:
        raise BadRequest(f"{field}: {exc.message}", field=field) from None


def whole(text: str, field: str) -> int | None:
    """A whole number from a form or an option; empty: none."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > 2**53:
        raise BadRequest(f"{field}: a whole number such as 3", field=field)
    return int(text)


def from_words(words: dict, *, currency: str, zone: str) -> dict:
    """Values for ``discounts.create``/``update`` from what a person typed (strings, lists and flags);
    keys left out are left alone."""
    values: dict = {}
    kind = words.get("kind")
    for name in ("code", "title", "kind", "target", "status", "products", "categories", "combines"):
        if name in words:
            values[name] = words[name]
    if "code" in values:
        values["code"] = (values["code"] or "").strip() or None
    if "value" in words:
        if kind not in discounts.KINDS:
            raise BadRequest(f"kind: one of {', '.join(discounts.KINDS)}", field="kind")
        values["value"] = value_of(kind, str(words["value"] or ""), currency)
    if "min_subtotal" in words:
        text = str(words["min_subtotal"] or "").strip()
        values["min_subtotal"] = money(text, currency, "min_subtotal") if text else 0
    if "min_quantity" in words:
        values["min_quantity"] = whole(str(words["min_quantity"] or ""), "min_quantity") or 0
    for name in ("usage_limit", "per_email_limit"):
        if name in words:
            values[name] = whole(str(words[name] or ""), name)
    for name in ("starts_at", "ends_at"):
        if name in words:
            values[name] = moment(str(words[name] or ""), zone, name)
    return values


def to_words(d: Discount, *, currency: str, zone: str) -> dict:
    """A discount's fields as its edit form shows them."""
    return {"code": d.code or "", "title": d.title, "kind": d.kind, "value": value_text(d, currency),
            "target": d.target, "products": sorted(d.products), "categories": sorted(d.categories),
            "min_subtotal": Money(d.min_subtotal, currency).decimal() if d.min_subtotal else "",
            "min_quantity": str(d.min_quantity or ""), "starts_at": local(d.starts_at, zone),
            "ends_at": local(d.ends_at, zone), "usage_limit": "" if d.usage_limit is None else str(d.usage_limit),
            "per_email_limit": "" if d.per_email_limit is None else str(d.per_email_limit),
            "combines": d.combines, "status": d.status}


def value_text(d: Discount, currency: str) -> str:
    if d.kind == "percent":
        return _percent(d.value)
    if d.kind == "amount":
        return Money(d.value, currency).decimal()
    return ""


def local(stored: str | None, zone: str) -> str:
    """A stored moment as the shop's local time, ``2027-03-31 23:59``."""
    if not stored:
        return ""
    return datetime.fromisoformat(stored).astimezone(ZoneInfo(zone)).strftime(LOCAL_FORMAT)


def _percent(value: int) -> str:
    return f"{(Decimal(value) / PERCENT_SCALE).normalize():f}"


def what(d: Discount, currency: str, names: dict[str, str] | None = None) -> str:
    """What the discount takes off, in words: "10 % off the order", "£5.00 off Dark Rye, Seeded"."""
    if d.kind == "free_shipping":
        return "free shipping"
    amount = f"{_percent(d.value)} %" if d.kind == "percent" else display(Money(d.value, currency))
    if d.target == "shipping":
        return f"{amount} off shipping"
    if d.target == "products":
        things = [(names or {}).get(p, p) for p in sorted(d.products)] + [f"category {c}" for c in sorted(d.categories)]
        return f"{amount} off {', '.join(things)}"
    return f"{amount} off the order"


def conditions(d: Discount, currency: str) -> str:
    parts = []
    if d.min_subtotal:
        parts.append(f"orders of {display(Money(d.min_subtotal, currency))} or more")
    if d.min_quantity:
        parts.append(f"at least {d.min_quantity} {'item' if d.min_quantity == 1 else 'items'}")
    if d.per_email_limit:
        parts.append(f"{d.per_email_limit} per email address")
    if d.combines:
        parts.append("combines with others")
    return "; ".join(parts)


def window(d: Discount, zone: str) -> str:
    start, end = local(d.starts_at, zone), local(d.ends_at, zone)
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"from {start}"
    if end:
        return f"until {end}"
    return "always"


def name(d: Discount) -> str:
    return d.code or f"automatic: {d.title}"


def row(d: Discount, currency: str, zone: str, names: dict[str, str] | None = None) -> dict:
    """A listing's row: the stored values, and the words people read."""
    return {**discounts.public(d), "name": name(d), "takes_off": what(d, currency, names),
            "conditions": conditions(d, currency), "window": window(d, zone),
            "used": f"{d.uses} / {d.usage_limit}" if d.usage_limit is not None else str(d.uses)}


def catalog(conn: sqlite3.Connection) -> tuple[dict[str, str], list[str]]:
    """The published products (slug → name) and categories a discount can be for."""
    names = {r["slug"]: r["name"] for r in conn.execute("SELECT slug, name FROM catalog_products ORDER BY name")}
    found: set[str] = set()
    for r in conn.execute("SELECT categories FROM catalog_products"):
        found.update(json.loads(r["categories"] or "[]"))
    return names, sorted(found)


def find(conn: sqlite3.Connection, code: str) -> Discount:
    """The discount with this code (any case)."""
    row = conn.execute("SELECT id FROM discounts WHERE code = ?", (code.strip(),)).fetchone()
    if row is None:
        raise NotFound(f"there is no discount with the code {code.strip().upper()}", field="code",
                       code="discount_not_found")
    return discounts.get(conn, row["id"])
