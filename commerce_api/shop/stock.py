"""Live stock as shoppers see it: what is left of each sku once unpaid orders' holds are counted.

Product pages are static, so this is how they learn that something sold out. Every read first
releases the holds of unpaid orders whose time ran out, so a reservation never outlives its order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from content.errors import ContentErrors
from content.gitrepo import Repository
from content.model import Content
from content.parse import parse_site
from content.source import Source

from .orders import Orders
from .pricing import units_left


def availability(conn: sqlite3.Connection, skus: list[str]) -> dict:
    """``{"catalog_version", "skus": {sku: {price, currency, available, in_stock} | None}}``;
    ``available`` is None for a sku whose stock is not tracked (never sells out)."""
    Orders(conn).expire_unpaid()
    result: dict[str, dict | None] = {}
    for sku in dict.fromkeys(skus):
        row = conn.execute("SELECT v.price, v.currency, v.track_stock, s.on_hand, s.reserved "
                           "FROM catalog_variants v LEFT JOIN stock s ON s.sku = v.sku WHERE v.sku = ?",
                           (sku,)).fetchone()
        if row is None:
            result[sku] = None
            continue
        available = units_left(row)
        result[sku] = {"price": row["price"], "currency": row["currency"], "available": available,
                       "in_stock": available is None or available > 0}
    version = conn.execute("SELECT value FROM meta WHERE key = 'catalog_version'").fetchone()
    return {"catalog_version": version["value"] if version else "", "skus": result}


def saved_skus(repository: Repository, parse: Callable[[Source], Content] = parse_site) -> frozenset[str]:
    """Skus of every product in the latest saved content, published or not (draft included)."""
    source = repository.source()
    try:
        products = parse(source).products
    except ContentErrors:  # saves and pushes are checked, so this is a repository broken by hand
        return frozenset()
    finally:
        source.close()
    return frozenset(v.sku for p in products for v in p.variants)
