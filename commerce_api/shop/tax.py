"""Tax by where the goods go: which country's rates apply, and the tax lines an order keeps.

    no origin (a shop before regions): its one rate, everywhere
    destination == origin            → origin's rates (a "CC-REGION" entry wins for that region)
    EU → EU, buyer's valid VAT number → reverse charge: 0 %, the buyer accounts for the VAT
    EU → EU                          → the buyer's country's rates with OSS on, else the origin's
    a country the shop has rates for  → those rates (the shop is registered there)
    anywhere else                    → export: 0 %

The destination is the pickup point for collected orders. Rates are the shop's own
(``tax.rates``) over the dated starter table (``content/eu_vat.py``). With prices that include
tax the shopper pays the listed price wherever it goes, the tax inside it at the destination's
rate, except that a zero-rated sale (reverse charge, export) takes the origin's tax out.
Delivery is taxed (when the shop says so) pro rata to the goods' amounts at each rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from content import eu_vat

REVERSE_CHARGE = "reverse charge"
EXPORT = "export"


@dataclass(frozen=True)
class TaxRules:
    label: str = "Tax"
    inclusive: bool = True
    origin: str | None = None
    oss: bool = False
    shipping: bool = True
    rate: Decimal = Decimal(0)  # the one rate of a shop without an origin
    rates: tuple[tuple[str, tuple[tuple[str, Decimal], ...]], ...] = ()  # the shop's own, by "CC" or "CC-REGION"

    @classmethod
    def from_raw(cls, raw: dict | None) -> TaxRules:
        raw = raw or {}
        own = tuple(sorted((str(key).upper(), tuple(sorted((str(c), Decimal(str(v))) for c, v in (value or {}).items())))
                           for key, value in (raw.get("rates") or {}).items()))
        inclusive = raw.get("inclusive", raw.get("prices_include_tax", True))
        return cls(raw.get("label") or "Tax", bool(inclusive), (raw.get("origin") or None), bool(raw.get("oss")),
                   bool(raw.get("shipping", True)), Decimal(str(raw.get("rate", "0") or "0")), own)

    def own(self, key: str) -> dict[str, Decimal] | None:
        return next((dict(values) for k, values in self.rates if k == key), None)


@dataclass(frozen=True)
class Place:
    """Whose tax an order pays: the jurisdiction, its rates by category (None: zero-rated) and why."""
    jurisdiction: str
    rates: dict[str, Decimal] | None
    note: str = ""


@dataclass(frozen=True)
class TaxLine:
    jurisdiction: str
    category: str
    rate: Decimal
    base: int
    amount: int
    note: str = ""

    def public(self) -> dict:
        return {"jurisdiction": self.jurisdiction, "category": self.category, "rate": _percent(self.rate),
                "base": self.base, "amount": self.amount, "note": self.note}


@dataclass(frozen=True)
class Taxed:
    tax: int
    total: int
    lines: tuple[TaxLine, ...]
    removed: int = 0  # origin tax taken out of inclusive prices for a zero-rated sale
    note: str = ""


def _percent(rate: Decimal) -> str:
    text = format(rate.normalize(), "f")
    return text


def rates_for(rules: TaxRules, country: str, region: str = "") -> dict[str, Decimal] | None:
    """A place's rates by category: the shop's own entry over the starter table; None: unknown."""
    table = eu_vat.rates(country) or {}
    own = (rules.own(f"{country}-{region.upper()}") if region else None) or rules.own(country)
    if not table and own is None:
        return None
    merged = {**table, **(own or {})}
    merged.setdefault("standard", Decimal(0))
    merged.setdefault("reduced", merged["standard"])
    merged["zero"] = merged.get("zero", Decimal(0))
    return merged


def place(rules: TaxRules, country: str | None, region: str = "", vat_country: str | None = None) -> Place:
    """Whose rates apply to goods going to ``country`` (``vat_country``: the member state of the
    buyer's syntactically valid VAT number, if they gave one)."""
    if rules.origin is None:
        one = rules.rate
        return Place(country or "", {"standard": one, "reduced": one, "zero": Decimal(0)})
    origin = rules.origin
    dest = country or origin
    if dest == origin:
        return Place(dest + (f"-{region.upper()}" if region and rules.own(f"{dest}-{region.upper()}") else ""),
                     rates_for(rules, dest, region) or {})
    if origin in eu_vat.EU and dest in eu_vat.EU:
        if vat_country == dest:
            return Place(dest, None, REVERSE_CHARGE)
        return Place(dest, rates_for(rules, dest, region)) if rules.oss else Place(origin, rates_for(rules, origin) or {})
    if rules.own(dest) is not None or (region and rules.own(f"{dest}-{region.upper()}") is not None):
        key = f"{dest}-{region.upper()}" if region and rules.own(f"{dest}-{region.upper()}") else dest
        return Place(key, rates_for(rules, dest, region))
    return Place(dest, None, EXPORT)


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def charge(rules: TaxRules, where: Place, goods: list[tuple[str, int]], shipping: int) -> Taxed:
    """Tax on ``goods`` ((category, amount after discounts) pairs) and ``shipping``, as tax lines."""
    amounts: dict[str, int] = {}
    for category, amount in goods:
        amounts[category] = amounts.get(category, 0) + amount
    if shipping:
        if not rules.shipping:
            amounts["zero"] = amounts.get("zero", 0) + shipping
        else:
            _spread(amounts, shipping, where, rules)
    origin = rates_for(rules, rules.origin) if rules.origin else None
    lines, removed = [], 0
    for category in sorted(amounts):
        amount = amounts[category]
        if where.rates is None:  # zero-rated: reverse charge or export
            base = amount
            if rules.inclusive and origin:
                base = _round(Decimal(amount) * 100 / (100 + origin.get(category, Decimal(0))))
                removed += amount - base
            lines.append(TaxLine(where.jurisdiction, category, Decimal(0), base, 0, where.note))
            continue
        rate = where.rates.get(category, where.rates.get("standard", Decimal(0)))
        if rules.inclusive:
            tax = _round(Decimal(amount) * rate / (100 + rate))
            lines.append(TaxLine(where.jurisdiction, category, rate, amount - tax, tax))
        else:
            lines.append(TaxLine(where.jurisdiction, category, rate, amount, _round(Decimal(amount) * rate / 100)))
    tax = sum(line.amount for line in lines)
    gross = sum(amounts.values())
    total = gross - removed if rules.inclusive else gross + tax
    return Taxed(tax, total, tuple(lines), removed, where.note)


def _spread(amounts: dict[str, int], shipping: int, where: Place, rules: TaxRules) -> None:
    """Delivery follows the goods: split it over their categories by amount (all of it to the
    standard rate when the goods come to nothing)."""
    goods = {c: a for c, a in amounts.items() if a > 0}
    total = sum(goods.values())
    if not total:
        amounts["standard"] = amounts.get("standard", 0) + shipping
        return
    left = shipping
    ordered = sorted(goods)
    for i, category in enumerate(ordered):
        share = left if i == len(ordered) - 1 else _round(Decimal(shipping) * goods[category] / total)
        amounts[category] += share
        left -= share
