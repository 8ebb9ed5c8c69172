"""Reports → Tax and the order page's delivery and tax: orders placed through the real checkout at a
20 % rate (set through Settings → Tax and published), paid, refunded and cancelled through the admin;
only their dates are moved in tenant.db, to fall in the months the report is about. The page, its
year filter and its CSV agree with each other and with the tax lines checkout wrote."""

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
from tests.admin.conftest import Admin, alert
from tests.admin.test_shipping_tax_settings import flat_rate

TENANT_DB = ("tenants", "bakery", "tenant.db")
# One box of almond financiers (8.50) delivered (4.95): 13.45 with 20 % VAT inside, 2.24 of it tax.
# Collected: 8.50, 1.42 of it tax.
DELIVERED = (1121, 224)
COLLECTED = (708, 142)


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


# name: (placed at, UTC; how it is delivered; what happens to it in the admin)
ORDERS = {
    "jan": ("2026-01-15T10:00:00+00:00", "delivery", "paid"),
    "jan-refunded": ("2026-01-20T10:00:00+00:00", "delivery", "refunded"),
    # 23:30 UTC on 30 June is 00:30 on 1 July in Edinburgh: a July sale for the shop.
    "july-night": ("2026-06-30T23:30:00+00:00", "pickup", "paid"),
    "july": ("2026-07-02T09:00:00+00:00", "delivery", "paid"),
    "last-year": ("2025-12-31T12:00:00+00:00", "delivery", "paid"),
    "unpaid": ("2026-01-16T10:00:00+00:00", "delivery", ""),
    "cancelled": ("2026-01-17T10:00:00+00:00", "delivery", "cancelled"),
}
COUNTED = ("jan", "jan-refunded", "july-night", "july")  # 2026, paid at some point, not cancelled
# What an order from an EU business buyer keeps (the demo bakery sells from the UK, so its checkout
# never charges reverse charge or export: these lines are written as the tax rules would).
EXPORT_LINES = [("US", "standard", "0", 800, 0, "export")]


@pytest.fixture(name="orders", scope="module")
def fx_orders(site):
    flat_rate(site)  # the numbers below are the flat rate's, whatever the starter ships with
    owner = Admin(site, "bakery", "owner@bakery.test")
    saved = owner.post("/settings/tax/save", {"rate": "20", "prices_include_tax": "1", "shipping": "1", "label": "VAT"})
    assert saved.status_code == 303, alert(saved) or saved.text
    assert owner.publish()["status"] == "done"
    numbers = {name: _checkout(site, f"tax-report-{name}", method) for name, (_, method, _) in ORDERS.items()}
    for name, (_, _, fate) in ORDERS.items():
        if fate:
            assert owner.post(f"/orders/{numbers[name]}/paid").status_code == 303
        if fate == "refunded":
            assert "Refunded" in owner.post(f"/orders/{numbers[name]}/refund").headers["location"]
        if fate == "cancelled":
            owner.post(f"/orders/{numbers[name]}/status", {"status": "cancelled", "confirm": "yes"})
    conn = connect(site["data"].joinpath(*TENANT_DB))
    try:
        with conn:
            for name, (created, _, _) in ORDERS.items():
                conn.execute("UPDATE orders SET created_at = ? WHERE number = ?", (created, numbers[name]))
            order_id = conn.execute("SELECT id FROM orders WHERE number = ?", (numbers["july"],)).fetchone()[0]
            conn.executemany("INSERT INTO order_tax_lines (order_id, jurisdiction, category, rate, base, amount, "
                             "note) VALUES (?, ?, ?, ?, ?, ?, ?)", [(order_id, *line) for line in EXPORT_LINES])
        states = dict(conn.execute("SELECT number, status || '/' || payment_status FROM orders"))
    finally:
        conn.close()
    assert states[numbers["jan-refunded"]].endswith("/refunded") and states[numbers["cancelled"]].startswith("cancelled/")
    assert states[numbers["unpaid"]] == "pending/pending"
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
    assert cells(january)[1:] == [["United Kingdom (GB)", "20 %", "", "2", "22.42 GBP", "4.48 GBP"],
                                  ["Total January 2026", "22.42 GBP", "4.48 GBP"]]
    july = main[main.index('id="m-2026-07"'):main.index('id="year-h"')]
    # A collection from a shop on one rate has no country of its own.
    assert cells(july)[1:] == [["No country recorded", "20 %", "", "1", "7.08 GBP", "1.42 GBP"],
                               ["United Kingdom (GB)", "20 %", "", "1", "11.21 GBP", "2.24 GBP"],
                               ["US", "0 %", "export", "1", "8.00 GBP", "0.00 GBP"],
                               ["Total July 2026", "26.29 GBP", "3.66 GBP"]]
    year = main[main.index('id="year-h"'):]
    assert cells(year)[1:] == [["GBP", "48.71 GBP", "8.14 GBP"]]
    assert '<th scope="col" class="num">Tax</th>' in main and '<th scope="row">United Kingdom (GB)</th>' in main

    last = owner.get("/reports/tax?year=2025").text.split('id="main"')[1]
    assert "December 2025" in last and "January 2026" not in last and "11.21 GBP" in last
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
                       "base": "22.42", "tax": "4.48", "orders": "2"}
    base, tax = sum(Decimal(r["base"]) for r in rows), sum(Decimal(r["tax"]) for r in rows)
    assert (base, tax) == (Decimal("48.71"), Decimal("8.14"))  # the page's year total
    for month, page_total in (("2026-01", ("22.42", "4.48")), ("2026-07", ("26.29", "3.66"))):
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
    assert editor.get("/reports/tax.csv").status_code == 403  # a site without the shop: test_access.py


