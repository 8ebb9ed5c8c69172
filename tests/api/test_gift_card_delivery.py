"""Gift cards are delivered by email: a basket of gift cards only asks for no postal address and
charges no shipping, while a basket that also holds something to post still needs both."""

from __future__ import annotations

import pytest

from commerce_api.shop.orders import Orders
from publish.catalog import import_snapshot
from tests.api.shopping import ADDRESS, CATALOG, cart

CARDS_CATALOG = {**CATALOG, "version": "cards-by-email", "products": [*CATALOG["products"], {
    "slug": "card", "name": "Bakery gift card", "url": "/products/card/", "description": "For a friend",
    "gift_card": {"valid_months": None},
    "variants": [{"sku": "CARD-10", "title": "£10", "price": 1000, "currency": "GBP", "track_stock": False},
                 {"sku": "CARD-25", "title": "£25", "price": 2500, "currency": "GBP", "track_stock": False}]}]}


@pytest.fixture(name="shop", scope="module")
def fx_cards_shop(world):
    conn = world.tenants.open_db("alpha")
    import_snapshot(conn, CARDS_CATALOG)
    Orders(conn).set_stock("RYE", 500)
    yield world, conn


def _order(client, token, **body):
    return client.post("/api/checkout", json={"cart_token": token, "email": "ada@example.test", **body})


def test_a_basket_of_gift_cards_only_checks_out_without_an_address_or_shipping(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("CARD-10", 1), ("CARD-25", 1))  # £35: under the £40 free-shipping threshold
        view = client.get(f"/api/carts/{token}").json()
        assert view["needs_shipping"] is False and view["shipping"] == 0
        # No tax on a gift card when it is sold (it is taxed when spent, on what it buys).
        assert (view["total"], view["tax"], view["tax_lines"]) == (3500, 0, [])
        assert view["amount_due"] == view["total"]
        placed = _order(client, token)
        assert placed.status_code == 201, placed.text
        order = placed.json()["order"]
    assert (order["shipping"], order["total"]) == (0, view["total"])
    assert order["shipping_address"] is None and order["billing_address"] is None


def test_a_basket_with_something_to_post_still_needs_an_address_and_pays_shipping(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("CARD-10", 1), ("RYE", 1))
        view = client.get(f"/api/carts/{token}").json()
        assert view["needs_shipping"] is True and view["shipping"] == 495
        refused = _order(client, token)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["field"] == "shipping_address"
        placed = _order(client, token, shipping_address=ADDRESS)
        assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    assert order["shipping"] == 495 and order["shipping_address"]["line1"] == ADDRESS["line1"]


def test_an_ordinary_basket_still_needs_an_address(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1))
        assert client.get(f"/api/carts/{token}").json()["needs_shipping"] is True
        refused = _order(client, token)
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "shipping_address"


def test_the_order_page_says_cards_are_to_come_until_the_order_is_paid(shop):
    world, _ = shop
    staff = {"Authorization": f"Bearer {world.token('alpha', 'shop_manager')}"}
    with world.client("alpha") as client:
        placed = _order(client, cart(client, ("CARD-25", 2))).json()["order"]
        page = f"/api/orders/{placed['number']}"
        unpaid = client.get(page, params={"token": placed["token"]}).json()
        assert (unpaid["gift_cards"], unpaid["gift_cards_to_come"]) == ([], 2)
        assert client.post(f"/api/admin/orders/{placed['number']}/paid", headers=staff).status_code == 200
        paid = client.get(page, params={"token": placed["token"]}).json()
    assert paid["gift_cards_to_come"] == 0 and [c["amount"] for c in paid["gift_cards"]] == [2500, 2500]
