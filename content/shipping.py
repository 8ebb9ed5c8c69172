"""``shipping.yaml``: shipping zones with their methods, local delivery and pickup locations.

Parsed strictly, every problem a ``ContentError`` naming the file and line, so that the admin and a
git push refuse a file the shop could not use. Nothing here matches addresses or prices a cart: the
commerce API does that from the normalised snapshot (``snapshot``) the builder publishes.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from . import countries
from .errors import ContentError, ContentErrors
from .fields import Fields
from .model import (WEEKDAYS, Band, Excludes, LocalDelivery, PickupLocation, Product, Shipping, ShippingMethod,
                    ShippingRules, ShippingZone)
from .money import Money
from .source import Source
from .yamltext import Mapping, decode, load_yaml

PATH = "shipping.yaml"
FIELDS = {"zones", "local_delivery", "pickup"}
ZONE_FIELDS = {"name", "id", "countries", "postcodes", "exclude_postcodes", "methods"}
METHOD_FIELDS = {"name", "id", "price", "free_over", "min_order", "estimate", "weight_bands", "subtotal_bands",
                 "excludes"}
LOCAL_FIELDS = {"name", "id", "countries", "postcodes", "exclude_postcodes", "price", "min_order", "free_over",
                "estimate", "excludes"}
PICKUP_FIELDS = {"name", "id", "address", "country", "price", "hours", "slot_minutes", "capacity",
                 "preparation_minutes", "cutoff", "closed", "days_ahead", "excludes"}
# Option ids are "zone/method", "local/<id>" and "pickup/<id>": a zone by these names could collide.
RESERVED_ZONE_IDS = {"local", "pickup"}
_POSTCODE = re.compile(r"^[A-Z0-9 *?\[\]!-]{1,20}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def parse_shipping(source: Source, paths: list[str], currency: str, legacy: Shipping | None,
                   products: list[Product], errors: list[ContentError]) -> ShippingRules | None:
    """The site's ``shipping.yaml``, or None when it has none (site.yaml's legacy block applies)."""
    if PATH not in paths:
        return None
    try:
        data = load_yaml(decode(source.read(PATH), PATH), PATH)
    except ContentErrors as exc:
        errors.extend(exc.errors)
        return None
    if legacy is not None:
        errors.append(ContentError(PATH, 1, f"site.yaml also has a shipping block (line {legacy.line}); "
                                            "shipping.yaml replaces it, so remove that block from site.yaml"))
        errors.append(ContentError("site.yaml", legacy.line or None, "shipping.yaml replaces this block; remove "
                                   "it from site.yaml (set prices in shipping.yaml)", "shipping"))
    if data is not None and not isinstance(data, Mapping):
        errors.append(ContentError(PATH, 1, "must be a mapping with zones, local_delivery and pickup"))
        return None
    f = Fields(data, PATH, errors, FIELDS) if data is not None else None
    if f is None or not FIELDS & set(f.data):
        errors.append(ContentError(PATH, 1, "sets no way to get an order: list zones, local_delivery or pickup "
                                            "(see docs/shipping-and-tax.md)"))
        return None
    reader = _Reader(currency, products, errors)
    return ShippingRules(zones=reader.zones(f), local_delivery=reader.local_delivery(f), pickup=reader.pickup(f))


def slugify(text: str) -> str:
    """The id a zone, method or location gets from its name: ``Royal Mail Tracked 48`` → ``royal-mail-tracked-48``."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def normalise_postcode(text: str) -> str:
    """Upper case, runs of whitespace made one space (patterns and postcodes alike)."""
    return " ".join(text.upper().split())


