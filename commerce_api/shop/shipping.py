"""Where an order can go and what it costs: shipping zones and their methods, local delivery, pickup.

The rules are the shop's ``shipping.yaml``, normalised by the builder into the published catalog
(money in minor units, ids ``zone/method``, ``local/<id>``, ``pickup/<id>``). A catalog published
before zones existed carries the old flat rate; ``config`` turns it into one zone and a pickup
point, so those shops keep working unchanged.

An address gets one zone, the most specific that matches (a postcode match beats a country list,
which beats ``*``), and that zone's methods; local delivery areas that match are offered besides.
Pickup needs no address. Every option that does not apply says why, naming what excludes it.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from content.money import Money, display

KINDS = ("delivery", "local", "pickup")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Destination:
    country: str = ""
    postal_code: str = ""
    region: str = ""


@dataclass(frozen=True)
class Item:
    """A line to be sent: its product (slug, name, categories), quantity, amount and weight."""
    product: str
    name: str
    categories: frozenset[str]
    amount: int  # the line's total before discounts
    weight: int  # grams, all units together


@dataclass(frozen=True)
class Option:
    id: str
    kind: str  # delivery, local or pickup
    name: str
    price: int
    zone: str | None = None
    estimate: str = ""
    free_over: int | None = None
    min_order: int | None = None
    location: dict | None = field(default=None, compare=False)  # pickup: the location's rules

    def public(self) -> dict:
        data = {"id": self.id, "kind": self.kind, "name": self.name, "zone": self.zone, "price": self.price,
                "estimate": self.estimate, "free_over": self.free_over, "min_order": self.min_order}
        if self.location is not None:
            data["address"] = self.location.get("address", "")
        return data


@dataclass(frozen=True)
class Refused:
    id: str
    name: str
    reason: str

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class Choice:
    """What ``options`` found for an address and a basket."""
    available: tuple[Option, ...]
    refused: tuple[Refused, ...]
    reason: str | None  # why nothing is offered, when nothing is
    no_zone: str | None = None  # "we do not deliver to ..." when no zone covers the address

    def get(self, option_id: str) -> Option | None:
        return next((o for o in self.available if o.id == option_id), None)


def config(raw: dict | None) -> dict:
    """The shop's shipping rules, converting a published legacy flat rate into a zone and a pickup point."""
    raw = raw or {}
    if "zones" in raw:
        return {"zones": raw.get("zones") or [], "local_delivery": raw.get("local_delivery") or [],
                "pickup": raw.get("pickup") or []}
    countries = list(raw.get("countries") or []) or ["*"]
    method = {"id": "standard/delivery", "name": "Delivery", "price": int(raw.get("flat_rate") or 0),
              "free_over": raw.get("free_over"), "min_order": None, "estimate": "", "weight_bands": [],
              "subtotal_bands": [], "exclude_products": [], "exclude_categories": []}
    return {"zones": [{"id": "standard", "name": "Standard delivery", "countries": countries, "postcodes": [],
                       "exclude_postcodes": [], "methods": [method]}],
            "local_delivery": [],
            "pickup": [{"id": "pickup/shop", "name": "Collect from the shop", "address": "", "country": None,
                        "price": 0, "hours": {}, "slot_minutes": 60, "capacity": None, "preparation_minutes": 0,
                        "cutoff": None, "closed": [], "days_ahead": 7, "exclude_products": [],
                        "exclude_categories": []}]}


# -- postcodes --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def normalise_postcode(value: str, country: str = "") -> str:
    """Upper case, one space between parts; a British postcode typed without its space gets it back."""
    text = " ".join((value or "").upper().split())
    if country == "GB" and " " not in text and 5 <= len(text) <= 7:
        text = f"{text[:-3]} {text[-3:]}"
    return text


@functools.lru_cache(maxsize=4096)  # a pure function of two short strings, asked for every zone of every quote
def specificity(pattern: str, postcode: str) -> int | None:
    """How specific ``pattern``'s match of a normalised ``postcode`` is (its literal characters), or None.

    A glob (``*``, ``?``, ``[...]``) matches the whole postcode. A plain pattern matches the postcode
    itself, or its start up to a space (``EH1`` is ``EH1 1AA``, never ``EH10 1AA``); an all-digit
    pattern matches any postcode it begins (``941`` is ``94107``).
    """
    pattern = normalise_postcode(pattern)
    if not pattern or not postcode:
        return None
    if _GLOB.search(pattern):
        literal = len(re.sub(r"\[[^\]]*\]|[*?]", "", pattern))
        return literal if fnmatch.fnmatchcase(postcode, pattern) else None
    if postcode == pattern or postcode.startswith(pattern + " ") or (pattern.isdigit() and postcode.startswith(pattern)):
        return len(pattern)
    return None


