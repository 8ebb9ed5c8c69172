"""Prices, discounts, shipping and tax, computed on the server from the published catalog and the
site's rules: what a cart shows is what checkout charges, and a static page never decides a price.

    lines (catalog prices) → shipping option (zones, local delivery, pickup: shipping.py)
      → discounts (automatic and the cart's codes, spread over the lines and shipping)
      → tax on the discounted amounts where the goods go (tax.py) → total

Gift cards are sent by email: a basket of nothing else has nothing to ship (``needs_shipping``),
and they carry no tax (a voucher is taxed when it is spent).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Mapping
from functools import lru_cache

from content.eu_vat import vat_number_country

from ..errors import BadRequest
from . import discounts, shipping as zones
from .discounts import Applied
from .giftcards import skus_from, gift_card_skus
from .shipping import Destination, Option
from .tax import Place, TaxLine, TaxRules, charge, place

MAX_QUANTITY = 99
MAX_LINES = 50
SHIPPING_METHODS = ("delivery", "pickup")  # the words that still choose the first option of a kind


@dataclass(frozen=True)
class Rules:
    currency: str
    shipping: dict  # zones, local delivery and pickup (shipping.config)
    tax: TaxRules
    payment_instructions: str
    email: str = ""  # the shop's own address: Reply-To of its emails
    low_stock: int = 3
    timezone: str = "UTC"  # the shop's: discounts start and end in it, pickup slots are in it

    @property
    def tax_inclusive(self) -> bool:
        return self.tax.inclusive

    @property
    def tax_label(self) -> str:
        return self.tax.label

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> Rules:
        """The shop's published rules. Parsed once per published version (by its text) and then shared
        by every request: nothing may change a Rules or its shipping config."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()
        return _rules(row["value"] if row else "{}")

    @classmethod
    def parse(cls, raw: str) -> Rules:
        data = json.loads(raw)
        return cls(data.get("currency", "EUR"), zones.config(data.get("shipping")), TaxRules.from_raw(data.get("tax")),
                   data.get("payment_instructions", ""), data.get("email", ""),
                   int(data.get("low_stock_threshold", 3)), data.get("timezone") or "UTC")


@lru_cache(maxsize=256)
def _rules(raw: str) -> Rules:
    return Rules.parse(raw)


def published(conn: sqlite3.Connection) -> tuple[Rules, Mapping[str, dict]]:
    """The shop's rules and its gift-card skus, in one read (every price quote needs both)."""
    found = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('shop_rules', 'gift_cards')").fetchall())
    return _rules(found.get("shop_rules", "{}")), skus_from(found["gift_cards"]) if "gift_cards" in found else skus_from("{}")


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
    weight: int = 0  # grams, one unit
    tax_category: str = "standard"

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
    shipping_method: str = "delivery"  # the option's kind as checkout always named it: delivery or pickup
    discount: int = 0  # off the lines and shipping together
    discounts: tuple[Applied, ...] = ()
    codes: tuple[dict, ...] = ()  # each code in the cart, applied or why not
    needs_shipping: bool = True  # False when every line is a gift card (sent by email)
    option: Option | None = None  # the shipping option priced (None: nothing to ship, or none applies)
    shipping_estimated: bool = False  # no address yet: the first zone's first method, as a guide
    shipping_problem: str | None = None  # why the chosen option does not apply
    tax_lines: tuple[TaxLine, ...] = ()
    tax_note: str = ""  # "reverse charge" or "export" for a zero-rated sale
    tax_removed: int = 0  # the origin's tax taken out of tax-inclusive prices for a zero-rated sale
    place: Place | None = None

    def public(self) -> dict:
        return {"currency": self.currency, "lines": [line.public() for line in self.lines],
                "subtotal": self.subtotal, "discount": self.discount,
                "discounts": [a.public() for a in self.discounts],
                "codes": [{k: v for k, v in c.items() if k != "blocking"} for c in self.codes],
                "shipping_method": self.shipping_method, "needs_shipping": self.needs_shipping,
                "shipping_option": self.option.id if self.option else None,
                "shipping_name": self.option.name if self.option else "",
                "shipping_estimate": self.option.estimate if self.option else "",
                "shipping_estimated": self.shipping_estimated, "shipping_problem": self.shipping_problem,
                "shipping": self.shipping, "tax": self.tax,
                "tax_inclusive": self.tax_inclusive, "tax_label": self.tax_label, "total": self.total,
                "tax_lines": [line.public() for line in self.tax_lines], "tax_note": self.tax_note,
                "tax_removed": self.tax_removed,
                "notices": list(self.notices), "unavailable": list(self.unavailable)}