class _Reader:
    """Reads the file's parts with what they are checked against: the currency and the products."""

    def __init__(self, currency: str, products: list[Product], errors: list[ContentError]) -> None:
        self.currency, self.errors = currency, errors
        self.slugs = {p.slug for p in products}
        self.categories = {c for p in products for c in p.categories}

    # -- the three parts --------------------------------------------------------------------------

    def zones(self, f: Fields) -> tuple[ShippingZone, ...]:
        result, names, ids = [], {}, {}
        for item in self.mappings(f, "zones"):
            g = Fields(item, PATH, self.errors, ZONE_FIELDS)
            name = g.text("name", required=True, max_len=200)
            zone_id = self.ident(g, name)
            if zone_id in RESERVED_ZONE_IDS:
                g.error("id" if "id" in item else "name", f"the id {zone_id!r} is reserved (local delivery and "
                                                          "pickup ids start with it); give the zone another id")
            _unique(g, "name", name, names, "zone")
            _unique(g, "id" if "id" in item else "name", zone_id, ids, "zone", "id")
            methods = self.methods(g)
            result.append(ShippingZone(zone_id, name, self.countries(g, everywhere=True), self.postcodes(g, "postcodes"),
                                       self.postcodes(g, "exclude_postcodes"), methods))
        return tuple(result)

    def methods(self, g: Fields) -> tuple[ShippingMethod, ...]:
        if "methods" not in g.data:
            g.errors.append(ContentError(PATH, g.data.line, "is required: a zone needs at least one method", "methods"))
            return ()
        items = self.mappings(g, "methods")
        if not items and isinstance(g.data.get("methods"), list):
            g.error("methods", "must list at least one method")
        result, names, ids = [], {}, {}
        for item in items:
            h = Fields(item, PATH, self.errors, METHOD_FIELDS)
            name = h.text("name", required=True, max_len=200)
            method_id = self.ident(h, name)
            _unique(h, "name", name, names, "method")
            _unique(h, "id" if "id" in item else "name", method_id, ids, "method", "id")
            weight_bands, subtotal_bands = self.weight_bands(h), self.subtotal_bands(h)
            if weight_bands and subtotal_bands:
                h.error("subtotal_bands", "a method prices by weight_bands or by subtotal_bands, not both; "
                                          "make two methods if you need both")
            banded = bool(weight_bands or subtotal_bands)
            price = h.price("price", self.currency, required=not banded)
            if banded and "price" in item:
                h.error("price", "the bands give this method's price; remove price (or the bands)")
            result.append(ShippingMethod(method_id, name, None if banded else price or Money(0, self.currency),
                                         h.price("free_over", self.currency), h.price("min_order", self.currency),
                                         h.text("estimate", max_len=200), weight_bands, subtotal_bands,
                                         self.excludes(h)))
        return tuple(result)

    def local_delivery(self, f: Fields) -> tuple[LocalDelivery, ...]:
        result, names, ids = [], {}, {}
        for item in self.mappings(f, "local_delivery"):
            g = Fields(item, PATH, self.errors, LOCAL_FIELDS)
            name = g.text("name", required=True, max_len=200)
            local_id = self.ident(g, name)
            _unique(g, "name", name, names, "local delivery")
            _unique(g, "id" if "id" in item else "name", local_id, ids, "local delivery", "id")
            postcodes = self.postcodes(g, "postcodes")
            if not postcodes and "postcodes" not in item:
                g.errors.append(ContentError(PATH, item.line, "is required: the postcodes you deliver to make "
                                                              "it local", "postcodes"))
            elif not postcodes:
                g.error("postcodes", "must list at least one postcode or pattern (such as EH6 or \"EH7 4*\")")
            result.append(LocalDelivery(
                local_id, name, self.countries(g, everywhere=False), postcodes, self.postcodes(g, "exclude_postcodes"),
                g.price("price", self.currency, required=True) or Money(0, self.currency),
                g.price("min_order", self.currency), g.price("free_over", self.currency),
                g.text("estimate", max_len=200), self.excludes(g)))
        return tuple(result)

    def pickup(self, f: Fields) -> tuple[PickupLocation, ...]:
        result, names, ids = [], {}, {}
        for item in self.mappings(f, "pickup"):
            g = Fields(item, PATH, self.errors, PICKUP_FIELDS)
            name = g.text("name", required=True, max_len=200)
            pickup_id = self.ident(g, name)
            _unique(g, "name", name, names, "pickup location")
            _unique(g, "id" if "id" in item else "name", pickup_id, ids, "pickup location", "id")
            country = g.text("country", required=True)
            if country and (problem := countries.problem(country)):
                g.error("country", problem)
            slot = _bounded(g, "slot_minutes", 5, 480, 60)
            result.append(PickupLocation(
                pickup_id, name, g.text("address", required=True, max_len=500), country,
                g.price("price", self.currency) or Money(0, self.currency), self.hours(g, slot), slot,
                _bounded(g, "capacity", 1, 10_000, None), _bounded(g, "preparation_minutes", 0, 60 * 24 * 60, 0),
                self.cutoff(g), self.closed(g), _bounded(g, "days_ahead", 1, 60, 7), self.excludes(g)))
        return tuple(result)

    # -- fields -----------------------------------------------------------------------------------

    def mappings(self, f: Fields, key: str) -> list[Mapping]:
        value = f.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            f.error(key, "must be a list of mappings (each item starting with '- name: ...')")
            return []
        return value

    def ident(self, g: Fields, name: str) -> str:
        """The ``id`` as written (a slug), else one made from the name."""
        if "id" in g.data:
            return g.slug("id", "")
        made = slugify(name)
        if name and not made:
            g.error("name", f"{name!r} gives no id (no letters or digits to make one from); add an id such as 'main'")
        return made

    def countries(self, g: Fields, *, everywhere: bool) -> tuple[str, ...]:
        if "countries" not in g.data:
            g.errors.append(ContentError(PATH, g.data.line, "is required: two-letter codes such as [GB]"
                                         + (', or ["*"] for everywhere else' if everywhere else ""), "countries"))
            return ()
        _unquoted(g, "countries")
        codes = tuple(c for c in g.text_list("countries") if c not in ("True", "False"))
        if not codes and isinstance(g.data.get("countries"), (list, str)):
            g.error("countries", "must list at least one country")
        for code in codes:
            if code == "*":
                if not everywhere:
                    g.error("countries", "'*' (everywhere) is for zones; list the countries you deliver to")
                elif len(codes) > 1:
                    g.error("countries", "'*' means everywhere else and stands alone; make a zone of its own for it")
            elif problem := countries.problem(code):
                g.error("countries", problem)
        return codes

    def postcodes(self, g: Fields, key: str) -> tuple[str, ...]:
        result = []
        _unquoted(g, key)
        for pattern in (p for p, raw in zip(g.text_list(key), _raw_list(g, key)) if isinstance(raw, str)):
            pattern = normalise_postcode(pattern)
            if not _POSTCODE.match(pattern):
                g.error(key, f"{pattern!r} is not a postcode or pattern (letters, digits, spaces and * ? [ ], "
                             "at most 20 characters)")
            else:
                result.append(pattern)
        return tuple(result)

    def weight_bands(self, g: Fields) -> tuple[Band, ...]:
        bands: list[Band] = []
        for item in self.bands(g, "weight_bands"):
            h = Fields(item, PATH, self.errors, {"up_to", "price"})
            up_to = _required_int(h, "up_to", "the heaviest total weight in grams this price covers")
            price = h.price("price", self.currency, required=True)
            if up_to is not None and bands and up_to <= bands[-1].limit:
                h.error("up_to", f"{up_to} g is not above the band before ({bands[-1].limit} g); "
                                 "list bands from light to heavy")
            elif up_to is not None and price is not None:
                bands.append(Band(up_to, price))
        return tuple(bands)

    def subtotal_bands(self, g: Fields) -> tuple[Band, ...]:
        bands: list[Band] = []
        for index, item in enumerate(self.bands(g, "subtotal_bands")):
            h = Fields(item, PATH, self.errors, {"from", "price"})
            start = h.price("from", self.currency, required=True)
            price = h.price("price", self.currency, required=True)
            if start is None or price is None:
                continue
            if index == 0 and start.amount != 0:
                h.error("from", f"the first band must start from 0 (it starts from {start.decimal()}), "
                                "so that every order has a price")
            elif bands and start.amount <= bands[-1].limit:
                h.error("from", f"{start.decimal()} is not above the band before "
                                f"({Money(bands[-1].limit, self.currency).decimal()}); list bands from low to high")
            else:
                bands.append(Band(start.amount, price))
        return tuple(bands)

    def bands(self, g: Fields, key: str) -> list[Mapping]:
        items = self.mappings(g, key)
        if not items and isinstance(g.data.get(key), list):
            g.error(key, "must list at least one band")
        return items

    def excludes(self, g: Fields) -> Excludes:
        data = g.mapping("excludes")
        if data is None:
            return Excludes()
        h = Fields(data, PATH, self.errors, {"products", "categories"})
        products, categories = h.text_list("products"), h.text_list("categories")
        for slug in products:
            if slug not in self.slugs:
                h.error("products", f"no product has the slug {slug!r}")
        for category in categories:
            if category not in self.categories:
                known = ", ".join(sorted(self.categories)) or "none"
                h.error("categories", f"no product is in the category {category!r} (categories in use: {known})")
        return Excludes(products, categories)

    def hours(self, g: Fields, slot: int) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        if "hours" not in g.data:
            g.errors.append(ContentError(PATH, g.data.line, "is required: opening hours by day, such as "
                                         'mon: "08:00-16:00" (days not listed are closed)', "hours"))
            return ()
        data = g.mapping("hours")
        if data is None:
            return ()
        if not data:
            g.error("hours", "must list at least one day, such as mon: \"08:00-16:00\"")
        for day in data:
            if day not in WEEKDAYS:
                g.error("hours", f"unknown day {day!r}; use {', '.join(WEEKDAYS)}", data.line_of(day))
        result = []
        for day in WEEKDAYS:
            if day not in data:
                continue
            line, value = data.line_of(day), data[day]
            ranges = []
            for text in value if isinstance(value, list) else [value]:
                span = _time_range(text)
                if isinstance(span, str):
                    g.error("hours", f"{day}: {span}", line)
                    continue
                start, end = span
                if _minutes(end) - _minutes(start) < slot:
                    g.error("hours", f"{day}: {start}-{end} is shorter than one slot ({slot} minutes)", line)
                elif ranges and _minutes(start) < _minutes(ranges[-1][1]):
                    g.error("hours", f"{day}: {start}-{end} overlaps or comes before {'-'.join(ranges[-1])}; "
                                     "list a day's ranges in order, apart", line)
                else:
                    ranges.append((start, end))
            if ranges:
                result.append((day, tuple(ranges)))
        return tuple(result)

    def cutoff(self, g: Fields) -> str | None:
        value = g.data.get("cutoff")
        if value is None:
            return None
        time = _time(value)
        if time is None:
            g.error("cutoff", _time_problem(value))
        return time

    def closed(self, g: Fields) -> tuple[date, ...]:
        value = g.data.get("closed")
        if value is None:
            return ()
        if not isinstance(value, list):
            g.error("closed", "must be a list of dates such as [2026-12-25, 2026-12-26]")
            return ()
        days = []
        for item in value:
            if isinstance(item, str):
                try:
                    item = date.fromisoformat(item.strip())
                except ValueError:
                    pass
            if type(item) is date:
                days.append(item)
            else:
                g.error("closed", f"{item!r} is not a date (write 2026-12-25)")
        return tuple(sorted(set(days)))


