"""``/api/admin/reports``: the site's traffic, counted at the edge (see docs/analytics.md).

The numbers come from ``publish.analytics.traffic``, the same function the CLI's ``tessera report``
and the admin's reports read, so every way in shows the same figures.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import msgspec
from litestar import Controller, Request, get
from litestar.params import QueryParameter

from publish.analytics import traffic
from publish.analytics.rollups import report_range

from ..openapi import errors
from ..security import principal_of, services_of
from .params import Int

DateParam = Annotated[str | None, QueryParameter(name="from", description="First day, YYYY-MM-DD (UTC); "
                                                                      "default: 29 days before `to`")]
ToParam = Annotated[str | None, QueryParameter(name="to", description="Last day, YYYY-MM-DD (UTC), included; "
                                                                  "default: today")]


class Totals(msgspec.Struct):
    views: int
    visitors: int  # the sum of each day's unique visitors


class Day(msgspec.Struct):
    day: str
    views: int
    visitors: int


class Page(msgspec.Struct):
    path: str
    views: int
    visitors: int


class Referrer(msgspec.Struct):
    host: str
    views: int


class Device(msgspec.Struct):
    device: str  # desktop, mobile or tablet
    views: int


class Browser(msgspec.Struct):
    browser: str
    views: int


class Country(msgspec.Struct):
    country: str  # ISO 3166-1 alpha-2, from the proxy's header when one is configured
    views: int


class Traffic(msgspec.Struct):
    since: str = msgspec.field(name="from")
    until: str = msgspec.field(name="to")
    totals: Totals
    days: list[Day]  # every day of the range, zeros included
    pages: list[Page]
    referrers: list[Referrer]
    devices: list[Device]
    browsers: list[Browser]
    countries: list[Country]


class ReportsController(Controller):
    path = "/api/admin/reports"
    tags = ["admin: reports"]
    opt = {"feature": "analytics"}

    @get("/traffic", responses=errors(), opt={"action": "analytics:read"}, sync_to_thread=True,
         summary="Page views and visitors per day, top pages, referrers, devices, browsers and countries",
         description="Counted at the edge without cookies or scripts. `visitors` are unique within a day; "
                     "over a range they are the sum of the days. At most 731 days; `limit` (1-100, default 20) "
                     "caps each top list.")
    def traffic(self, request: Request, since: DateParam = None, until: ToParam = None,
                limit: Int = 20) -> Traffic:
        start, end = report_range(since, until, today=datetime.now(timezone.utc).date())
        with services_of(request).databases.connection(principal_of(request).tenant.slug) as conn:  # type: ignore[union-attr]
            report = traffic(conn, start, end, limit=min(max(limit, 1), 100))
        return msgspec.convert(report, Traffic)