def units_left(row: sqlite3.Row) -> int | None:
    """Units left to sell from a row with ``track_stock``, ``on_hand`` and ``reserved`` (None: untracked)."""
    if not row["track_stock"]:
        return None
    return max((row["on_hand"] or 0) - (row["reserved"] or 0), 0)


def stock_notice(name: str, sku: str, left: int) -> str:
    return f"{name} ({sku}) is sold out" if left <= 0 else f"{name} ({sku}): only {left} left"


def catalog_lines(conn: sqlite3.Connection, items: list[tuple[str, int, int | None]],
                  cards: Mapping[str, dict] | None = None) -> tuple[list[Line], list[str], list[str]]:
    """``(sku, quantity, price the shopper last saw)`` priced from the catalog: (lines, notices, unavailable)."""
    lines, notices, unavailable = [], [], []
    cards = gift_card_skus(conn) if cards is None else cards
    # One query for every line (a cart holds at most MAX_LINES): each statement is a turn at the GIL.
    skus = list(dict.fromkeys(sku for sku, _, _ in items))
    found = {r["sku"]: r for r in conn.execute(
        "SELECT v.*, p.name AS product_name, p.url, p.image, p.categories, s.on_hand, s.reserved "
        "FROM catalog_variants v JOIN catalog_products p ON p.slug = v.product_slug "
        f"LEFT JOIN stock s ON s.sku = v.sku WHERE v.sku IN ({', '.join('?' * len(skus))})", skus)} if skus else {}
    for sku, quantity, seen in items:
        row = found.get(sku)
        if row is None:
            unavailable.append(sku)
            notices.append(f"{sku} is no longer sold and was left out")
            continue
        line = Line(sku, row["product_name"], row["title"], quantity, row["price"], bool(row["track_stock"]),
                    row["url"], row["image"], seen, units_left(row), row["product_slug"],
                    frozenset(json.loads(row["categories"] or "[]")), weight=row["weight"] or 0,
                    tax_category="zero" if sku in cards else (row["tax_category"] or "standard"))
        if seen is not None and seen != row["price"]:
            notices.append(f"the price of {row['product_name']} ({sku}) changed")
        if not line.in_stock:
            notices.append(stock_notice(line.name, sku, line.available or 0))
        lines.append(line)
    return lines, notices, unavailable


def shipped_items(lines: list[Line], cards: set[str] | frozenset[str]) -> list[zones.Item]:
    return [zones.Item(l.product, l.name, l.categories, l.total, l.weight * l.quantity) for l in lines
            if l.sku not in cards]


def choose(rules: Rules, method: str, destination: Destination | None, items: list[zones.Item]
           ) -> tuple[Option | None, bool, str | None]:
    """The option ``method`` names for ``destination`` and these goods: (option, estimated?, why not).

    ``method`` is an option's id, or ``delivery``/``pickup`` for the first option of that kind
    (delivery before an address is known: the first zone's first method, as an estimate).
    """
    cfg = rules.shipping
    if method == "delivery" and (destination is None or not destination.country):
        first, reasons = zones.first_delivery(cfg, items, rules.currency)
        if first is None:  # nothing posts this basket: collecting it may still do
            first = next(iter(zones.options(cfg, None, items, rules.currency).available), None)
        return (first, True, None) if first else (None, False, "; ".join(dict.fromkeys(reasons)) or
                                                  "this shop has no delivery method")
    found = zones.options(cfg, destination, items, rules.currency)
    if method in SHIPPING_METHODS:
        kinds = ("delivery", "local") if method == "delivery" else ("pickup",)
        for kind in kinds:
            option = next((o for o in found.available if o.kind == kind), None)
            if option:
                return option, False, None
        if method == "pickup":
            refused = [r.reason for r in found.refused if r.id.startswith("pickup/")]
            return None, False, "; ".join(refused) or "this shop does not offer collection"
        refused = [r.reason for r in found.refused if not r.id.startswith("pickup/")]
        return None, False, found.no_zone or "; ".join(refused) or "no delivery method takes this basket"
    option = found.get(method)
    if option:
        return option, False, None
    name = known(cfg, method)
    if name is None:
        raise BadRequest(f"{method!r} is not one of this shop's shipping options", field="shipping_method",
                         code="unknown_shipping_option")
    refused = next((r.reason for r in found.refused if r.id == method), None)
    if refused or found.no_zone:
        return None, False, refused or found.no_zone
    where = f" {destination.postal_code}" if destination and destination.postal_code else ""
    return None, False, f"{name} does not deliver to{where or ' this address'}" if destination else \
        f"{name} needs a delivery address"


