"""Reports → Tax and the order page's delivery and tax: orders placed through the real checkout, their
tax lines, dates and payment states set in tenant.db as checkout and payments would leave them (a
fixture), then the page, its year filter and its CSV, whose sums agree with the page and the lines."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from decimal import Decimal

import httpx
import pytest

from content.migrations import connect
from tests.admin.conftest import alert

TENANT_DB = ("tenants", "bakery", "tenant.db")


def _checkout(site, key: str, method: str = "delivery") -> int:
    api, host = f"http://127.0.0.1:{site['port']}", {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    added = httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host, json={"sku": "AF-6", "quantity": 1})
    assert added.status_code == 201, added.text
    address = {"name": "Ann Shopper", "line1": "1 Main St", "city": "Leith", "postal_code": "EH6 6AA", "country": "GB"}
    body = {"cart_token": cart["token"], "email": "shopper@example.test", "shipping_method": method,
            "shipping_address": address if method == "delivery" else {"name": "Ann Shopper"}}
    placed = httpx.post(f"{api}/api/checkout", headers={**host, "Idempotency-Key": key}, json=body)
    assert placed.status_code == 201, placed.text
    return placed.json()["order"]["number"]


# (created_at UTC, payment_status, status, [(jurisdiction, category, rate, base, amount, note)])
ORDERS = {
    "jan": ("2026-01-15T10:00:00+00:00", "paid", "processing",
            [("GB", "standard", "20", 1000, 200, ""), ("GB", "reduced", "5", 500, 25, "")]),
    "jan-refunded": ("2026-01-20T10:00:00+00:00", "refunded", "refunded", [("GB", "standard", "20", 250, 50, "")]),
    # 23:30 UTC on 30 June is 00:30 on 1 July in Edinburgh: a July sale for the shop.
    "july-night": ("2026-06-30T23:30:00+00:00", "partially_refunded", "delivered",
                   [("DE", "standard", "0", 2000, 0, "reverse charge")]),
    "july": ("2026-07-02T09:00:00+00:00", "paid", "shipped",
             [("GB", "standard", "20", 1500, 300, ""), ("US", "standard", "0", 800, 0, "export")]),
    "last-year": ("2025-12-31T12:00:00+00:00", "paid", "delivered", [("GB", "standard", "20", 4000, 800, "")]),
    "unpaid": ("2026-01-16T10:00:00+00:00", "pending", "pending", [("GB", "standard", "20", 9000, 1800, "")]),
    "cancelled": ("2026-01-17T10:00:00+00:00", "paid", "cancelled", [("GB", "standard", "20", 7000, 1400, "")]),
}
COUNTED = ("jan", "jan-refunded", "july-night", "july")  # 2026, paid at some point, not cancelled


@pytest.fixture(name="orders", scope="module")
def fx_orders(site):
    """The orders above, placed through checkout, then given the tax lines and states of the table."""
    numbers = {name: _checkout(site, f"tax-report-{name}", "pickup" if name == "july-night" else "delivery")
               for name in ORDERS}
    conn = connect(site["data"].joinpath(*TENANT_DB))
    try:
        with conn:
            for name, (created, payment, status, lines) in ORDERS.items():
                order_id = conn.execute("SELECT id FROM orders WHERE number = ?", (numbers[name],)).fetchone()[0]
                conn.execute("UPDATE orders SET created_at = ?, payment_status = ?, status = ? WHERE id = ?",
                             (created, payment, status, order_id))
                conn.executemany("INSERT INTO order_tax_lines (order_id, jurisdiction, category, rate, base, amount, "
                                 "note) VALUES (?, ?, ?, ?, ?, ?, ?)", [(order_id, *line) for line in lines])
            conn.execute("UPDATE orders SET shipping_option = 'uk/tracked-48', shipping_name = 'Royal Mail Tracked 48', "
                         "shipping_estimate = '2–3 working days', tax_note = 'export', vat_number = NULL "
                         "WHERE number = ?", (numbers["july"],))
            pickup = {"location": "pickup/leith-walk", "name": "Rye & Crumb, Leith Walk",
                      "address": "112 Leith Walk, Edinburgh EH6 5DT", "start": "2026-07-01T09:00:00+01:00",
                      "end": "2026-07-01T09:30:00+01:00", "label": "Wed 1 Jul, 09:00–09:30"}
            conn.execute("UPDATE orders SET shipping_option = 'pickup/leith-walk', shipping_name = ?, pickup = ?, "
                         "vat_number = 'DE123456789', tax_note = 'reverse charge' WHERE number = ?",
                         (pickup["name"], json.dumps(pickup), numbers["july-night"]))
    finally:
        conn.close()
    return numbers


def cells(fragment: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", fragment, re.S)
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def test_before_any_paid_order_the_report_says_so(admin):
    owner = admin()
    page = owner.get("/reports/tax")
    assert page.status_code == 200
    assert "No paid orders with tax yet" in page.text and "<table" not in page.text.split('id="main"')[1]
    csv_text = owner.get("/reports/tax.csv").text
    assert csv_text.strip() == "month,jurisdiction,rate,note,currency,base,tax,orders"


def test_the_report_totals_paid_orders_per_month_place_and_rate(admin, orders):
    owner = admin()
    page = owner.get("/reports/tax")  # the latest year with tax
    assert page.status_code == 200
    main = page.text.split('id="main"')[1]
    assert '<option selected>2026</option>' in main and "<option>2025</option>" in main
    assert "<h2 id=\"m-2026-01\">January 2026</h2>" in main and "<h2 id=\"m-2026-07\">July 2026</h2>" in main
    january = main[main.index('id="m-2026-01"'):main.index('id="m-2026-07"')]
    assert cells(january)[1:] == [
        ["United Kingdom (GB)", "20 %", "", "2", "12.50 GBP", "2.50 GBP"],
        ["United Kingdom (GB)", "5 %", "", "1", "5.00 GBP", "0.25 GBP"],
        ["Total January 2026", "17.50 GBP", "2.75 GBP"]]
    july = main[main.index('id="m-2026-07"'):main.index('id="year-h"')]
    assert cells(july)[1:] == [
        ["Germany (DE)", "0 %", "reverse charge", "1", "20.00 GBP", "0.00 GBP"],
        ["United Kingdom (GB)", "20 %", "", "1", "15.00 GBP", "3.00 GBP"],
        ["US", "0 %", "export", "1", "8.00 GBP", "0.00 GBP"],
        ["Total July 2026", "43.00 GBP", "3.00 GBP"]]
    year = main[main.index('id="year-h"'):]
    assert cells(year)[1:] == [["GBP", "60.50 GBP", "5.75 GBP"]]
    assert '<th scope="col" class="num">Tax</th>' in main and '<th scope="row">Germany (DE)</th>' in main

    last = owner.get("/reports/tax?year=2025").text.split('id="main"')[1]
    assert "December 2025" in last and "January 2026" not in last and "40.00 GBP" in last
    assert "No paid orders with tax in 2024" in owner.get("/reports/tax?year=2024").text
    bad = owner.get("/reports/tax?year=twenty")
    assert bad.status_code == 400 and "year" in bad.text


def test_the_csv_has_the_pages_numbers_in_decimals(admin, site, orders):
    owner = admin()
    response = owner.get("/reports/tax.csv?year=2026")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="tax-2026.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["month", "jurisdiction", "rate", "note", "currency", "base", "tax", "orders"]
    assert rows[0] == {"month": "2026-01", "jurisdiction": "GB", "rate": "20", "note": "", "currency": "GBP",
                       "base": "12.50", "tax": "2.50", "orders": "2"}
    base, tax = sum(Decimal(r["base"]) for r in rows), sum(Decimal(r["tax"]) for r in rows)
    assert (base, tax) == (Decimal("60.50"), Decimal("5.75"))  # the page's year total
    for month, page_total in (("2026-01", ("17.50", "2.75")), ("2026-07", ("43.00", "3.00"))):
        mine = [r for r in rows if r["month"] == month]
        assert (str(sum(Decimal(r["base"]) for r in mine)), str(sum(Decimal(r["tax"]) for r in mine))) == page_total
    conn = connect(site["data"].joinpath(*TENANT_DB))
    try:
        numbers = [orders[name] for name in COUNTED]
        minor = conn.execute(f"SELECT sum(t.base), sum(t.amount) FROM order_tax_lines t JOIN orders o ON o.id = "
                             f"t.order_id WHERE o.number IN ({', '.join('?' * len(numbers))})", numbers).fetchone()
    finally:
        conn.close()
    assert (base * 100, tax * 100) == tuple(minor)  # and the tax lines' own sums


def test_only_people_who_read_orders_see_the_report(admin, orders):
    manager = admin("bakery", "shop@bakery.test")
    assert manager.get("/reports/tax").status_code == 200
    assert manager.get("/reports/tax.csv").status_code == 200
    editor = admin("bakery", "editor@agency.test")
    assert editor.get("/reports/tax.csv").status_code == 403
    assert admin("studio", "owner@studio.test").get("/reports/tax").status_code == 403


def test_the_order_page_shows_delivery_pickup_vat_number_and_tax_lines(admin, orders):
    owner = admin()
    pickup = owner.get(f"/orders/{orders['july-night']}")
    assert pickup.status_code == 200
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", pickup.text)).split())
    assert "Collects from Rye & Crumb, Leith Walk , 112 Leith Walk, Edinburgh EH6 5DT" in text
    assert "Slot: Wed 1 Jul, 09:00–09:30" in text and "VAT number: DE123456789" in text
    assert "Reverse charge : no VAT charged; the business buyer (DE123456789)" in text
    tax = pickup.text[pickup.text.index('id="tax-h"'):]
    assert cells(tax)[:2] == [["Place", "Category", "Rate", "Base (net)", "Tax", "Note"],
                              ["DE", "standard", "0 %", "20.00 GBP", "0.00 GBP", "reverse charge"]]

    delivered = owner.get(f"/orders/{orders['july']}").text
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", delivered)).split())
    assert "Royal Mail Tracked 48 (2–3 working days)" in text and "Export : no tax charged" in text
    assert "VAT number" not in text

    listed = owner.get("/orders").text
    assert "Rye &amp; Crumb, Leith Walk, Wed 1 Jul, 09:00–09:30" in listed and "Royal Mail Tracked 48" in listed


def test_an_order_from_before_zones_and_tax_lines_still_shows(admin, site):
    owner = admin()
    number = _checkout(site, "tax-report-old")
    page = owner.get(f"/orders/{number}")
    assert page.status_code == 200, alert(page)
    assert 'id="tax-h"' not in page.text and "VAT number" not in page.text
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())
    assert "GB Delivery" in text  # the address, then the method as before