def _as_checkout_keeps(site, number: int, **columns) -> None:
    """Give an order the delivery and tax columns checkout keeps for options the demo bakery's flat
    rate does not offer (a pickup slot, an EU business buyer, a zone's method)."""
    lines = columns.pop("lines", None)
    conn = connect(site["data"].joinpath(*TENANT_DB))
    try:
        with conn:
            order_id = conn.execute("SELECT id FROM orders WHERE number = ?", (number,)).fetchone()[0]
            conn.execute(f"UPDATE orders SET {', '.join(f'{k} = ?' for k in columns)} WHERE id = ?",
                         (*columns.values(), order_id))
            if lines is not None:
                conn.execute("DELETE FROM order_tax_lines WHERE order_id = ?", (order_id,))
                conn.executemany("INSERT INTO order_tax_lines (order_id, jurisdiction, category, rate, base, amount, "
                                 "note) VALUES (?, ?, ?, ?, ?, ?, ?)", [(order_id, *line) for line in lines])
    finally:
        conn.close()


def test_the_order_page_shows_delivery_pickup_vat_number_and_tax_lines(admin, site, orders):
    owner = admin()
    collected = _checkout(site, "order-page-pickup", "pickup")
    slot = {"location": "pickup/leith-walk", "name": "Rye & Crumb, Leith Walk", "address": "112 Leith Walk, Edinburgh",
            "start": "2026-07-01T08:00:00+00:00", "end": "2026-07-01T08:30:00+00:00", "label": "Wed 1 Jul, 09:00–09:30"}
    _as_checkout_keeps(site, collected, shipping_option="pickup/leith-walk", shipping_name=slot["name"],
                       pickup=json.dumps(slot), vat_number="DE123456789", tax_note="reverse charge",
                       lines=[("DE", "standard", "0", 708, 0, "reverse charge")])
    page = owner.get(f"/orders/{collected}")
    assert page.status_code == 200
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())
    assert "Collects from the shop (no delivery address) Where: Rye & Crumb, Leith Walk, 112 Leith Walk, Edinburgh" in text
    assert "Slot: Wed 1 Jul, 09:00–09:30" in text and "VAT number: DE123456789" in text
    assert "Reverse charge : no VAT charged; the business buyer (DE123456789)" in text
    tax = page.text[page.text.index('id="tax-h"'):]
    assert cells(tax)[:2] == [["Place", "Category", "Rate", "Base (net)", "Tax", "Note"],
                              ["DE", "standard", "0 %", "7.08 GBP", "0.00 GBP", "reverse charge"]]

    posted = owner.get(f"/orders/{orders['july']}").text  # real tax lines, and an export line
    tax = posted[posted.index('id="tax-h"'):]
    assert cells(tax)[1:3] == [["GB", "standard", "20 %", "11.21 GBP", "2.24 GBP", ""],
                               ["US", "standard", "0 %", "8.00 GBP", "0.00 GBP", "export"]]
    abroad = _checkout(site, "order-page-export")
    _as_checkout_keeps(site, abroad, shipping_option="world/tracked", shipping_name="Royal Mail International",
                       shipping_estimate="5–7 working days", tax_note="export")
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", owner.get(f"/orders/{abroad}").text)).split())
    assert "Royal Mail International (5–7 working days)" in text and "Export : no tax charged" in text
    assert "VAT number" not in text

    listed = owner.get("/orders").text
    assert "Rye &amp; Crumb, Leith Walk, Wed 1 Jul, 09:00–09:30" in listed and "Royal Mail International" in listed


def test_an_order_from_before_zones_and_tax_lines_still_shows(admin, site):
    owner = admin()
    number = _checkout(site, "tax-report-old")
    _as_checkout_keeps(site, number, shipping_option=None, shipping_name="", shipping_estimate="", pickup=None,
                       vat_number=None, tax_note="", lines=[])  # as migration 0010 left older orders
    page = owner.get(f"/orders/{number}")
    assert page.status_code == 200, alert(page)
    assert 'id="tax-h"' not in page.text and "VAT number" not in page.text
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())
    assert "GB Delivery" in text  # the address, then the method as before
    assert f">{number}</a></td>" in owner.get("/orders").text
