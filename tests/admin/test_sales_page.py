"""Reports → Sales on the demo bakery: orders placed through the real checkout, paid and refunded in
the admin; the page, its CSVs and ``shop.sales.sales`` agree, money is shown and downloaded as
decimals with the currency, the funnel gives each step's rate, and a range with no sales says so."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commerce_api.shop.sales import sales, shop_zone
from content.migrations import connect
from content.money import Money
from tests.admin.conftest import Admin
from tests.admin.test_shipping_tax_settings import flat_rate
from tests.admin.test_reports_pages import _features
from tests.admin.test_tax_report import _checkout


def _sales(site, days: int = 30) -> dict:
    conn = connect(site["data"] / "tenants" / "bakery" / "tenant.db")
    try:
        zone = shop_zone(conn)
        today = datetime.now(ZoneInfo(zone)).date()
        return sales(conn, today - timedelta(days=days - 1), today, zone, views=False)
    finally:
        conn.close()


@pytest.fixture(name="sold", scope="module")
def fx_sold(site):
    """Three orders today: two paid (one of them refunded in full) and one never paid."""
    flat_rate(site)
    owner = Admin(site, "bakery", "owner@bakery.test")
    assert owner.publish()["status"] == "done"
    paid, refunded, _ = (_checkout(site, f"sales-page-{n}") for n in range(3))
    for number in (paid, refunded):
        assert owner.post(f"/orders/{number}/paid").status_code == 303
    assert "Refunded" in owner.post(f"/orders/{refunded}/refund").headers["location"]
    report = _sales(site)
    assert report["totals"]["orders"] == 2 and report["totals"]["refunded"] > 0
    return report


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def test_without_analytics_the_reports_entry_opens_sales_for_the_shop(admin, site):
    def entry() -> str:
        nav = re.search(r'<nav aria-label="Admin">(.*?)</nav>', admin().get("/").text, re.S).group(1)
        return re.search(r'<a href="/sites/bakery/reports/(\w+)"[^>]*>Reports</a>', nav).group(1)

    assert entry() == "traffic"  # the demo counts its visits
    _features(site, "bakery", ["cms", "ecommerce"])
    try:
        assert entry() == "sales"
    finally:
        _features(site, "bakery", ["cms", "ecommerce", "analytics"])


def test_the_page_shows_the_totals_the_days_and_the_funnel_of_sales(sold, admin):
    body = admin().get("/reports/sales").text
    t, currency = sold["totals"], sold["currency"]
    for label, key in [("Revenue", "revenue"), ("Average order value", "average_order"), ("Refunded", "refunded"),
                       ("Net revenue (revenue less refunds)", "net_revenue"), ("Tax collected", "tax"),
                       ("Shipping charged", "shipping")]:
        assert f'<th scope="row">{label}</th><td class="num">{Money(t[key], currency)}</td>' in body, label
    assert '<th scope="row">Paid orders</th><td class="num">2</td>' in body
    assert body.count('role="img"') == 2  # revenue and orders per day
    days = re.findall(r'<tr><th scope="row">\d+ \w+</th><td class="num">([^<]+)</td>\s*<td class="num">(\d+)</td>', body)
    assert [(m, int(n)) for m, n in days] == [(str(Money(d["revenue"], currency)), d["orders"]) for d in sold["days"]]
    funnel = re.findall(r'<tr><th scope="row">(Product pages viewed|Carts started|Orders placed|Orders paid)</th>'
                        r'<td class="num">(\d+)</td><td class="num">([^<]*)</td>', body)
    f = sold["funnel"]
    assert [(s, int(n)) for s, n, _ in funnel] == [("Product pages viewed", f["product_views"]),
                                                  ("Carts started", f["carts"]), ("Orders placed", f["checkouts"]),
                                                  ("Orders paid", f["paid"])]
    assert funnel[3][2] == f"{100 * f['paid'] / f['checkouts']:.1f} %"
    assert re.search(r'<h2 id="products-h">By product</h2>.*?Almond Financiers', body, re.S)


def test_every_table_downloads_as_csv_with_decimal_amounts_and_the_currency(sold, admin):
    currency = sold["currency"]
    totals = dict((r[0], r[1:]) for r in _csv(admin().get("/reports/sales.csv?table=totals"))[1:])
    assert totals["revenue"] == [Money(sold["totals"]["revenue"], currency).decimal(), currency]
    assert totals["orders"] == ["2", ""]
    days = _csv(admin().get("/reports/sales.csv?table=days"))
    assert days[0] == ["day", "revenue", "orders", "average_order", "refunded", "currency"]
    assert [r[:3] for r in days[1:]] == [[d["day"], Money(d["revenue"], currency).decimal(), str(d["orders"])]
                                         for d in sold["days"]]
    products = _csv(admin().get("/reports/sales.csv?table=products"))
    assert products[1:] == [[p["product"], p["name"], str(p["units"]), Money(p["revenue"], currency).decimal(),
                             currency] for p in sold["products"]]
    funnel = _csv(admin().get("/reports/sales.csv?table=funnel"))
    assert funnel[0] == ["step", "count", "rate_from_previous_step"] and funnel[4][:2] == ["Orders paid", "2"]
    for table in ("categories", "discounts", "tax"):
        assert _csv(admin().get(f"/reports/sales.csv?table={table}"))[0][-1] == "currency"


def test_a_product_name_that_would_be_a_formula_is_text_in_the_csv(sold, admin, site):
    conn = connect(site["data"] / "tenants" / "bakery" / "tenant.db")
    slug = sold["products"][0]["product"]
    name = conn.execute("SELECT name FROM catalog_products WHERE slug = ?", (slug,)).fetchone()[0]
    try:
        with conn:
            conn.execute("UPDATE catalog_products SET name = '+1+cmd' WHERE slug = ?", (slug,))
        rows = _csv(admin().get("/reports/sales.csv?table=products"))
    finally:
        with conn:
            conn.execute("UPDATE catalog_products SET name = ? WHERE slug = ?", (name, slug))
        conn.close()
    assert rows[1][1] == "'+1+cmd"


def test_a_range_without_sales_says_so_and_still_shows_the_funnel(sold, admin):
    body = admin().get("/reports/sales?from=2020-01-01&to=2020-01-31").text
    assert "No paid orders in this range yet — orders count here once they are paid." in body
    assert 'role="img"' not in body
    assert '<th scope="row">Orders paid</th><td class="num">0</td><td class="num">–</td>' in body


def test_sales_are_for_people_who_read_orders(sold, admin):
    editor = admin("bakery", "editor@agency.test")
    assert editor.get("/reports/sales").status_code == 403
    assert editor.get("/reports/sales.csv?table=days").status_code == 403
    assert admin().get("/reports/sales.csv?table=nope").status_code == 400
    assert admin().get("/reports/sales?days=1").status_code == 400
