"""The starter VAT table: the EU's standard and reduced rates (and a few neighbours'), dated.

Rates change; this table is a starting point, not advice. A shop overrides or adds any country
in ``site.yaml`` (``tax.rates``), and the admin shows the date the table is from (``AS_OF``).

``reduced`` is each country's main reduced rate for goods (food, books); countries with several
reduced rates set the others through ``tax.rates``. A country without one charges the standard rate.

VAT numbers are checked for their shape only (country prefix and the country's pattern), not
against the EU's VIES service: a syntactically valid number from another EU country gets reverse
charge, and the shop remains responsible for checking numbers it relies on.
"""

from __future__ import annotations

import re
from decimal import Decimal

AS_OF = "2026-01-01"

# country: (standard, reduced or None)
_TABLE: dict[str, tuple[str, str | None]] = {
    "AT": ("20", "10"), "BE": ("21", "6"), "BG": ("20", "9"), "CY": ("19", "5"), "CZ": ("21", "12"),
    "DE": ("19", "7"), "DK": ("25", None), "EE": ("24", "9"), "ES": ("21", "10"), "FI": ("25.5", "13.5"),
    "FR": ("20", "5.5"), "GR": ("24", "13"), "HR": ("25", "5"), "HU": ("27", "5"), "IE": ("23", "13.5"),
    "IT": ("22", "10"), "LT": ("21", "9"), "LU": ("17", "8"), "LV": ("21", "12"), "MT": ("18", "7"),
    "NL": ("21", "9"), "PL": ("23", "8"), "PT": ("23", "6"), "RO": ("21", "11"), "SE": ("25", "12"),
    "SI": ("22", "9.5"), "SK": ("23", "19"),
}
EU = frozenset(_TABLE)
# Neighbours that shops here often sell from; not EU members (no OSS, no reverse charge).
_OTHERS: dict[str, tuple[str, str | None]] = {"GB": ("20", "5"), "NO": ("25", "15"), "CH": ("8.1", "2.6")}

CATEGORIES = ("standard", "reduced", "zero")


def rates(country: str) -> dict[str, Decimal] | None:
    """The table's rates for ``country`` by category, or None when the table does not know it."""
    row = _TABLE.get(country) or _OTHERS.get(country)
    if row is None:
        return None
    standard, reduced = row
    return {"standard": Decimal(standard), "reduced": Decimal(reduced or standard), "zero": Decimal(0)}


def table() -> list[dict]:
    """Every row, for the admin: country, standard, reduced, EU member or not."""
    rows = [{"country": c, "standard": s, "reduced": r or s, "eu": c in EU} for c, (s, r) in _TABLE.items()]
    rows += [{"country": c, "standard": s, "reduced": r or s, "eu": False} for c, (s, r) in _OTHERS.items()]
    return sorted(rows, key=lambda row: row["country"])


# The shape of each member's VAT number after its prefix (Greece's prefix is EL).
_SHAPES: dict[str, str] = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}", "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]", "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}",
    "LV": r"\d{11}", "MT": r"\d{8}", "NL": r"\d{9}B\d{2}", "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"[1-9]\d{1,9}",
    "SE": r"\d{10}01", "SI": r"\d{8}", "SK": r"\d{10}",
}
_PATTERNS = {prefix: re.compile(rf"(?:{shape})") for prefix, shape in _SHAPES.items()}


def normalise_vat_number(value: str) -> str:
    """Upper case without spaces, dots or dashes: ``de 123.456.789`` → ``DE123456789``."""
    return re.sub(r"[\s.\-]", "", value or "").upper()


def vat_number_country(value: str) -> str | None:
    """The member state a syntactically valid EU VAT number belongs to (GR for EL), else None."""
    number = normalise_vat_number(value)
    prefix, rest = number[:2], number[2:]
    pattern = _PATTERNS.get(prefix)
    if pattern is None or not pattern.fullmatch(rest):
        return None
    return "GR" if prefix == "EL" else prefix
