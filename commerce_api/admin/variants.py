"""A product's options and variants as rows of a form (name, sku, price, stock), not as YAML.

A row's name is its option values joined by " / " ("Large / Red" for options "Size / Colour"). Keys a
row does not show (weight, compare_price, title, track_stock, tax_category) are kept from the variant
the row came from, so a save that changes one price rewrites one line. Never saves anything itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from content.fields import SKU

from .common import Rejected, text

SEPARATOR = " / "
BLANK_ROWS = 2  # empty rows offered under the product's variants: adding one or two needs no script
_PRICE = re.compile(r"^\d+(\.\d+)?$")
MAX_STOCK = 1_000_000_000  # units on hand a row may set; far above any shop, far below an overflow


@dataclass
class Row:
    """One variant as the form shows it; ``key`` is its place in the file's variants (-1: a new row)."""

    name: str = ""
    sku: str = ""
    price: str = ""
    stock: str = ""
    key: int = -1
    remove: bool = False

    @property
    def blank(self) -> bool:
        return not (self.name or self.sku or self.price or self.stock)


@dataclass
class Variants:
    option_names: str = ""
    rows: list[Row] = field(default_factory=list)


def from_file(data: dict[str, Any], stock: dict[str, int] | None = None) -> Variants:
    """The rows of a product's front matter, with the stock on hand of each sku where known."""
    stock = stock or {}
    options = [o for o in data.get("options") or [] if isinstance(o, dict)]
    names = [str(o.get("name", "")) for o in options]
    rows = []
    for index, variant in enumerate(data.get("variants") or []):
        if not isinstance(variant, dict):
            continue
        chosen = variant.get("options") if isinstance(variant.get("options"), dict) else {}
        sku = str(variant.get("sku") or "")
        rows.append(Row(name=SEPARATOR.join(str(chosen.get(n, "")) for n in names) if names else str(variant.get("title") or ""),
                        sku=sku, price="" if variant.get("price") is None else str(variant["price"]),
                        stock=str(stock[sku]) if sku in stock else "", key=index))
    return Variants(SEPARATOR.join(names), rows)


def from_form(form: dict[str, Any]) -> Variants:
    """The rows as sent (``variant.<n>.name`` …), in order; rows ticked for removal are dropped."""
    found = sorted({int(m.group(1)) for k in form if (m := re.match(r"^variant\.(\d{1,4})\.", k))})
    rows = []
    for n in found:
        def get(name: str) -> str:
            return text(form, f"variant.{n}.{name}")
        key = get("key")
        rows.append(Row(get("name"), get("sku"), get("price"), get("stock"),
                        int(key) if key.isascii() and key.isdigit() else -1, bool(get("remove"))))
    return Variants(text(form, "option_names"), [r for r in rows if not r.remove])


def shown(variants: Variants) -> list[Row]:
    """The rows the form shows: the variants, then blank rows to add new ones."""
    return [r for r in variants.rows if not r.blank] + [Row() for _ in range(BLANK_ROWS)]


def apply(variants: Variants, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (the file's front matter as it will be written) with ``options`` and ``variants`` from
    the rows. Every mistake is named by row and field; nothing is half-applied."""
    rows = [r for r in variants.rows if not r.blank]
    names = [n.strip() for n in variants.option_names.split("/") if n.strip()]
    old = [v for v in data.get("variants") or []] if isinstance(data.get("variants"), list) else []
    errors: list[str] = []
    # Variants told apart by a title alone (content allows them without options) stay that way.
    titled = not names and not data.get("options") and any(isinstance(v, dict) and v.get("title") for v in old)
    if rows and not names and not titled:
        errors.append('Options: name the choice the variants differ by, e.g. "Size" (or "Size / Colour")')
    values: list[list[str]] = [[] for _ in names]
    built, skus = [], {}
    for number, row in enumerate(rows, start=1):
        label = f"Variant {number}" + (f" ({row.name})" if row.name else "")
        parts = [p.strip() for p in row.name.split("/")] if row.name else []
        if not row.name:
            errors.append(f"{label}: name is required (what shoppers choose, e.g. Large)")
        elif names and len(parts) != len(names):
            errors.append(f"{label}: name needs one value for each option ({SEPARATOR.join(names)}), "
                          f"separated by \"/\"")
        if not row.sku:
            errors.append(f"{label}: sku is required")
        elif not SKU.match(row.sku):
            errors.append(f"{label}: sku {row.sku!r} may only hold letters, digits, '.', '_' and '-'")
        elif row.sku in skus:
            errors.append(f"{label}: sku {row.sku} is also the sku of variant {skus[row.sku]}")
        skus.setdefault(row.sku, number)
        if row.price and not _PRICE.match(row.price):
            errors.append(f'{label}: price "{row.price}" is not a decimal price (digits and a dot, e.g. 12.50); '
                          "leave it empty for the product's price")
        if row.stock and not (row.stock.isascii() and row.stock.isdigit() and int(row.stock) <= MAX_STOCK):
            errors.append(f"{label}: stock must be a whole number from 0 to {MAX_STOCK:,}")
        base = dict(old[row.key]) if 0 <= row.key < len(old) and isinstance(old[row.key], dict) else {}
        variant: dict[str, Any] = {"sku": row.sku, **{k: v for k, v in base.items() if k != "sku"}}
        if titled:
            if str(base.get("title") or "") != row.name:
                variant["title"] = row.name
        elif names and len(parts) == len(names):
            variant["options"] = dict(zip(names, parts))
            if base.get("options") != variant["options"]:
                variant.pop("title", None)  # a label of the values it had
            for i, part in enumerate(parts):
                if part not in values[i]:
                    values[i].append(part)
        if row.price:
            variant["price"] = base["price"] if str(base.get("price")) == row.price else row.price
        else:
            variant.pop("price", None)
        built.append(variant)
    if errors:
        raise Rejected(422, errors)
    out = {k: v for k, v in data.items() if k not in ("options", "variants")}
    if rows:
        if names:
            out["options"] = [{"name": n, "values": v} for n, v in zip(names, values)]
        out["variants"] = built
    return out


def stock_changes(variants: Variants, current: dict[str, int]) -> dict[str, int]:
    """sku → units on hand, for the rows whose stock was changed."""
    return {r.sku: int(r.stock) for r in variants.rows
            if not r.blank and r.sku and r.stock.isascii() and r.stock.isdigit() and current.get(r.sku, 0) != int(r.stock)}
