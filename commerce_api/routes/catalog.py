"""``/api/products``: the published catalog (shop pages call it for live prices)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery

from ..errors import NotFound
from ..security import require_tenant, services_of
from ..openapi import errors
from .params import INT64_MAX, Int, OptionalInt


def _product(conn, row) -> dict[str, Any]:
    variants = conn.execute("SELECT v.*, s.on_hand, s.reserved FROM catalog_variants v LEFT JOIN stock s "
                            "ON s.sku = v.sku WHERE v.product_slug = ? ORDER BY v.rowid", (row["slug"],))
    return {"slug": row["slug"], "name": row["name"], "url": row["url"], "image": row["image"],
            "categories": json.loads(row["categories"]), "featured": bool(row["featured"]),
            "variants": [{"sku": v["sku"], "title": v["title"], "options": json.loads(v["options"]),
                          "price": v["price"], "compare_price": v["compare_price"], "currency": v["currency"],
                          "available": None if not v["track_stock"] else max((v["on_hand"] or 0) - (v["reserved"] or 0), 0)}
                         for v in variants]}


# Catalog reads are a couple of indexed SQLite lookups (tens of microseconds), cheaper than the hop
# to a worker thread, so they run on the event loop. Writes, which may wait for a lock, use threads.
class CatalogController(Controller):
    path = "/api/products"
    tags = ["catalog"]
    opt = {"feature": "ecommerce"}

    @get("/", responses=errors(), sync_to_thread=False,
         summary="Published products with live stock; filter by category, featured and price (minor units); paged")
    def products(self, request: Request, category: FromQuery[str | None] = None,
                 featured: FromQuery[bool | None] = None, min_price: OptionalInt = None,
                 max_price: OptionalInt = None, page: Int = 1, per_page: Int = 24) -> dict[str, Any]:
        tenant = require_tenant(request)
        page, per_page = max(page, 1), min(max(per_page, 1), 100)
        where, params = [], []
        if featured is not None:
            where.append("featured = ?")
            params.append(int(featured))
        if min_price is not None or max_price is not None:  # any variant in the range qualifies
            where.append("slug IN (SELECT product_slug FROM catalog_variants WHERE price >= ? AND price <= ?)")
            params += [min_price if min_price is not None else 0, max_price if max_price is not None else INT64_MAX]
        sql = "SELECT * FROM catalog_products" + (" WHERE " + " AND ".join(where) if where else "")
        with services_of(request).databases.connection(tenant.slug) as conn:
            rows = conn.execute(sql + " ORDER BY position, slug", params).fetchall()
            if category:
                rows = [r for r in rows if category in json.loads(r["categories"])]
            chosen = rows[(page - 1) * per_page: page * per_page]
            return {"items": [_product(conn, r) for r in chosen], "page": page, "per_page": per_page,
                    "total": len(rows)}

    @get("/{slug:str}", responses=errors(), sync_to_thread=False, summary="One published product with its variants")
    def product(self, request: Request, slug: FromPath[str]) -> dict[str, Any]:
        tenant = require_tenant(request)
        with services_of(request).databases.connection(tenant.slug) as conn:
            row = conn.execute("SELECT * FROM catalog_products WHERE slug = ?", (slug,)).fetchone()
            if row is None:
                raise NotFound(f"no product called {slug!r}", field="slug")
            return _product(conn, row)