def known(cfg: dict, option_id: str) -> str | None:
    """The name of the option ``option_id`` names in the shop's rules, None when there is none."""
    rules = [m for z in cfg["zones"] for m in z.get("methods") or ()] + cfg["local_delivery"] + cfg["pickup"]
    return next((r["name"] for r in rules if r["id"] == option_id), None)


def quote(conn: sqlite3.Connection, items: list[tuple[str, int, int | None]], *, method: str = "delivery",
          destination: Destination | None = None, vat_number: str | None = None,
          codes: list[str] | tuple[str, ...] = (), email: str | None = None, now: datetime | None = None,
          option: Option | None = None) -> Quote:
    """Price ``(sku, quantity, price the shopper last saw)`` lines from the catalog, sent by the
    shipping option ``method`` names to ``destination``, with the automatic discounts and the cart's
    ``codes`` (checked against ``email`` when it is known) and the tax of where the goods go.
    ``option``, when given, is the option already chosen (shipping-options prices each one)."""
    rules, cards = published(conn)
    lines, notices, unavailable = catalog_lines(conn, items, cards)
    subtotal = sum(line.total for line in lines)
    # Gift cards are money, not goods: they count towards neither free delivery nor any discount
    # (its conditions included), so a £50 card is always worth £50.
    goods = [line for line in lines if line.sku not in cards]
    needs_shipping = bool(goods)
    estimated, problem = False, None
    if needs_shipping and option is None:
        option, estimated, problem = choose(rules, method, destination, shipped_items(goods, cards))
    if not needs_shipping:
        option = None
    if problem:
        notices.append(problem)
    shipping = option.price if option else 0
    outcome = discounts.evaluate(conn, [discounts.Item(l.sku, l.product, l.categories, l.quantity, l.total)
                                        for l in goods], shipping, list(codes), currency=rules.currency,
                                 zone=rules.timezone, email=email, now=now)
    off = outcome.lines
    lines = [replace(line, discount=off.get(line.sku, 0)) for line in lines]
    shipping -= outcome.shipping
    discount = sum(off.values()) + outcome.shipping
    # Tax where the goods go: the pickup point for a collection, else the address (or the shop's own country).
    if option is not None and option.kind == "pickup":  # handed over at the counter: never an export
        country, region = (option.location or {}).get("country") or rules.tax.origin or "", ""
    else:
        country, region = (destination.country, destination.region) if destination else ("", "")
    vat_country = vat_number_country(vat_number) if vat_number else None
    if vat_number and vat_country is None:
        notices.append(f"{vat_number} is not a valid EU VAT number, so VAT is charged")
    where = place(rules.tax, country or None, region, vat_country)
    # Discounts lower what tax is charged on: the tax shown is that of the discounted amounts.
    taxed = charge(rules.tax, where, [(l.tax_category, l.total - l.discount) for l in lines if l.sku not in cards],
                   shipping)
    total = taxed.total + sum(l.total for l in lines if l.sku in cards)
    for code in outcome.codes:
        if not code["applied"]:
            notices.append(f"the code {code['code']} {code['reason']}")
    kind = "pickup" if option is not None and option.kind == "pickup" else \
        ("pickup" if method == "pickup" else "delivery")
    return Quote(rules.currency, tuple(lines), subtotal, shipping, taxed.tax, rules.tax.inclusive, rules.tax.label,
                 total, tuple(notices), tuple(unavailable), kind, discount, outcome.applied, outcome.codes,
                 needs_shipping, option, estimated, problem, taxed.lines, taxed.note, taxed.removed, where)
