"""Sales for reports: revenue, orders, refunds, discounts, tax and shipping per day, by product,
category, discount and tax rate, and the funnel from product views to paid orders.

Plain reads of one ``tenant.db`` (no Litestar): the API, the CLI and the admin's pages all call
``sales``, so they show the same numbers. It never writes, and never recomputes a placed order:
every figure is a sum of what checkout and refunds stored.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Counted orders: paid, even if refunded since (refunds are their own column), never cancelled.
PAID = ("paid", "partially_refunded", "refunded")
COUNTED = (f"o.payment_status IN ({', '.join(repr(s) for s in PAID)}) AND o.status != 'cancelled' "
           "AND o.currency = :currency")
PLACED = "o.created_at >= :start AND o.created_at < :end"


def sales(conn: sqlite3.Connection, since: date, until: date, zone: str = "UTC", *,
          views: bool = True) -> dict[str, Any]:
    """The shop's sales from ``since`` to ``until`` inclusive, days being the shop's days in ``zone``.

    Orders count on the day they were placed; refunds on the day they were made (so a range's
    ``net_revenue`` is what came in less what went back out in it). Money is in minor units of the
    shop's currency; orders in another currency (a shop that changed its currency) are left out.
    ``views`` False (the site's analytics feature is off) reports no product views."""
    tz = _zone(zone)
    start, end = _instant(since, tz), _instant(until + timedelta(days=1), tz)
    currency = _currency(conn)
    args = {"currency": currency, "start": start, "end": end}

    days = {(since + timedelta(days=n)).isoformat(): [0, 0, 0] for n in range((until - since).days + 1)}
    for created, total in conn.execute(f"SELECT o.created_at, o.total FROM orders o WHERE {COUNTED} AND {PLACED}",
                                       args):
        day = days[_local_day(created, tz)]
        day[0] += total
        day[1] += 1
    for made, amount in conn.execute(
            "SELECT r.created_at, r.amount FROM refunds r JOIN orders o ON o.id = r.order_id "
            f"WHERE {COUNTED} AND r.created_at >= :start AND r.created_at < :end", args):
        days[_local_day(made, tz)][2] += amount

    revenue, orders, refunded = (sum(d[i] for d in days.values()) for i in range(3))
    discount, tax, shipping = conn.execute(
        "SELECT COALESCE(SUM(o.discount), 0), COALESCE(SUM(o.tax), 0), COALESCE(SUM(o.shipping), 0) "
        f"FROM orders o WHERE {COUNTED} AND {PLACED}", args).fetchone()
    return {
        "currency": currency, "from": since.isoformat(), "to": until.isoformat(),
        "totals": {"revenue": revenue, "orders": orders, "average_order": _average(revenue, orders),
                   "refunded": refunded, "discounts": discount, "tax": tax, "shipping": shipping,
                   "net_revenue": revenue - refunded},
        "days": [{"day": day, "revenue": r, "orders": n, "average_order": _average(r, n), "refunded": back}
                 for day, (r, n, back) in days.items()],
        "products": _rows(conn, PRODUCTS, args),
        "categories": _rows(conn, CATEGORIES, args),
        "discounts": _rows(conn, DISCOUNTS, args),
        "tax": _rows(conn, TAX, args),
        "funnel": _funnel(conn, since, until, args, views=views, paid=orders),
    }


# A product is its slug in the published catalog; a line whose sku has left the catalog keeps its
# sku as the key and the name it was sold under. Revenue is what the lines charged after discounts.
PRODUCTS = f"""
SELECT COALESCE(v.product_slug, l.sku) AS product, COALESCE(MAX(p.name), MAX(l.name)) AS name,
       SUM(l.quantity) AS units, SUM(l.line_total - l.discount) AS revenue
FROM order_lines l JOIN orders o ON o.id = l.order_id
LEFT JOIN catalog_variants v ON v.sku = l.sku LEFT JOIN catalog_products p ON p.slug = v.product_slug
WHERE {COUNTED} AND {PLACED} GROUP BY 1 ORDER BY revenue DESC, product"""

# Categories as the published catalog has them now (orders do not store them): a product in two
# categories counts in both, a product in none or no longer sold in none.
CATEGORIES = f"""
SELECT c.value AS category, SUM(l.quantity) AS units, SUM(l.line_total - l.discount) AS revenue
FROM order_lines l JOIN orders o ON o.id = l.order_id
JOIN catalog_variants v ON v.sku = l.sku JOIN catalog_products p ON p.slug = v.product_slug,
     json_each(p.categories) c
WHERE {COUNTED} AND {PLACED} GROUP BY 1 ORDER BY revenue DESC, category"""

# Each discount as the order applied it (kept when the discount is later changed or deleted);
# automatic discounts have no code.
DISCOUNTS = f"""
SELECT d.code AS code, d.title AS title, COUNT(*) AS uses, SUM(d.amount) AS amount
FROM order_discounts d JOIN orders o ON o.id = d.order_id
WHERE {COUNTED} AND {PLACED} GROUP BY d.code, d.title ORDER BY amount DESC, code, title"""

TAX = f"""
SELECT t.jurisdiction AS jurisdiction, t.rate AS rate, SUM(t.base) AS base, SUM(t.amount) AS amount
FROM order_tax_lines t JOIN orders o ON o.id = t.order_id
WHERE {COUNTED} AND {PLACED} GROUP BY 1, 2 ORDER BY jurisdiction, CAST(rate AS REAL) DESC, rate"""


def _rows(conn: sqlite3.Connection, sql: str, args: dict) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def _funnel(conn: sqlite3.Connection, since: date, until: date, args: dict, *, views: bool,
            paid: int) -> dict[str, int]:
    """Product views (page views of the catalog's product pages; the rollups' days are UTC days),
    carts created, orders placed in any state, and the counted orders."""
    product_views = 0
    if views:
        product_views = conn.execute(
            "SELECT COALESCE(SUM(a.views), 0) FROM analytics_pages a WHERE a.day BETWEEN ? AND ? "
            "AND a.path IN (SELECT url FROM catalog_products)", (since.isoformat(), until.isoformat())).fetchone()[0]
    carts = conn.execute("SELECT COUNT(*) FROM carts WHERE created_at >= :start AND created_at < :end",
                         args).fetchone()[0]
    checkouts = conn.execute(f"SELECT COUNT(*) FROM orders o WHERE {PLACED}", args).fetchone()[0]
    return {"product_views": product_views, "carts": carts, "checkouts": checkouts, "paid": paid}


def _average(amount: int, count: int) -> int:
    """The mean in whole minor units, halves rounded up; 0 for no orders."""
    return (2 * amount + count) // (2 * count) if count else 0


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _instant(day: date, tz: ZoneInfo) -> str:
    """The shop's midnight starting ``day``, as stored timestamps are written (UTC, ISO 8601)."""
    return datetime.combine(day, time(), tz).astimezone(timezone.utc).isoformat(timespec="seconds")


def _local_day(stamp: str, tz: ZoneInfo) -> str:
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(tz).date().isoformat()


def _currency(conn: sqlite3.Connection) -> str:
    """The shop's currency as published (what checkout charges in now)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()
    try:
        return str((json.loads(row[0]) if row else {}).get("currency") or "EUR")
    except (ValueError, AttributeError):
        return "EUR"


def shop_zone(conn: sqlite3.Connection) -> str:
    """The shop's time zone name as published, UTC when none (or none that exists) is set."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()
    try:
        return _zone(str((json.loads(row[0]) if row else {}).get("timezone") or "UTC")).key
    except (ValueError, AttributeError):
        return "UTC"
