"""A shop for API tests: a three-product catalog with stock in tenant ``alpha``, and helpers to fill
a cart and check out over HTTP."""

from __future__ import annotations

import pytest

from commerce_api.shop.orders import Orders
from publish.catalog import import_snapshot

ADDRESS = {"name": "Ada Baker", "line1": "1 Mill Lane", "city": "Leith", "postal_code": "EH6 6AA", "country": "GB"}
CATALOG = {
    "version": "v1", "currency": "GBP",
    "shipping": {"flat_rate": 495, "free_over": 4000, "countries": ["GB"]},
    "tax": {"rate": "20", "inclusive": False, "label": "VAT"},
    "payment_instructions": "Pay by bank transfer, quoting your order number.",
    "products": [
        {"slug": "rye", "name": "Dark Rye", "url": "/products/rye/", "description": "Whole rye loaf with malt",
         "variants": [{"sku": "RYE", "title": "Dark Rye", "price": 720, "currency": "GBP", "track_stock": True}]},
        {"slug": "bun", "name": "Cinnamon Bun", "url": "/products/bun/", "description": "Cardamom knots",
         "variants": [{"sku": "BUN-4", "title": "Box of 4", "price": 1000, "currency": "GBP", "track_stock": True},
                      {"sku": "BUN-8", "title": "Box of 8", "price": 1800, "currency": "GBP", "track_stock": True}]},
        {"slug": "gift", "name": "Gift card", "url": "/products/gift/", "description": "Any amount",
         "variants": [{"sku": "GIFT", "title": "Gift card", "price": 2500, "currency": "GBP", "track_stock": False}]},
    ],
}


@pytest.fixture(name="shop", scope="module")
def fx_shop(world):
    conn = world.tenants.open_db("alpha")
    import_snapshot(conn, CATALOG)
    orders = Orders(conn)
    for sku, level in (("RYE", 50), ("BUN-4", 50), ("BUN-8", 3)):
        orders.set_stock(sku, level)
    yield world, conn


def cart(client, *items):
    token = client.post("/api/carts").json()["token"]
    for sku, quantity in items:
        response = client.post(f"/api/carts/{token}/items", json={"sku": sku, "quantity": quantity})
        assert response.status_code == 201, response.text
    return token


def checkout(client, token, key=None, **extra):
    body = {"cart_token": token, "email": "ada@example.test", "shipping_address": ADDRESS, **extra}
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/checkout", json=body, headers=headers)


def reserved(conn, sku):
    return Orders(conn).stock(sku)["reserved"]
