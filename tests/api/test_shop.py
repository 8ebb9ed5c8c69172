"""Carts, checkout, stock and orders through real HTTP, including parallel shoppers on the last units."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from commerce_api.shop.orders import Orders
from publish.catalog import import_snapshot
from tests.api.shopping import ADDRESS, CATALOG, cart, checkout, fx_shop  # noqa: F401 (fixture)

def test_cart_prices_come_from_the_catalog_only(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = client.post("/api/carts").json()["token"]
        tampered = client.post(f"/api/carts/{token}/items", json={"sku": "RYE", "quantity": 2, "price": 1,
                                                                   "unit_price": 1, "total": 0})
        body = tampered.json()
        assert body["lines"][0]["unit_price"] == 720 and body["subtotal"] == 1440
        assert body["shipping"] == 495 and body["tax"] == round((1440 + 495) * 0.2) and body["tax_inclusive"] is False
        assert body["total"] == 1440 + 495 + body["tax"]
        assert client.patch(f"/api/carts/{token}/items/BUN-8", json={"quantity": 1}).status_code == 404
        free = client.post(f"/api/carts/{token}/items", json={"sku": "BUN-8", "quantity": 2}).json()
        assert free["subtotal"] == 1440 + 3600 and free["shipping"] == 0  # free over £40


@pytest.mark.parametrize("quantity", [0, -1, 100, 1.5, "2", True, None, 10**12])
def test_bad_quantities_are_refused(shop, quantity):
    world, _ = shop
    with world.client("alpha") as client:
        token = client.post("/api/carts").json()["token"]
        response = client.post(f"/api/carts/{token}/items", json={"sku": "RYE", "quantity": quantity})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "quantity"


def test_unknown_sku_and_cart(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = client.post("/api/carts").json()["token"]
        assert client.post(f"/api/carts/{token}/items", json={"sku": "NOPE"}).json()["error"]["field"] == "sku"
        assert client.get("/api/carts/crt_not-a-real-cart").status_code == 404


def test_cart_reprices_when_the_catalog_changes(shop):
    world, conn = shop
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1))
        changed = {**CATALOG, "version": "v2", "products": [dict(CATALOG["products"][0], variants=[
            dict(CATALOG["products"][0]["variants"][0], price=790)])] + CATALOG["products"][1:]}
        import_snapshot(conn, changed)
        try:
            view = client.get(f"/api/carts/{token}").json()
            assert view["lines"][0]["unit_price"] == 790 and view["lines"][0]["previous_unit_price"] == 720
            assert "price of Dark Rye (RYE) changed" in view["notices"][0]
            assert client.get(f"/api/carts/{token}").json()["notices"] == []  # said once
        finally:
            import_snapshot(conn, CATALOG)


def test_manual_checkout_idempotency_and_the_shoppers_link(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("BUN-4", 1))
        first = checkout(client, token, key="order-key-0001")
        assert first.status_code == 201, first.text
        order = first.json()["order"]
        assert order["status"] == order["payment_status"] == "pending" and order["total"] > 0
        assert first.json()["payment"] == {"provider": "manual", "instructions": CATALOG["payment_instructions"]}
        again = checkout(client, token, key="order-key-0001")
        assert again.json()["order"]["number"] == order["number"] and again.json()["replayed"] is True
        other = checkout(client, token, key="order-key-0001", shipping_method="pickup")
        assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_mismatch"
        closed = checkout(client, token, key="order-key-0002")
        assert closed.status_code == 409 and closed.json()["error"]["code"] == "cart_closed"
        mine = client.get(f"/api/orders/{order['number']}", params={"token": order["token"]})
        assert mine.status_code == 200 and mine.json()["lines"][0]["sku"] == "BUN-4"
        assert client.get(f"/api/orders/{order['number']}", params={"token": "ord_guess"}).status_code == 404
    with world.client("beta") as client:  # another tenant never sees it, even with the token
        assert client.get(f"/api/orders/{order['number']}", params={"token": order["token"]}).status_code == 404


@pytest.mark.parametrize("change,field", [
    ({"email": "not-an-email"}, "email"),
    ({"shipping_address": {**ADDRESS, "city": ""}}, "shipping_address.city"),
    ({"shipping_address": {**ADDRESS, "country": "FR"}}, "shipping_address.country"),
    ({"shipping_address": {**ADDRESS, "country": "Scotland"}}, "shipping_address.country"),
    ({"billing_address": {**ADDRESS, "postal_code": " "}}, "billing_address.postal_code"),
    ({"shipping_method": "drone"}, "shipping_method"),
])
def test_checkout_validation_names_the_field(shop, change, field):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1))
        body = {"cart_token": token, "email": "ada@example.test", "shipping_address": ADDRESS, **change}
        response = client.post("/api/checkout", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


def test_parallel_checkouts_never_oversell(shop):
    world, conn = shop
    Orders(conn).set_stock("BUN-8", 3 + _reserved(conn, "BUN-8"))
    shoppers = 16
    with world.client("alpha") as client:
        tokens = [cart(client, ("BUN-8", 1)) for _ in range(shoppers)]
    barrier = threading.Barrier(shoppers)

    def attempt(token):
        with world.client("alpha") as client:
            barrier.wait()
            return checkout(client, token)

    with ThreadPoolExecutor(shoppers) as pool:
        results = list(pool.map(attempt, tokens))
    won = [r for r in results if r.status_code == 201]
    lost = [r for r in results if r.status_code == 409]
    assert len(won) == 3 and len(lost) == shoppers - 3, [r.status_code for r in results]
    assert all(r.json()["error"]["code"] == "out_of_stock" and "BUN-8" in r.json()["error"]["message"] for r in lost)
    level = Orders(conn).stock("BUN-8")
    assert level["available"] == 0 and level["on_hand"] >= level["reserved"] >= 3
    numbers = [r.json()["order"]["number"] for r in won]
    assert len(set(numbers)) == 3


def _reserved(conn, sku):
    return Orders(conn).stock(sku)["reserved"]


def test_payment_converts_and_cancel_releases(shop):
    world, conn = shop
    orders = Orders(conn)
    orders.set_stock("RYE", 10 + _reserved(conn, "RYE"))
    before = orders.stock("RYE")
    with world.client("alpha") as client:
        paid_number = checkout(client, cart(client, ("RYE", 2))).json()["order"]["number"]
        cancelled_number = checkout(client, cart(client, ("RYE", 3))).json()["order"]["number"]
    manager = world.token("alpha", "shop_manager")
    with world.client("alpha", headers={"Authorization": f"Bearer {manager}"}) as staff:
        assert staff.post(f"/api/admin/orders/{paid_number}/paid").json()["payment_status"] == "paid"
        again = staff.post(f"/api/admin/orders/{paid_number}/paid")
        assert again.status_code == 200  # paying twice changes nothing
        bad = staff.post(f"/api/admin/orders/{cancelled_number}/status", json={"status": "shipped"})
        assert bad.status_code == 409 and bad.json()["error"]["code"] == "invalid_transition"
        assert staff.post(f"/api/admin/orders/{cancelled_number}/status", json={"status": "cancelled"}).status_code == 200
        after = orders.stock("RYE")
        assert after["on_hand"] == before["on_hand"] - 2 and after["reserved"] == before["reserved"]
        shipped = staff.post(f"/api/admin/orders/{paid_number}/status",
                             json={"status": "shipped", "tracking_number": "RM123456789GB"}).json()
        assert shipped["status"] == "shipped" and shipped["tracking_number"] == "RM123456789GB"
        assert [h["to_status"] for h in shipped["history"]] == ["pending", "processing", "shipped"]
        listing = staff.get("/api/admin/orders", params={"status": "shipped"}).json()
        assert [o["number"] for o in listing] == [paid_number]
        exported = staff.get("/api/admin/orders.csv")
        assert exported.headers["content-type"].startswith("text/csv") and str(paid_number) in exported.text
    editor = world.token("alpha", "editor")
    with world.client("alpha", headers={"Authorization": f"Bearer {editor}"}) as other:
        assert other.get("/api/admin/orders").status_code == 403


def test_unpaid_orders_expire_and_release_stock(shop):
    world, conn = shop
    orders = Orders(conn)
    orders.set_stock("BUN-4", 5 + _reserved(conn, "BUN-4"))
    with world.client("alpha") as client:
        number = checkout(client, cart(client, ("BUN-4", 5))).json()["order"]["number"]
        assert orders.stock("BUN-4")["available"] == 0
        with conn:
            conn.execute("UPDATE orders SET expires_at = '2000-01-01T00:00:00+00:00' WHERE number = ?", (number,))
        checkout(client, cart(client, ("GIFT", 1)))  # any checkout sweeps expired orders first
    assert orders.get(number)["status"] == "cancelled" and orders.get(number)["payment_status"] == "expired"
    assert orders.stock("BUN-4")["available"] == 5


def test_a_crash_mid_checkout_leaves_no_half_order(shop, monkeypatch):
    world, conn = shop
    orders = Orders(conn)
    orders.set_stock("RYE", 4 + _reserved(conn, "RYE"))
    before = (orders.stock("RYE"), conn.execute("SELECT count(*) FROM orders").fetchone()[0])

    def crash(self, *args, **kwargs):
        raise RuntimeError("power cut")

    with world.client("alpha") as client:
        token = cart(client, ("RYE", 2))
        monkeypatch.setattr(Orders, "_catalog_version", crash)
        response = checkout(client, token)
        monkeypatch.undo()
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error" and "power cut" not in response.text
        assert (orders.stock("RYE"), conn.execute("SELECT count(*) FROM orders").fetchone()[0]) == before
        assert checkout(client, token).status_code == 201  # the cart is still usable


def test_stock_endpoints_and_availability(shop):
    world, conn = shop
    manager = world.token("alpha", "shop_manager")
    with world.client("alpha", headers={"Authorization": f"Bearer {manager}"}) as staff:
        assert staff.put("/api/admin/stock/RYE", json={"on_hand": -1}).status_code == 400
        level = staff.put("/api/admin/stock/RYE", json={"on_hand": 40 + _reserved(conn, "RYE")}).json()
        assert level["available"] == 40
    with world.client("alpha") as client:
        result = client.post("/api/availability", json={"skus": ["RYE", "GIFT", "NOPE"]}).json()
    assert result["skus"]["RYE"] == {"price": 720, "currency": "GBP", "available": 40, "in_stock": True}
    assert result["skus"]["GIFT"]["available"] is None and result["skus"]["NOPE"] is None


def test_search_is_ranked_full_text(shop):
    world, _ = shop
    with world.client("alpha") as client:
        assert [i["slug"] for i in client.get("/api/search", params={"q": "rye"}).json()["items"]] == ["rye"]
        assert [i["slug"] for i in client.get("/api/search", params={"q": "cardam"}).json()["items"]] == ["bun"]
        assert client.get("/api/search", params={"q": "BUN-8"}).json()["items"][0]["slug"] == "bun"
        assert client.get("/api/search", params={"q": '"); DROP TABLE x; --'}).status_code == 200


def test_catalog_filters_and_live_stock(shop):
    world, conn = shop
    with world.client("alpha") as client:
        listing = lambda **q: [p["slug"] for p in client.get("/api/products", params=q).json()["items"]]
        assert listing() == ["rye", "bun", "gift"]
        assert listing(min_price=1500) == ["bun", "gift"]  # BUN-8 costs 1800
        assert listing(min_price=700, max_price=1000) == ["rye", "bun"]
        assert listing(featured="false") == ["rye", "bun", "gift"] and listing(featured="true") == []
        detail = client.get("/api/products/bun").json()
        available = {v["sku"]: v["available"] for v in detail["variants"]}
        assert available["BUN-4"] == Orders(conn).stock("BUN-4")["available"]
        assert client.get("/api/products/gift").json()["variants"][0]["available"] is None
        assert client.get("/api/products", params={"min_price": "cheap"}).status_code == 400
