"""The published catalog in ``tenant.db``: replaced as a whole, from a deploy's snapshot, when it goes live."""

from __future__ import annotations

import json
import sqlite3

from content.migrations import immediate


def import_snapshot(conn: sqlite3.Connection, catalog: dict) -> int:
    """Replace the catalog with ``catalog`` (from ``_tessera/catalog.json``) in one transaction."""
    with immediate(conn):
        conn.execute("DELETE FROM catalog_variants")
        conn.execute("DELETE FROM catalog_products")
        for position, product in enumerate(catalog.get("products", [])):
            conn.execute("INSERT INTO catalog_products (slug, name, url, image, categories, featured, position) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (product["slug"], product["name"], product["url"], product.get("image"),
                          json.dumps(product.get("categories", [])), int(product.get("featured", False)), position))
            for variant in product["variants"]:
                # Snapshots from before weights and tax categories were published have neither.
                conn.execute("INSERT INTO catalog_variants (sku, product_slug, title, options, price, compare_price, "
                             "currency, track_stock, weight, tax_category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (variant["sku"], product["slug"], variant["title"], json.dumps(variant.get("options", {})),
                              variant["price"], variant.get("compare_price"), variant["currency"],
                              int(variant.get("track_stock", True)), variant.get("weight"),
                              variant.get("tax_category") or "standard"))
        conn.execute("DELETE FROM catalog_search")
        conn.executemany("INSERT INTO catalog_search (slug, name, description, skus) VALUES (?, ?, ?, ?)",
                         [(p["slug"], p["name"], p.get("description", ""), " ".join(v["sku"] for v in p["variants"]))
                          for p in catalog.get("products", [])])
        rules = {"currency": catalog.get("currency", "EUR"), "shipping": catalog.get("shipping") or {},
                 "tax": catalog.get("tax") or {}, "payment_instructions": catalog.get("payment_instructions", ""),
                 "email": catalog.get("email", ""), "low_stock_threshold": catalog.get("low_stock_threshold", 3),
                 "timezone": catalog.get("timezone", "UTC")}
        # Gift-card skus (sku → how long a sold card stays valid): paying for one issues a card.
        gift_cards = json.dumps({v["sku"]: {"valid_months": (p["gift_card"] or {}).get("valid_months")}
                                 for p in catalog.get("products", []) if p.get("gift_card")
                                 for v in p["variants"]}, sort_keys=True)
        # The live site's forms (name → title, page, fields): what /api/forms/<name> accepts.
        forms = json.dumps(catalog.get("forms") or {}, sort_keys=True)
        # Whether the live pages report their views by beacon (what /api/analytics/view accepts).
        analytics = json.dumps({"beacon": bool((catalog.get("analytics") or {}).get("beacon"))})
        for key, value in (("catalog_version", catalog.get("version", "")), ("shop_rules", json.dumps(rules)),
                           ("forms", forms), ("gift_cards", gift_cards), ("analytics", analytics)):
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
    return len(catalog.get("products", []))
