"""Live stock as shoppers see it: what is left of each sku once unpaid orders' holds are counted.

Product pages are static, so this is how they learn that something sold out. Every read first
releases the holds of unpaid orders whose time ran out, so a reservation never outlives its order.
"""

from __future__ import annotations

import sqlite3

from .orders import Orders


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
        available = left(row)
        result[sku] = {"price": row["price"], "currency": row["currency"], "available": available,
                       "in_stock": available is None or available > 0}
    version = conn.execute("SELECT value FROM meta WHERE key = 'catalog_version'").fetchone()
    return {"catalog_version": version["value"] if version else "", "skus": result}


def left(row: sqlite3.Row) -> int | None:
    """Units left to sell from a row with ``track_stock``, ``on_hand`` and ``reserved`` (None: untracked)."""
    if not row["track_stock"]:
        return None
    return max((row["on_hand"] or 0) - (row["reserved"] or 0), 0)
