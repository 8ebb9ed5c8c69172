"""Reports: ``/admin/reports`` opens the first report a person may see; Reports → Tax: base and tax
per month, jurisdiction and rate from the tax lines of paid orders, for a year, on a page and as CSV
with the same numbers (decimal amounts with their currency). Traffic is in ``traffic.py``."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from litestar import Request, Response, get
from litestar.params import FromQuery

from content.money import Money
from content.spreadsheet import cell

from ..errors import BadRequest, Forbidden
from ..security import services_of
from . import tax_queries
from .common import back, page, who
from .report_common import visible
from .tax import NAMES

REPORT = {"action": "orders:read", "feature": "ecommerce"}


def _year(value: str, years: list[int], zone) -> int:
    """The year asked for, else the latest with tax, else this year (the shop's)."""
    if not value:
        return years[0] if years else datetime.now(zone).year
    if not (value.isascii() and value.isdigit() and len(value) == 4 and 1970 <= int(value) <= 9999):
        raise BadRequest("year must be a year such as 2026", field="year")
    return int(value)


def _load(request: Request, year: str) -> tuple[int, list[int], list[tax_queries.Month]]:
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        zone = tax_queries.shop_zone(conn)
        years = tax_queries.years(conn, zone)
        chosen = _year(year, years, zone)
        return chosen, years, tax_queries.report(conn, chosen, zone)


def place(jurisdiction: str) -> str:
    """"Germany (DE)", "US-NY" as stored when the country is not one the table names. A shop on one
    rate records no country for a collection from the shop."""
    if not jurisdiction:
        return "No country recorded"
    country = jurisdiction.split("-", 1)[0]
    return f"{NAMES[country]} ({jurisdiction})" if country in NAMES else jurisdiction


def month_name(month: str) -> str:
    return date.fromisoformat(month + "-01").strftime("%B %Y")


@get("/admin/reports/tax", opt=REPORT, sync_to_thread=True, include_in_schema=False)
def tax_report(request: Request, year: FromQuery[str] = "") -> Response:
    chosen, years, months = _load(request, year)
    totals: dict[str, tuple[int, int]] = {}
    for month in months:
        for currency, (base, amount) in month.totals.items():
            before = totals.get(currency, (0, 0))
            totals[currency] = (before[0] + base, before[1] + amount)
    return page(request, "tax_report.html", title=f"Tax report {chosen}", section="reports", sub="tax",
                reports=visible(who(request)), year=chosen,
                years=sorted({*years, chosen}, reverse=True), months=months, totals=totals, any_tax=bool(years),
                money=lambda minor, currency: str(Money(minor, currency)), place=place, month_name=month_name)


@get("/admin/reports/tax.csv", opt=REPORT, sync_to_thread=True, include_in_schema=False)
def tax_report_csv(request: Request, year: FromQuery[str] = "") -> Response:
    chosen, _, months = _load(request, year)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", "jurisdiction", "rate", "note", "currency", "base", "tax", "orders"])
    for month in months:
        for row in month.rows:
            writer.writerow([row.month, _cell(row.jurisdiction), row.rate, _cell(row.note), row.currency,
                             Money(row.base, row.currency).decimal(), Money(row.amount, row.currency).decimal(),
                             len(row.orders)])
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="tax-{chosen}.csv"',
                             "Cache-Control": "no-store"})


_cell = cell  # a leading =, +, - or @ would be a formula in a spreadsheet: quoted out (as orders.csv does)


@get("/admin/reports", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def reports_home(request: Request) -> Response:
    """The "Reports" menu entry's page: the first report this person may open."""
    reports = visible(who(request))
    if not reports:
        raise Forbidden("no report is open to your role on this site", code="forbidden")
    return back(request, reports[0][2])


ROUTES = [reports_home, tax_report, tax_report_csv]
