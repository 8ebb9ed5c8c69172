"""Collect from the shop: no shipping charged, no postal address asked, and the basket priced for
the chosen method is exactly what the order charges."""

from __future__ import annotations

import pytest

from tests.api.shopping import ADDRESS, cart, fx_shop  # noqa: F401 (fixture)


def _order(client, token, **body):
    return client.post("/api/checkout", json={"cart_token": token, "email": "ada@example.test", **body})


def test_pickup_needs_only_a_name_and_charges_what_the_basket_showed(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("GIFT", 1))  # £25: under the free-shipping threshold
        delivery = client.get(f"/api/carts/{token}").json()
        pickup = client.get(f"/api/carts/{token}", params={"shipping_method": "pickup"}).json()
        assert delivery["shipping"] == 495 and delivery["shipping_method"] == "delivery"
        assert pickup["shipping"] == 0 and pickup["shipping_method"] == "pickup"
        assert pickup["total"] == 2500 + round(2500 * 0.2)  # VAT on the goods only
        placed = _order(client, token, shipping_method="pickup", shipping_address={"name": "Ada Baker"})
        assert placed.status_code == 201, placed.text
        order = placed.json()["order"]
    assert (order["shipping"], order["total"]) == (0, pickup["total"])
    assert order["shipping_method"] == "pickup" and order["shipping_address"]["name"] == "Ada Baker"
    assert order["shipping_address"]["line1"] == "" and order["billing_address"]["name"] == "Ada Baker"


def test_pickup_ignores_a_country_the_shop_does_not_deliver_to(shop):
    world, _ = shop
    with world.client("alpha") as client:
        placed = _order(client, cart(client, ("GIFT", 1)), shipping_method="pickup",
                        shipping_address={**ADDRESS, "country": "FR"})
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["shipping"] == 0


@pytest.mark.parametrize("body,field", [
    ({"shipping_method": "pickup"}, "shipping_address.name"),
    ({"shipping_method": "pickup", "shipping_address": {"name": " "}}, "shipping_address.name"),
    ({"shipping_method": "delivery", "shipping_address": {"name": "Ada"}}, "shipping_address.line1"),
    ({"shipping_method": "delivery"}, "shipping_address"),
])
def test_what_each_method_requires_is_named(shop, body, field):
    world, _ = shop
    with world.client("alpha") as client:
        refused = _order(client, cart(client, ("GIFT", 1)), **body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["field"] == field


def test_a_basket_priced_for_an_unknown_method_is_refused(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("GIFT", 1))
        refused = client.get(f"/api/carts/{token}", params={"shipping_method": "drone"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "shipping_method"
