"""Reports → Sales: revenue and orders per day (charts), average order value and refunds, by product,
by category, discounts used, tax collected and the funnel from product views to paid orders, on a
page and as CSV per table (decimal amounts with their currency).

The numbers are ``shop.sales.sales``'s, the same as ``GET /api/admin/reports/sales`` and ``tessera report``'s."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get

from content.money import Money

from ..security import services_of
from ..shop.sales import sales, shop_zone
from .charts import Series, daily, short_day
from .common import page, who
from .report_common import Span, csv_response, money, span_of, table_of, visible
from .reports import place

SALES = {"action": "orders:read", "feature": "ecommerce"}
TABLES = ("totals", "days", "products", "categories", "discounts", "tax", "funnel")
EMPTY = "No paid orders in this range yet — orders count here once they are paid."
STEPS = (("product_views", "Product pages viewed"), ("carts", "Carts started"), ("checkouts", "Orders placed"),
         ("paid", "Orders paid"))


def _load(request: Request) -> tuple[Span, dict[str, Any]]:
    tenant = who(request).tenant
    with services_of(request).databases.connection(tenant.slug) as conn:
        zone = shop_zone(conn)
        span = span_of(request, today=datetime.now(ZoneInfo(zone)).date())  # the shop's today
        report = sales(conn, span.since, span.until, zone, views=tenant.has("analytics"))
    report["zone"] = zone
    return span, report


def funnel(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(step, count, share of the step before it) from product views to paid orders."""
    rows, before = [], None
    for key, label in STEPS:
        count = report["funnel"][key]
        rate = "" if before is None else (f"{100 * count / before:.1f} %" if before else "–")
        rows.append((label, count, rate))
        before = count
    return rows


@get("/admin/reports/sales", opt=SALES, sync_to_thread=True, include_in_schema=False)
def sales_report(request: Request) -> Response:
    span, report = _load(request)
    currency, totals = report["currency"], report["totals"]

    def show(minor: int) -> str:
        return str(Money(minor, currency))

    charts = []
    if totals["orders"] or totals["refunded"]:
        best = max(report["days"], key=lambda d: d["revenue"])
        said = (f"{show(totals['revenue'])} from {totals['orders']} paid orders over {span.words()}; the best day was "
                f"{date.fromisoformat(best['day']):%-d %b} with {show(best['revenue'])}.")
        charts.append((daily("revenue-chart", span.days, Series("Revenue", [d["revenue"] for d in report["days"]]),
                             title=f"Revenue per day, {span.words()}", label=lambda v: Money(v, currency).decimal(),
                             summary=said), said))
        said = f"{totals['orders']} paid orders, {show(totals['average_order'])} on average."
        charts.append((daily("orders-chart", span.days, Series("Orders", [d["orders"] for d in report["days"]]),
                             title=f"Paid orders per day, {span.words()}", summary=said), said))
    return page(request, "sales_report.html", title="Sales", section="reports", sub="sales",
                reports=visible(who(request)), span=span, report=report, charts=charts, empty=EMPTY, show=show,
                short_day=short_day, funnel=funnel(report), tables=_tables(report, show))


def _tables(report: dict[str, Any], show) -> list[tuple[str, str, list[tuple[str, bool]], list[tuple], str]]:
    """(id, heading, columns as (label, numeric), rows, words when empty); each id is also the CSV's ``table``."""
    return [
        ("products", "By product", [("Product", False), ("Units", True), ("Revenue", True)],
         [(r["name"], r["units"], show(r["revenue"])) for r in report["products"]], "No products sold in this range."),
        ("categories", "By category", [("Category", False), ("Units", True), ("Revenue", True)],
         [(r["category"], r["units"], show(r["revenue"])) for r in report["categories"]],
         "None of the products sold is in a category."),
        ("discounts", "Discounts used", [("Discount", False), ("Uses", True), ("Amount", True)],
         [(f"{r['code']} ({r['title']})" if r["code"] else r["title"], r["uses"], show(r["amount"]))
          for r in report["discounts"]], "No discounts were used in this range."),
        ("tax", "Tax collected", [("Place", False), ("Rate", True), ("Base (net)", True), ("Tax", True)],
         [(place(r["jurisdiction"]), f"{r['rate']} %", show(r["base"]), show(r["amount"])) for r in report["tax"]],
         "No tax was charged on these orders."),
    ]


@get("/admin/reports/sales.csv", opt=SALES, sync_to_thread=True, include_in_schema=False)
def sales_csv(request: Request) -> Response:
    table = table_of(request, TABLES)
    span, report = _load(request)
    cur = report["currency"]
    totals = report["totals"]
    header, rows = {
        "totals": (["measure", "value", "currency"],
                   [("orders", totals["orders"], "")] + [(key, money(totals[key], cur), cur) for key in
                    ("revenue", "average_order", "refunded", "net_revenue", "discounts", "tax", "shipping")]),
        "days": (["day", "revenue", "orders", "average_order", "refunded", "currency"],
                 [(d["day"], money(d["revenue"], cur), d["orders"], money(d["average_order"], cur),
                   money(d["refunded"], cur), cur) for d in report["days"]]),
        "products": (["product", "name", "units", "revenue", "currency"],
                     [(r["product"], r["name"], r["units"], money(r["revenue"], cur), cur) for r in report["products"]]),
        "categories": (["category", "units", "revenue", "currency"],
                       [(r["category"], r["units"], money(r["revenue"], cur), cur) for r in report["categories"]]),
        "discounts": (["code", "title", "uses", "amount", "currency"],
                      [(r["code"] or "", r["title"], r["uses"], money(r["amount"], cur), cur)
                       for r in report["discounts"]]),
        "tax": (["jurisdiction", "rate", "base", "tax", "currency"],
                [(r["jurisdiction"], r["rate"], money(r["base"], cur), money(r["amount"], cur), cur)
                 for r in report["tax"]]),
        "funnel": (["step", "count", "rate_from_previous_step"], funnel(report)),
    }[table]
    return csv_response(f"sales-{table}-{span.since}-{span.until}.csv", header, rows)


ROUTES = [sales_report, sales_csv]
