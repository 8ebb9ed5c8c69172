"""The refund form on an order's page: choose quantities, restocking and the shipping, see what it
comes to on a confirmation page, refund once however often the confirmation is sent, and see every
refund listed on the order."""

from __future__ import annotations

import re

import httpx

from tests.admin.conftest import alert, status


def _paid_order(admin, site, key: str) -> int:
    api, host = f"http://127.0.0.1:{site['port']}", {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    for sku, quantity in (("AF-6", 2), ("CB-4", 1)):
        added = httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host, json={"sku": sku, "quantity": quantity})
        assert added.status_code == 201, added.text
    number = httpx.post(f"{api}/api/checkout", headers={**host, "Idempotency-Key": key}, json={
        "cart_token": cart["token"], "email": "shopper@example.test",
        "shipping_address": {"name": "Ann Shopper", "line1": "1 Main St", "city": "Leith", "postal_code": "EH6 6AA",
                             "country": "GB"}}).json()["order"]["number"]
    admin.post(f"/orders/{number}/paid")
    return number


def _stock(owner, sku: str) -> int:
    levels = owner.http.get("/api/admin/stock", headers={"Accept": "application/json"}).json()
    return next(level["on_hand"] for level in levels if level["sku"] == sku)


def _order(owner, number: int) -> dict:
    return owner.http.get(f"/api/admin/orders/{number}", headers={"Accept": "application/json"}).json()


def test_a_partial_refund_is_shown_then_confirmed_once_and_listed(admin, site):
    owner = admin()
    number = _paid_order(owner, site, "refund-form-1")
    page = owner.get(f"/orders/{number}").text
    assert 'name="quantity.AF-6"' in page and 'name="restock.AF-6"' in page and 'name="shipping"' in page
    before = _stock(owner, "AF-6")
    total = _order(owner, number)["total"]

    asked = owner.post(f"/orders/{number}/refund", {"partial": "yes", "quantity.AF-6": "1", "restock.AF-6": "yes",
                                                     "quantity.CB-4": "0", "reason": "one was squashed"})
    assert asked.status_code == 200, asked.text
    assert "Refund 8.50 " in asked.text and "1 × Almond Financiers" in asked.text
    assert _order(owner, number)["refunds"] == []  # nothing happens before the confirmation
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', asked.text))
    assert fields["confirm"] == "yes" and fields["quantity.AF-6"] == "1" and fields["key"]
    fields.pop("csrf_token")

    done = owner.post(f"/orders/{number}/refund", fields)
    assert done.status_code == 303 and "Refunded 8.50" in httpx.URL(done.headers["location"]).params["saved"]
    again = owner.post(f"/orders/{number}/refund", fields)  # the confirmation sent twice: still one refund
    assert again.status_code == 303
    order = _order(owner, number)
    assert [r["amount"] for r in order["refunds"]] == [850] and order["payment_status"] == "partially_refunded"
    assert _stock(owner, "AF-6") == before + 1

    shown = owner.get(f"/orders/{number}")
    assert "one was squashed" in shown.text and "1 × AF-6 (restocked)" in shown.text
    assert "of 1</td>" in shown.text  # one financier is left to refund
    assert f"Refund the rest, {(total - 850) // 100}." in shown.text


def test_the_form_says_what_is_wrong(admin, site):
    owner = admin()
    number = _paid_order(owner, site, "refund-form-2")
    empty = owner.post(f"/orders/{number}/refund", {"partial": "yes", "quantity.AF-6": "0"})
    assert "Choose what to refund" in httpx.URL(empty.headers["location"]).params["error"]
    too_many = owner.post(f"/orders/{number}/refund", {"partial": "yes", "quantity.AF-6": "3"})
    assert "only 2 of AF-6" in httpx.URL(too_many.headers["location"]).params["error"]
    bad_amount = owner.post(f"/orders/{number}/refund", {"partial": "yes", "amount": "12,50"})
    assert "Amount" in httpx.URL(bad_amount.headers["location"]).params["error"]
    goodwill = owner.post(f"/orders/{number}/refund", {"partial": "yes", "amount": "2.50", "reason": "late"})
    assert goodwill.status_code == 200 and "Refund 2.50 " in goodwill.text
    assert alert(owner.get(f"/orders/{number}")) == "" and status(owner.get(f"/orders/{number}")) == ""
