"""site.yaml's ``tax:`` block and products' ``tax_category``, checked with file and line.

Only the settings are read here; which rate applies to which sale is the commerce API's business
(``commerce_api/shop/tax.py``), from the snapshot ``snapshot`` gives.
"""

from __future__ import annotations

import re
from decimal import Decimal

from . import countries, eu_vat
from .errors import ContentError
from .fields import Fields
from .model import TAX_CATEGORIES, Tax

TAX_FIELDS = {"rate", "inclusive", "prices_include_tax", "label", "origin", "oss", "shipping", "rates"}
# "GB", or "US-NY": a country and an ISO 3166-2 subdivision (one to three letters or digits)
_JURISDICTION = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")


def parse_tax(f: Fields) -> Tax | None:
    """``tax:`` from site.yaml's fields, or None when the site sets none."""
    data = f.mapping("tax")
    if data is None:
        return None
    g = Fields(data, f.path, f.errors, TAX_FIELDS)
    rate = _percent(g, "rate", g.number("rate"))
    if "inclusive" in data and "prices_include_tax" in data:
        g.error("inclusive", "is the old name of prices_include_tax; keep only prices_include_tax")
    inclusive = g.flag("prices_include_tax", g.flag("inclusive", True))
    origin = g.text("origin") or None
    if origin and (problem := countries.problem(origin)):
        g.error("origin", problem)
        origin = None
    oss = g.flag("oss")
    if oss and origin not in eu_vat.EU:
        g.error("oss", "the one-stop shop is for shops selling from an EU country; set origin to one "
                       f"(such as DE){'' if origin is None else f', not {origin}'}, or remove oss")
    return Tax(rate or Decimal(0), inclusive, g.text("label", "VAT", max_len=40), origin, oss,
               g.flag("shipping", True), _rates(g))


def _rates(g: Fields) -> dict[str, dict[str, Decimal]]:
    data = g.mapping("rates")
    if data is None:
        return {}
    result = {}
    for key, value in data.items():
        line = data.line_of(key)
        match = _JURISDICTION.match(str(key))
        if not match:
            g.error("rates", f"{key!r} is not a country code (GB) or country and region (US-NY)", line)
            continue
        if problem := countries.problem(match.group(1)):
            g.error("rates", problem, line)
            continue
        if not isinstance(value, dict):
            g.error("rates", f"{key}: must be a mapping such as {{standard: 20, reduced: 5}}", line)
            continue
        h = Fields(value, g.path, g.errors, set(TAX_CATEGORIES))
        own = {c: _percent(h, c, h.number(c)) for c in TAX_CATEGORIES if c in value}
        own = {c: r for c, r in own.items() if r is not None}
        if own.get("zero"):
            h.error("zero", "zero-rated goods carry no tax; set it to 0 or remove it")
        if "standard" not in value and (match.group(2) or eu_vat.rates(str(key)) is None):
            g.errors.append(ContentError(g.path, line, f"{key}: needs a standard rate (the starter table has none "
                                                       "for it)", "rates"))
        result[str(key)] = own
    return result


def _percent(g: Fields, key: str, value: Decimal | None) -> Decimal | None:
    if value is not None and value > 100:
        g.error(key, "must be a percentage between 0 and 100")
        return None
    return value


def tax_category(f: Fields, default: str = "standard") -> str:
    """A product's or variant's ``tax_category`` (standard, reduced or zero)."""
    return f.choice("tax_category", TAX_CATEGORIES, default)


def snapshot(tax: Tax | None) -> dict:
    """``tax`` in the catalog snapshot: the settings the commerce API applies (rates as strings)."""
    if tax is None:
        return {"label": "Tax", "inclusive": True, "origin": None, "oss": False, "shipping": True, "rate": "0",
                "rates": {}}
    return {"label": tax.label, "inclusive": tax.inclusive, "origin": tax.origin, "oss": tax.oss,
            "shipping": tax.shipping, "rate": str(tax.rate),
            "rates": {key: {c: str(r) for c, r in rates.items()} for key, rates in sorted(tax.rates.items())}}
