"""``/api/admin/reports``: the site's traffic, counted at the edge, and its sales (see docs/analytics.md).

The numbers come from ``publish.analytics.traffic`` and ``shop.sales.sales``, the same functions the
CLI's ``tessera report`` and the admin's reports read, so every way in shows the same figures.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, get
from litestar.params import QueryParameter

from publish.analytics import traffic
from publish.analytics.rollups import report_range

from ..openapi import errors
from ..security import principal_of, services_of
from ..shop.sales import sales, shop_zone
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


SalesFrom = Annotated[str | None, QueryParameter(name="from", description="First day, YYYY-MM-DD, in the shop's "
                                                                        "time zone; default: 29 days before `to`")]
SalesTo = Annotated[str | None, QueryParameter(name="to", description="Last day, YYYY-MM-DD, included, in the "
                                                                    "shop's time zone; default: today there")]


class SalesTotals(msgspec.Struct):
    revenue: int  # the counted orders' totals, minor units
    orders: int
    average_order: int
    refunded: int  # refunds made in the range, whenever their order was placed
    discounts: int
    tax: int
    shipping: int
    net_revenue: int  # revenue - refunded


class SalesDay(msgspec.Struct):
    day: str
    revenue: int
    orders: int
    average_order: int
    refunded: int


class ProductSales(msgspec.Struct):
    product: str  # the product's slug (the sku, for a sku no longer in the catalog)
    name: str
    units: int
    revenue: int  # what its lines charged, after discounts


class CategorySales(msgspec.Struct):
    category: str
    units: int
    revenue: int


class DiscountUse(msgspec.Struct):
    code: str | None  # None for an automatic discount
    title: str
    uses: int
    amount: int


class TaxCollected(msgspec.Struct):
    jurisdiction: str
    rate: str  # percent, as charged ("20", "5.5")
    base: int
    amount: int


class Funnel(msgspec.Struct):
    product_views: int  # views of product pages (0 when the analytics feature is off)
    carts: int
    checkouts: int  # orders placed, paid or not
    paid: int


class Sales(msgspec.Struct):
    currency: str
    since: str = msgspec.field(name="from")
    until: str = msgspec.field(name="to")
    totals: SalesTotals
    days: list[SalesDay]  # every day of the range, zeros included
    products: list[ProductSales]
    categories: list[CategorySales]
    discounts: list[DiscountUse]
    tax: list[TaxCollected]
    funnel: Funnel


class SalesReportController(Controller):
    path = "/api/admin/reports"
    tags = ["admin: reports"]
    opt = {"feature": "ecommerce"}

    @get("/sales", responses=errors(), opt={"action": "orders:read"}, sync_to_thread=True,
         summary="Revenue, orders and refunds per day, sales by product, category, discount and tax rate, and the funnel",
         description="Days are the shop's days (its time zone). Counted orders are paid ones (also when refunded "
                     "since), never cancelled ones, on the day they were placed; refunds count on the day they were "
                     "made. Money is in minor units of `currency`. At most 731 days.")
    def sales(self, request: Request, since: SalesFrom = None, until: SalesTo = None) -> Sales:
        tenant = principal_of(request).tenant  # type: ignore[union-attr]
        with services_of(request).databases.connection(tenant.slug) as conn:
            zone = shop_zone(conn)
            start, end = report_range(since, until, today=datetime.now(ZoneInfo(zone)).date())
            report = sales(conn, start, end, zone, views=tenant.has("analytics"))
        return msgspec.convert(report, Sales)
