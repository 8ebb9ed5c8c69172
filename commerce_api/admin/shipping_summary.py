"""shipping.yaml as people read it: zones, methods, local delivery and pickup in words, for the
Settings → Shipping page; and the legacy flat rate of site.yaml written out as a shipping.yaml.

The summary is read defensively from whatever the file holds (the content check is what refuses a
broken file, with its lines): a value of the wrong shape shows as written, never as an error here.
It must never decide anything a shopper is charged: that is the commerce API's reading of the
published catalog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from content.errors import ContentErrors
from content.money import display, parse_price
from content.yamltext import load_yaml

PATH = "shipping.yaml"
DAYS = (("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"), ("fri", "Friday"),
        ("sat", "Saturday"), ("sun", "Sunday"))
_SLUG = re.compile(r"[^a-z0-9]+")
_LINE = re.compile(r"^shipping\.yaml:(\d+): (.*)$", re.S)


def syntax_errors(text: str) -> list[str]:
    """The file's YAML errors (line and problem), before the whole site is checked: a file that is not
    YAML, or not a mapping of ``zones``, ``local_delivery`` and ``pickup``, says so by itself."""
    try:
        data = load_yaml(text, PATH)
    except ContentErrors as exc:
        return [str(e) for e in exc.errors]
    if data is not None and not isinstance(data, Mapping):
        return [f"{PATH}:1: must be a mapping with zones:, local_delivery: and pickup: lists"]
    return []


def readable_errors(errors: list[str], text: str) -> list[dict[str, str]]:
    """Each error as {line, message, source}: "Line 12", what is wrong, and the line as typed, so that
    the person finds it in the text box without counting lines."""
    lines = text.splitlines()
    shown = []
    for error in errors:
        found = _LINE.match(error)
        if found:
            number = int(found.group(1))
            source = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            shown.append({"line": f"Line {number}", "message": found.group(2), "source": source})
        else:
            shown.append({"line": "", "message": error.removeprefix(f"{PATH}: "), "source": ""})
    return shown


def load(text: str) -> Mapping | None:
    """The saved file as data, or None when it is not readable YAML (the page then shows the text)."""
    try:
        data = load_yaml(text, PATH)
    except ContentErrors:
        return None
    return data if isinstance(data, Mapping) else None


def summary(data: Mapping, currency: str) -> dict[str, list[dict[str, Any]]]:
    """Zones with their methods, local delivery and pickup locations, each field as words."""
    money = _money(currency)
    return {"zones": [_zone(z, money) for z in _list(data.get("zones"))],
            "local": [_local(d, money) for d in _list(data.get("local_delivery"))],
            "pickup": [_pickup(p, money) for p in _list(data.get("pickup"))]}


def _zone(zone: Mapping, money) -> dict[str, Any]:
    countries = _words(zone.get("countries"))
    return {"name": _text(zone.get("name")) or "(no name)", "id": _text(zone.get("id")) or _slug(zone.get("name")),
            "countries": "everywhere else" if countries == ["*"] else ", ".join(countries) or "none",
            "postcodes": ", ".join(_words(zone.get("postcodes"))),
            "exclude_postcodes": ", ".join(_words(zone.get("exclude_postcodes"))),
            "methods": [_method(m, money) for m in _list(zone.get("methods"))]}


def _method(method: Mapping, money) -> dict[str, Any]:
    weight = [(f"up to {_grams(b.get('up_to'))}", money(b.get("price"))) for b in _list(method.get("weight_bands"))]
    subtotal = [(f"from {money(b.get('from'))}", money(b.get("price"))) for b in _list(method.get("subtotal_bands"))]
    price = money(method.get("price")) if method.get("price") is not None else \
        "by weight" if weight else "by order value" if subtotal else "no price"
    return {"name": _text(method.get("name")) or "(no name)", "price": price, "estimate": _text(method.get("estimate")),
            "bands": weight or subtotal, "conditions": _conditions(method, money)}


def _local(area: Mapping, money) -> dict[str, Any]:
    return {"name": _text(area.get("name")) or "(no name)", "countries": ", ".join(_words(area.get("countries"))),
            "postcodes": ", ".join(_words(area.get("postcodes"))),
            "exclude_postcodes": ", ".join(_words(area.get("exclude_postcodes"))),
            "price": money(area.get("price")), "estimate": _text(area.get("estimate")),
            "conditions": _conditions(area, money)}


def _pickup(place: Mapping, money) -> dict[str, Any]:
    hours = place.get("hours") if isinstance(place.get("hours"), Mapping) else {}
    opening = [(day, ", ".join(_text(r).replace("-", "–") for r in (hours[key] if isinstance(hours[key], list)
                                                                     else [hours[key]])))
               for key, day in DAYS if hours.get(key)]
    capacity = place.get("capacity")
    return {"name": _text(place.get("name")) or "(no name)", "address": _text(place.get("address")),
            "country": _text(place.get("country")),
            "price": money(place.get("price")) if place.get("price") not in (None, "0", 0) else "free",
            "hours": opening, "closed_days": [day for key, day in DAYS if not hours.get(key)],
            "slot_minutes": _text(place.get("slot_minutes")) or "60",
            "capacity": f"{capacity} orders per slot" if capacity is not None else "no limit",
            "preparation_minutes": _text(place.get("preparation_minutes")) or "0",
            "cutoff": _text(place.get("cutoff")), "closed": [_text(d) for d in _list_of_any(place.get("closed"))],
            "days_ahead": _text(place.get("days_ahead")) or "7", "excludes": _excludes(place.get("excludes"))}


def from_legacy(site: Mapping, *, country: str | None = None) -> bytes:
    """site.yaml's ``shipping:`` block (flat rate, free over, countries) as the shipping.yaml that charges
    the same: one zone with one method. Collection from the shop, which flat-rate shops offered without
    an address or opening hours, cannot be written without them (a pickup point needs both): it comes
    as a commented example to fill in, and the page says that collection is off until then."""
    legacy = site.get("shipping") if isinstance(site.get("shipping"), Mapping) else {}
    method: dict[str, Any] = {"name": "Delivery", "id": "delivery", "price": _decimal_text(legacy.get("flat_rate"))}
    if legacy.get("free_over") not in (None, ""):
        method["free_over"] = _decimal_text(legacy.get("free_over"))
    countries = [str(c).upper() for c in _list_of_any(legacy.get("countries"))] or ["*"]
    data = {"zones": [{"name": "Standard delivery", "id": "standard", "countries": countries, "methods": [method]}]}
    name = (_text(site.get("name")) or "The shop").replace('"', "'")
    head = ("# Shipping zones, local delivery and pickup: see docs/shipping-and-tax.md for every key.\n"
            "# Started from the flat rate in site.yaml.\n")
    pickup = ("\n# Collection from the shop needs its address and opening hours: until they are here, shoppers\n"
              "# cannot choose to collect. Remove the # signs, then fill in the address, country and hours.\n"
              "# pickup:\n"
              "#   - name: Collect from the shop\n"
              "#     id: shop\n"
              f"#     address: \"{name}, street, town\"\n"
              f"#     country: {country or 'GB'}\n"
              "#     hours: {mon: \"09:00-17:00\", sat: \"09:00-13:00\"}\n")
    return (head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100) + pickup).encode()


def _money(currency: str):
    def shown(value: object) -> str:
        if value is None or value == "":
            return ""
        try:
            return display(parse_price(value, currency))
        except ValueError:
            return _text(value)  # as written; the content check names the line
    return shown


def _conditions(entry: Mapping, money) -> str:
    """When a method is free, not offered, or not for some goods, in one line."""
    parts = [f"free over {money(entry.get('free_over'))}" if money(entry.get("free_over")) else "",
             f"orders from {money(entry.get('min_order'))}" if money(entry.get("min_order")) else "",
             f"not for {_excludes(entry.get('excludes'))}" if _excludes(entry.get("excludes")) else ""]
    return "; ".join(p for p in parts if p)


def _grams(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value / 1000:g} kg" if value >= 1000 and value % 100 == 0 else f"{value} g"
    return _text(value)


def _excludes(value: object) -> str:
    if not isinstance(value, Mapping):
        return ""
    parts = [f"products {', '.join(_words(value.get('products')))}" if _words(value.get("products")) else "",
             f"categories {', '.join(_words(value.get('categories')))}" if _words(value.get("categories")) else ""]
    return "; ".join(p for p in parts if p)


def _list(value: object) -> list[Mapping]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _list_of_any(value: object) -> list:
    return value if isinstance(value, list) else [] if value in (None, "") else [value]


def _words(value: object) -> list[str]:
    return [_text(v) for v in _list_of_any(value) if _text(v)]


def _text(value: object) -> str:
    return "" if value is None or isinstance(value, (Mapping, list)) else str(value).strip()


def _slug(value: object) -> str:
    return _SLUG.sub("-", _text(value).lower()).strip("-")


def _decimal_text(value: object) -> str:
    return "0" if value in (None, "") else str(value)
