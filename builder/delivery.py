"""Delivery and pickup in words for a product page, from the shipping snapshot the plan makes.

Only what the page can know without a basket: which ways a product can reach people, their
starting price, the free-over threshold and the estimate. The basket prices the real thing.
"""

from __future__ import annotations

from content.model import Product
from content.money import Money, display

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _applies(rule: dict, product: Product) -> bool:
    return not (set(rule.get("exclude_categories") or ()) & set(product.categories)
                or product.slug in (rule.get("exclude_products") or ()))


def _money(amount: int | None, currency: str) -> str:
    return display(Money(amount, currency)) if amount is not None else ""


def _from_price(method: dict) -> int | None:
    prices = [b["price"] for b in (*(method.get("weight_bands") or ()), *(method.get("subtotal_bands") or ()))]
    if method.get("price") is not None:
        prices.append(method["price"])
    return min(prices, default=None)


def options(shipping: dict, product: Product, currency: str) -> tuple[tuple[str, str, str], ...]:
    """``(kind, name, details)`` for each way the product can go: ``post``, ``local`` or ``pickup``."""
    if product.gift_card:
        return (("email", "By email", "Sent with its code as soon as it is paid"),)
    found: list[tuple[str, str, str]] = []
    for zone in shipping.get("zones") or ():
        for method in zone.get("methods") or ():
            if not _applies(method, product):
                continue
            low = _from_price(method)
            parts = ["free" if low == 0 else f"from {_money(low, currency)}" if low is not None else ""]
            if method.get("free_over"):
                parts.append(f"free over {_money(method['free_over'], currency)}")
            parts.append(method.get("estimate") or "")
            found.append(("post", method["name"], " · ".join(p for p in parts if p)))
    if "flat_rate" in shipping and shipping.get("countries"):  # the legacy flat rate
        parts = [_money(shipping["flat_rate"], currency)]
        if shipping.get("free_over"):
            parts.append(f"free over {_money(shipping['free_over'], currency)}")
        found.append(("post", "Delivery", " · ".join(parts)))
    for local in shipping.get("local_delivery") or ():
        if _applies(local, product):
            parts = [_money(local.get("price"), currency)]
            if local.get("min_order"):
                parts.append(f"orders of {_money(local['min_order'], currency)} or more")
            if local.get("free_over"):
                parts.append(f"free over {_money(local['free_over'], currency)}")
            parts.append(local.get("estimate") or "")
            found.append(("local", local["name"], " · ".join(p for p in parts if p)))
    for point in shipping.get("pickup") or ():
        if _applies(point, product):
            days = [d for d in DAYS if (point.get("hours") or {}).get(d)]
            when = f"{days[0].title()}–{days[-1].title()}" if len(days) > 1 else (days[0].title() if days else "")
            price = "free" if not point.get("price") else _money(point["price"], currency)
            details = " · ".join(p for p in (point.get("address") or "", when, price) if p)
            found.append(("pickup", f"Collect from {point['name']}", details))
    return tuple(found)
