"""Prices, discounts, shipping and tax, computed on the server from the published catalog and the
site's rules: what a cart shows is what checkout charges, and a static page never decides a price.

    lines (catalog prices) → discounts (automatic and the cart's codes, spread over the lines and
    shipping) → shipping → tax on the discounted amounts → total

Gift cards are sent by email: a basket of nothing else has nothing to ship (``needs_shipping``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from . import discounts
from .discounts import Applied
from .giftcards import gift_card_skus

MAX_QUANTITY = 99
MAX_LINES = 50
SHIPPING_METHODS = ("delivery", "pickup")


@dataclass(frozen=True)
class Rules:
    currency: str
    flat_rate: int
    free_over: int | None
    countries: tuple[str, ...]
    tax_rate: Decimal
    tax_inclusive: bool
    tax_label: str
    payment_instructions: str
    email: str = ""  # the shop's own address: Reply-To of its emails
    low_stock: int = 3
    timezone: str = "UTC"  # the shop's: discounts start and end in it

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> Rules:
        row = conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()
        data = json.loads(row["value"]) if row else {}
        shipping, tax = data.get("shipping") or {}, data.get("tax") or {}
        return cls(data.get("currency", "EUR"), int(shipping.get("flat_rate") or 0), shipping.get("free_over"),
                   tuple(shipping.get("countries") or ()), Decimal(str(tax.get("rate", "0"))),
                   bool(tax.get("inclusive", True)), tax.get("label", "Tax"), data.get("payment_instructions", ""),
                   data.get("email", ""), int(data.get("low_stock_threshold", 3)), data.get("timezone") or "UTC")


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    title: str
    quantity: int
    unit_price: int
    track_stock: bool
    product_url: str
    image: str | None
    previous_price: int | None = None
    available: int | None = None  # units left to sell; None: stock not tracked
    product: str = ""  # the product's slug (discounts target products and categories)
    categories: frozenset[str] = frozenset()
    discount: int = 0  # this line's share of the discounts applied

    @property
    def in_stock(self) -> bool:
        return self.available is None or self.available >= self.quantity

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity

    def public(self) -> dict:
        data = {"sku": self.sku, "name": self.name, "title": self.title, "quantity": self.quantity,
                "unit_price": self.unit_price, "line_total": self.total, "discount": self.discount,
                "discounted_total": self.total - self.discount, "url": self.product_url, "image": self.image,
                "available": self.available, "in_stock": self.in_stock}
        if self.previous_price is not None and self.previous_price != self.unit_price:
            data["previous_unit_price"] = self.previous_price
        return data


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: tuple[Line, ...]
    subtotal: int
    shipping: int
    tax: int
    tax_inclusive: bool
    tax_label: str
    total: int
    notices: tuple[str, ...] = field(default=())
    unavailable: tuple[str, ...] = field(default=())
    shipping_method: str = "delivery"
    discount: int = 0  # off the lines and shipping together
    discounts: tuple[Applied, ...] = ()
    codes: tuple[dict, ...] = ()  # each code in the cart, applied or why not
    needs_shipping: bool = True  # False when every line is a gift card (sent by email)

    def public(self) -> dict:
        return {"currency": self.currency, "lines": [line.public() for line in self.lines],
                "subtotal": self.subtotal, "discount": self.discount,
                "discounts": [a.public() for a in self.discounts],
                "codes": [{k: v for k, v in c.items() if k != "blocking"} for c in self.codes],
                "shipping_method": self.shipping_method, "needs_shipping": self.needs_shipping,
                "shipping": self.shipping, "tax": self.tax,
                "tax_inclusive": self.tax_inclusive, "tax_label": self.tax_label, "total": self.total,
                "notices": list(self.notices), "unavailable": list(self.unavailable)}


def units_left(row: sqlite3.Row) -> int | None:
    """Units left to sell from a row with ``track_stock``, ``on_hand`` and ``reserved`` (None: untracked)."""
    if not row["track_stock"]:
        return None
    return max((row["on_hand"] or 0) - (row["reserved"] or 0), 0)


def stock_notice(name: str, sku: str, left: int) -> str:
    return f"{name} ({sku}) is sold out" if left <= 0 else f"{name} ({sku}): only {left} left"


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def quote(conn: sqlite3.Connection, items: list[tuple[str, int, int | None]], *, pickup: bool = False,
          codes: list[str] | tuple[str, ...] = (), email: str | None = None, now: datetime | None = None) -> Quote:
    """Price ``(sku, quantity, price the shopper last saw)`` lines from the catalog, with the
    automatic discounts and the cart's ``codes`` (checked against ``email`` when it is known)."""
    rules = Rules.load(conn)
    lines, notices, unavailable = [], [], []
    for sku, quantity, seen in items:
        row = conn.execute(
            "SELECT v.*, p.name AS product_name, p.url, p.image, p.categories, s.on_hand, s.reserved "
            "FROM catalog_variants v JOIN catalog_products p ON p.slug = v.product_slug "
            "LEFT JOIN stock s ON s.sku = v.sku WHERE v.sku = ?", (sku,)).fetchone()
        if row is None:
            unavailable.append(sku)
            notices.append(f"{sku} is no longer sold and was left out")
            continue
        line = Line(sku, row["product_name"], row["title"], quantity, row["price"], bool(row["track_stock"]),
                    row["url"], row["image"], seen, units_left(row), row["product_slug"],
                    frozenset(json.loads(row["categories"] or "[]")))
        if seen is not None and seen != row["price"]:
            notices.append(f"the price of {row['product_name']} ({sku}) changed")
        if not line.in_stock:
            notices.append(stock_notice(line.name, sku, line.available or 0))
        lines.append(line)
    subtotal = sum(line.total for line in lines)
    cards = gift_card_skus(conn)
    # Gift cards are money, not goods: they count towards neither free delivery nor any discount
    # (its conditions included), so a £50 card is always worth £50.
    goods = [line for line in lines if line.sku not in cards]
    # Free delivery over the threshold counts the goods before discounts.
    free = rules.free_over is not None and sum(line.total for line in goods) >= rules.free_over
    needs_shipping = bool(goods)
    shipping = 0 if (pickup or not needs_shipping or free) else rules.flat_rate
    outcome = discounts.evaluate(conn, [discounts.Item(l.sku, l.product, l.categories, l.quantity, l.total)
                                        for l in goods], shipping, list(codes), currency=rules.currency,
                                 zone=rules.timezone, email=email, now=now)
    off = outcome.lines
    lines = [replace(line, discount=off.get(line.sku, 0)) for line in lines]
    shipping -= outcome.shipping
    discount = sum(off.values()) + outcome.shipping
    # Discounts lower what tax is charged on: the tax shown is that of the discounted amounts.
    taxable = Decimal(subtotal - sum(off.values()) + shipping)
    rate = rules.tax_rate / 100
    if rules.tax_inclusive:
        tax = _round(taxable - taxable / (1 + rate)) if rate else 0
        total = int(taxable)
    else:
        tax = _round(taxable * rate)
        total = int(taxable) + tax
    for code in outcome.codes:
        if not code["applied"]:
            notices.append(f"the code {code['code']} {code['reason']}")
    return Quote(rules.currency, tuple(lines), subtotal, shipping, tax, rules.tax_inclusive, rules.tax_label, total,
                 tuple(notices), tuple(unavailable), "pickup" if pickup else "delivery", discount, outcome.applied,
                 outcome.codes, needs_shipping)