def _postcode_match(area: dict, dest: Destination) -> int | None:
    """The best specificity of ``area``'s postcodes for ``dest`` (0: the area names none), None: no match."""
    code = normalise_postcode(dest.postal_code, dest.country)
    if any(specificity(p, code) is not None for p in area.get("exclude_postcodes") or ()):
        return None
    patterns = area.get("postcodes") or []
    if not patterns:
        return 0
    found = [s for s in (specificity(p, code) for p in patterns) if s is not None]
    return max(found) if found else None


def zone_for(cfg: dict, dest: Destination) -> dict | None:
    """The most specific zone for ``dest``: a postcode match (longest first), then a country list, then ``*``."""
    best, best_rank = None, None
    for zone in cfg["zones"]:
        countries = zone.get("countries") or []
        if dest.country in countries:
            country_rank = 1
        elif "*" in countries:
            country_rank = 0
        else:
            continue
        found = _postcode_match(zone, dest)
        if found is None:
            continue
        rank = (2, found) if zone.get("postcodes") else (country_rank, 0)
        if best_rank is None or rank > best_rank:  # ties keep the earlier zone
            best, best_rank = zone, rank
    return best


# -- what each option costs --------------------------------------------------------------------

def _excluded(rule: dict, items: Iterable[Item]) -> str | None:
    products, categories = set(rule.get("exclude_products") or ()), set(rule.get("exclude_categories") or ())
    for item in items:
        if item.product in products:
            return f"{rule['name']} cannot take {item.name}"
        hit = sorted(item.categories & categories)
        if hit:
            return f"{rule['name']} cannot take {item.name} ({hit[0]})"
    return None


def _price(rule: dict, items: tuple[Item, ...], currency: str) -> tuple[int | None, str | None]:
    """(price, None) when ``rule`` (a method, a local area, a pickup point) takes these goods, else (None, why)."""
    subtotal = sum(i.amount for i in items)
    weight = sum(i.weight for i in items)
    if why := _excluded(rule, items):
        return None, why
    if rule.get("min_order") is not None and subtotal < rule["min_order"]:
        return None, f"{rule['name']} needs an order of at least {display(Money(rule['min_order'], currency))}"
    price = rule.get("price")
    if rule.get("weight_bands"):
        band = next((b for b in rule["weight_bands"] if weight <= b["up_to"]), None)
        if band is None:
            limit = rule["weight_bands"][-1]["up_to"]
            return None, f"{rule['name']} takes up to {_kilos(limit)}; this order weighs {_kilos(weight)}"
        price = band["price"]
    elif rule.get("subtotal_bands"):
        fitting = [b for b in rule["subtotal_bands"] if subtotal >= b["from"]]
        price = fitting[-1]["price"] if fitting else rule["subtotal_bands"][0]["price"]
    if rule.get("free_over") is not None and subtotal >= rule["free_over"]:
        price = 0
    return int(price or 0), None


def _kilos(grams: int) -> str:
    return f"{grams} g" if grams < 1000 else f"{grams / 1000:g} kg"


def options(cfg: dict, dest: Destination | None, items: Iterable[Item], currency: str) -> Choice:
    """Every option for ``dest`` (None: no address yet, pickup only) and these goods, in the order
    shoppers see them: local delivery, the zone's methods, then pickup."""
    items = tuple(items)
    available: list[Option] = []
    refused: list[Refused] = []

    def consider(rule: dict, kind: str, zone: str | None = None, location: dict | None = None) -> None:
        price, why = _price(rule, items, currency)
        if why:
            refused.append(Refused(rule["id"], rule["name"], why))
        else:
            available.append(Option(rule["id"], kind, rule["name"], price, zone, rule.get("estimate") or "",
                                    rule.get("free_over"), rule.get("min_order"), location))

    no_zone = None
    if dest is not None and dest.country:
        for area in cfg["local_delivery"]:
            if dest.country in (area.get("countries") or ()) and _postcode_match(area, dest):
                consider(area, "local")
        zone = zone_for(cfg, dest)
        if zone is None:
            no_zone = f"we do not deliver to {dest.country}" + (f" {dest.postal_code}" if dest.postal_code else "")
        else:
            for method in zone.get("methods") or ():
                consider(method, "delivery", zone=zone["name"])
    for location in cfg["pickup"]:
        consider(location, "pickup", location=location)
    reason = None
    if not available:
        reasons = ([no_zone] if no_zone else []) + [r.reason for r in refused]
        reason = "; ".join(reasons) if reasons else "enter a country to see the delivery options"
    return Choice(tuple(available), tuple(refused), reason, no_zone)


def first_delivery(cfg: dict, items: Iterable[Item], currency: str) -> tuple[Option | None, list[str]]:
    """Before an address is known: the first zone's first method that takes these goods (an
    estimate), or None and why each method refused them."""
    items = tuple(items)
    reasons = []
    for zone in cfg["zones"][:1]:  # the first zone is the shop's home: the others are elsewhere
        for method in zone.get("methods") or ():
            price, why = _price(method, items, currency)
            if why is None:
                return Option(method["id"], "delivery", method["name"], price, zone["name"],
                              method.get("estimate") or "", method.get("free_over"), method.get("min_order")), []
            reasons.append(why)
    return None, reasons
