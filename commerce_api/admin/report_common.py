"""What the admin's report pages share: which reports a person may open (the menu and the sub-menu),
the range of days a page covers (7, 30 or 90 days, or from–to) and CSV downloads whose text cells
cannot run as spreadsheet formulas."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

from litestar import Request, Response

from content.money import Money
from content.spreadsheet import cell
from publish.analytics.rollups import report_range

from ..errors import BadRequest
from ..security import Principal

# (key, label, path under the site's admin, action): in the order the sub-menu shows them; the
# "Reports" menu entry opens the first one a person may see. Each action carries its feature
# (analytics:read needs analytics, orders:read needs the shop), so ``Principal.can`` says it all.
REPORTS = (("traffic", "Traffic", "/reports/traffic", "analytics:read"),
           ("sales", "Sales", "/reports/sales", "orders:read"),
           ("tax", "Tax", "/reports/tax", "orders:read"))
PRESETS = (7, 30, 90)


def visible(principal: Principal | None) -> list[tuple[str, str, str]]:
    """(key, label, path) of the reports ``principal`` may open, in the sub-menu's order."""
    if principal is None:
        return []
    return [(key, label, path) for key, label, path, action in REPORTS if principal.can(action)]


@dataclass(frozen=True)
class Span:
    """The days a report covers, both included; ``preset`` is 7, 30 or 90, or None for a custom range."""

    since: date
    until: date
    preset: int | None

    @property
    def days(self) -> list[str]:
        return [(self.since + timedelta(days=n)).isoformat() for n in range((self.until - self.since).days + 1)]

    def query(self) -> str:
        """The query string that shows this range again (links, CSV downloads)."""
        return f"from={self.since.isoformat()}&to={self.until.isoformat()}"

    def words(self) -> str:
        if self.preset:
            return f"the last {self.preset} days ({self.since:%-d %b} – {self.until:%-d %b %Y})"
        return f"{self.since:%-d %b %Y} – {self.until:%-d %b %Y}"


def span_of(request: Request, today: date | None = None) -> Span:
    """``?days=7|30|90`` (default 30, up to today) or ``?from=&to=`` (either may be left out). A
    bad value is a 400 naming the field (``days``, ``from`` or ``to``)."""
    today = today or datetime.now(timezone.utc).date()
    params = request.query_params
    since, until = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    if since or until:
        start, end = report_range(since or None, until or None, today=today)
        return Span(start, end, None)
    days = (params.get("days") or "30").strip()
    if not (days.isascii() and days.isdigit() and int(days) in PRESETS):
        raise BadRequest("days must be 7, 30 or 90; for another range give from and to (YYYY-MM-DD)", field="days")
    start, end = report_range(None, None, today=today, days=int(days))
    return Span(start, end, int(days))


def money(minor: int, currency: str) -> Decimal:
    """An amount for a CSV cell: a decimal number (its currency in a column of its own)."""
    return Decimal(Money(minor, currency).decimal())


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([cell(value) for value in row] for row in rows)
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def table_of(request: Request, tables: Iterable[str]) -> str:
    """``?table=`` of a CSV download, one of ``tables``; anything else is a 400 naming ``table``."""
    name = (request.query_params.get("table") or "").strip()
    if name not in tables:
        raise BadRequest(f"table must be one of {', '.join(tables)}", field="table")
    return name