def _unique(g: Fields, key: str, value: str, seen: dict[str, int], what: str, label: str = "name") -> None:
    if not value:
        return
    if value in seen:
        g.error(key, f"another {what} (line {seen[value]}) has the {label} {value!r}; each needs its own")
    else:
        seen[value] = g.line(key)


def _required_int(g: Fields, key: str, what: str) -> int | None:
    if key not in g.data:
        g.errors.append(ContentError(PATH, g.data.line, f"is required: {what}", key))
        return None
    return g.integer(key, minimum=1)


def _bounded(g: Fields, key: str, low: int, high: int, default):
    value = g.data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        g.error(key, f"must be a whole number from {low} to {high}")
        return default
    return value


def _time(value: object) -> str | None:
    """``"8:30"`` → ``"08:30"``; None when not a time of day."""
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _time_problem(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 14:00 as the number 840 (base 60).
        return 'write the time in quotes, such as "14:00" (without them YAML reads it as a number)'
    return f"{value!r} is not a time of day such as \"14:00\""


def _time_range(value: object) -> tuple[str, str] | str:
    """``"08:00-16:00"`` → ``("08:00", "16:00")``, or why not."""
    match = _RANGE.match(value) if isinstance(value, str) else None
    start, end = (_time(match.group(1)), _time(match.group(2))) if match else (None, None)
    if start is None or end is None:
        return f"{value!r} is not a range of times such as \"08:00-16:00\""
    if _minutes(end) <= _minutes(start):
        return f"{value!r} ends before it starts"
    return start, end


def _minutes(time: str) -> int:
    hours, minutes = time.split(":")
    return int(hours) * 60 + int(minutes)


def snapshot(rules: ShippingRules) -> dict:
    """The normalised config the commerce API reads (``shipping`` in the catalog snapshot)."""
    return {
        "zones": [{"id": z.id, "name": z.name, "countries": list(z.countries), "postcodes": list(z.postcodes),
                   "exclude_postcodes": list(z.exclude_postcodes),
                   "methods": [{"id": f"{z.id}/{m.id}", "name": m.name, "price": _amount(m.price),
                                "free_over": _amount(m.free_over), "min_order": _amount(m.min_order),
                                "estimate": m.estimate,
                                "weight_bands": [{"up_to": b.limit, "price": b.price.amount} for b in m.weight_bands],
                                "subtotal_bands": [{"from": b.limit, "price": b.price.amount}
                                                   for b in m.subtotal_bands],
                                **_excluded(m.excludes)} for m in z.methods]}
                  for z in rules.zones],
        "local_delivery": [{"id": f"local/{d.id}", "name": d.name, "countries": list(d.countries),
                            "postcodes": list(d.postcodes), "exclude_postcodes": list(d.exclude_postcodes),
                            "price": d.price.amount, "min_order": _amount(d.min_order),
                            "free_over": _amount(d.free_over), "estimate": d.estimate, **_excluded(d.excludes)}
                           for d in rules.local_delivery],
        "pickup": [{"id": f"pickup/{p.id}", "name": p.name, "address": p.address, "country": p.country,
                    "price": p.price.amount, "hours": {day: [list(r) for r in ranges] for day, ranges in p.hours},
                    "slot_minutes": p.slot_minutes, "capacity": p.capacity,
                    "preparation_minutes": p.preparation_minutes, "cutoff": p.cutoff,
                    "closed": [d.isoformat() for d in p.closed], "days_ahead": p.days_ahead,
                    **_excluded(p.excludes)} for p in rules.pickup],
    }


def _amount(value: Money | None) -> int | None:
    return value.amount if value is not None else None


def _excluded(excludes: Excludes) -> dict:
    return {"exclude_products": list(excludes.products), "exclude_categories": list(excludes.categories)}


def _raw_list(g: Fields, key: str) -> list:
    value = g.data.get(key)
    return [value] if isinstance(value, str) else (value if isinstance(value, list) else [])


def _unquoted(g: Fields, key: str) -> None:
    """YAML reads NO (Norway) as false and 02134 as the number 1116: name the entry and say to quote it."""
    for raw in _raw_list(g, key):
        if isinstance(raw, bool):
            g.error(key, f"{'NO' if raw is False else 'YES/ON'} was read as a yes/no value: write the code in "
                         'quotes, such as "NO"')
        elif isinstance(raw, (int, float)) or type(raw).__name__ == "Decimal":
            g.error(key, f"{raw} was read as a number (leading zeros are lost): write it in quotes, such as "
                         '"02134"')
