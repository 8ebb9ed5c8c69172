"""Reports from the command line: ``tessera report TENANT --from --to``, the same numbers as
``GET /api/admin/reports/traffic`` and ``/sales`` (they read ``publish.analytics.traffic`` and
``commerce_api.shop.sales.sales``)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import click
from rich.table import Table
from rich.text import Text

from content.money import Money
from content.spreadsheet import cell

from .base import Context, console, handle_errors, main, pass_ctx

# (key in the report, title, columns): every table ``traffic`` returns.
TABLES = (
    ("days", "Views and visitors per day", ("day", "views", "visitors")),
    ("pages", "Top pages", ("path", "views", "visitors")),
    ("referrers", "Referrers", ("host", "views")),
    ("devices", "Devices", ("device", "views")),
    ("browsers", "Browsers", ("browser", "views")),
    ("countries", "Countries", ("country", "views")),
)
# (key in ``sales``, title, columns, the column that keys a CSV row): the sales tables.
SALES_TABLES = (
    ("days", "Revenue per day", ("day", "orders", "revenue", "average_order", "refunded"), "day"),
    ("products", "Products", ("product", "name", "units", "revenue"), "product"),
    ("categories", "Categories", ("category", "units", "revenue"), "category"),
    ("discounts", "Discounts used", ("code", "title", "uses", "amount"), "code"),
    ("tax", "Tax collected", ("jurisdiction", "rate", "base", "amount"), "jurisdiction"),
)
MONEY = {"revenue", "average_order", "refunded", "discounts", "tax", "shipping", "net_revenue", "amount", "base"}
TOTALS = ("revenue", "orders", "average_order", "refunded", "discounts", "tax", "shipping", "net_revenue")
FUNNEL = ("product_views", "carts", "checkouts", "paid")
# One CSV for every table: the table's name, its key, then the union of the tables' columns
# (money in minor units of ``currency``, as the API gives it); a row leaves the others' empty.
CSV_COLUMNS = ("table", "key", "views", "visitors", "name", "title", "rate", "units", "orders", "uses", "count",
               "revenue", "average_order", "refunded", "discounts", "tax", "shipping", "net_revenue", "base",
               "amount", "currency")


@main.command("report")
@click.argument("tenant_slug", metavar="TENANT")
@click.option("--from", "since", metavar="YYYY-MM-DD",
              help="First day (UTC for traffic, the shop's day for sales); default: 29 days before --to.")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="Last day, included; default: today.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Rows in each top list of the traffic (pages, referrers, ...).")
@click.option("--csv", "as_csv", is_flag=True,
              help="Print CSV instead of tables: one row per line of every table, its name first.")
@pass_ctx
@handle_errors
def report_command(ctx: Context, tenant_slug: str, since: str | None, until: str | None, limit: int,
                   as_csv: bool) -> None:
    """Print a site's traffic (views and visitors per day, top pages, referrers, devices, browsers,
    countries) and, for a shop, its sales (revenue, orders and refunds per day, products, categories,
    discounts, tax collected and the funnel from product views to paid orders).

    Visitors are unique within a day (no cookies: a daily keyed hash); over a range they add up the days.
    Sales count paid orders (not cancelled ones) on the shop's day they were placed; money is in the
    shop's currency.
    """
    from commerce_api.shop.sales import sales, shop_zone
    from publish.analytics import traffic
    from publish.analytics.rollups import report_range

    tenant = ctx.tenants.registry.get(tenant_slug)
    counts, shop = tenant.has("analytics"), tenant.has("ecommerce")
    if not counts and not shop:
        raise click.ClickException(f"{tenant_slug} counts no traffic (the analytics feature is off) and has no shop; "
                                   f"turn analytics on with `tessera tenant update {tenant_slug} --features "
                                   f"{','.join(sorted(tenant.features | {'analytics'}))}`")
    conn = ctx.tenants.open_db(tenant_slug)
    try:
        visits = sold = None
        if counts:
            start, end = report_range(since, until, today=datetime.now(timezone.utc).date())
            visits = traffic(conn, start, end, limit=limit)
        if shop:
            zone = shop_zone(conn)
            start, end = report_range(since, until, today=datetime.now(ZoneInfo(zone)).date())
            sold = sales(conn, start, end, zone, views=counts)
    finally:
        conn.close()
    if as_csv:
        click.echo(_csv(visits, sold), nl=False)
        return
    if visits is not None:
        _print_traffic(tenant.name, visits)
    else:
        console.print(Text(f"{tenant.name} counts no traffic: the analytics feature is off."))
    if sold is not None:
        _print_sales(tenant.name, sold, zone)


class _SafeWriter(csv.DictWriter):
    """Cells that would run as spreadsheet formulas (a referrer like ``=HYPERLINK(...)``) become text."""

    def writerow(self, rowdict):  # type: ignore[override]
        return super().writerow({k: cell(v) for k, v in rowdict.items()})


def _csv(visits: dict | None, sold: dict | None) -> str:
    out = io.StringIO()
    writer = _SafeWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for key, _, columns in TABLES if visits is not None else ():
        for row in visits[key]:  # type: ignore[index]
            writer.writerow({"table": key, "key": row[columns[0]], "views": row["views"],
                             "visitors": row.get("visitors", "")})
    if sold is not None:
        currency = sold["currency"]
        writer.writerow({"table": "sales_totals", "key": f"{sold['from']}..{sold['to']}", **sold["totals"],
                         "currency": currency})
        for key, _, columns, first in SALES_TABLES:
            for row in sold[key]:
                writer.writerow({"table": f"sales_{key}", "key": row[first] if row[first] is not None else "",
                                 **{c: row[c] for c in columns if c != first},
                                 "currency": currency})
        for step in FUNNEL:
            writer.writerow({"table": "sales_funnel", "key": step, "count": sold["funnel"][step]})
    return out.getvalue()


def _print_traffic(name: str, report: dict) -> None:
    totals = report["totals"]
    console.print(Text(f"{name}: {totals['views']} views, {totals['visitors']} visitors "
                       f"from {report['from']} to {report['to']} (UTC)"))
    for key, title, columns in TABLES:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, justify="right" if column in ("views", "visitors") else "left")
        for row in report[key]:
            table.add_row(*(Text(str(row[c])) for c in columns))
        if not report[key]:
            table.add_row(Text("none yet"), *([""] * (len(columns) - 1)))
        console.print(table)


def _print_sales(name: str, report: dict, zone: str) -> None:
    currency, totals = report["currency"], report["totals"]

    def cell(column: str, value) -> Text:
        if value is None:
            return Text("(automatic)" if column == "code" else "")
        return Text(Money(value, currency).decimal() if column in MONEY else str(value))

    console.print(Text(f"{name}: {totals['orders']} paid orders, {Money(totals['revenue'], currency)} revenue, "
                       f"{Money(totals['refunded'], currency)} refunded, {Money(totals['net_revenue'], currency)} net "
                       f"from {report['from']} to {report['to']} ({zone})"))
    summary = Table(title="Sales", title_justify="left")
    summary.add_column("total")
    summary.add_column(currency, justify="right")
    for key in TOTALS:
        summary.add_row(Text(key), cell(key, totals[key]))
    console.print(summary)
    for key, title, columns, _ in SALES_TABLES:
        table = Table(title=f"{title} ({currency})" if MONEY & set(columns) else title, title_justify="left")
        for column in columns:
            table.add_column(column, justify="right" if column in MONEY or column in ("orders", "units", "uses")
                             else "left")
        for row in report[key]:
            table.add_row(*(cell(c, row[c]) for c in columns))
        if not report[key]:
            table.add_row(Text("none yet"), *([""] * (len(columns) - 1)))
        console.print(table)
    funnel = Table(title="Funnel", title_justify="left")
    for column in ("step", "count", "of the step before"):
        funnel.add_column(column, justify="left" if column == "step" else "right")
    before = None
    for step in FUNNEL:
        value = report["funnel"][step]
        rate = f"{100 * value / before:.0f} %" if before else ""
        funnel.add_row(Text(step.replace("_", " ")), Text(str(value)), Text(rate))
        before = value
    console.print(funnel)
