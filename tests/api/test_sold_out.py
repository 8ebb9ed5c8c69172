"""Sold out is said where the shopper is: adding refuses naming the sku, the basket marks the line,
and stock can be set for a product that is saved but not yet published."""

from __future__ import annotations

import textwrap

from commerce_api.shop.orders import Orders
from content.gitrepo import Author
from tests.api.shopping import cart, checkout, fx_shop, reserved  # noqa: F401 (fixture)


def _available(conn, sku, n):
    Orders(conn).set_stock(sku, n + reserved(conn, sku))


def test_adding_a_sold_out_sku_is_refused_naming_it(shop):
    world, conn = shop
    _available(conn, "RYE", 0)
    with world.client("alpha") as client:
        token = client.post("/api/carts").json()["token"]
        refused = client.post(f"/api/carts/{token}/items", json={"sku": "RYE", "quantity": 1})
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "out_of_stock" and error["field"] == "sku"
        assert "Dark Rye (RYE) is sold out" in error["message"]
        assert client.get(f"/api/carts/{token}").json()["lines"] == []
        assert client.post("/api/availability", json={"skus": ["RYE"]}).json()["skus"]["RYE"]["in_stock"] is False


def test_adding_or_raising_past_what_is_left_is_refused(shop):
    world, conn = shop
    _available(conn, "BUN-8", 2)
    with world.client("alpha") as client:
        token = cart(client, ("BUN-8", 2))
        more = client.post(f"/api/carts/{token}/items", json={"sku": "BUN-8", "quantity": 1})
        assert more.status_code == 409 and "only 2 left" in more.json()["error"]["message"]
        assert "BUN-8" in more.json()["error"]["message"]
        raised = client.patch(f"/api/carts/{token}/items/BUN-8", json={"quantity": 3})
        assert raised.status_code == 409 and raised.json()["error"]["code"] == "out_of_stock"
        assert client.patch(f"/api/carts/{token}/items/BUN-8", json={"quantity": 1}).status_code == 200
        assert client.post(f"/api/carts/{token}/items", json={"sku": "GIFT", "quantity": 99}).status_code == 201


def test_the_basket_marks_a_line_that_sold_out_since_it_was_added(shop):
    world, conn = shop
    _available(conn, "BUN-4", 5)
    with world.client("alpha") as client:
        token = cart(client, ("BUN-4", 2), ("GIFT", 1))
        _available(conn, "BUN-4", 0)
        view = client.get(f"/api/carts/{token}").json()
        lines = {line["sku"]: line for line in view["lines"]}
        assert lines["BUN-4"]["in_stock"] is False and lines["BUN-4"]["available"] == 0
        assert lines["GIFT"]["in_stock"] is True and lines["GIFT"]["available"] is None
        assert any("Cinnamon Bun (BUN-4) is sold out" in n for n in view["notices"])
        refused = checkout(client, token)
        assert refused.status_code == 409 and "BUN-4" in refused.json()["error"]["message"]


def test_stock_can_be_set_for_a_saved_product_before_its_first_publish(shop):
    world, conn = shop
    repo = world.tenants.repository("alpha")
    product = textwrap.dedent("""\
        ---
        name: Spelt Loaf
        sku: SPELT-1
        price: "5.20"
        ---
        Nutty.
        """).encode()
    repo.write({"products/spelt.md": product}, Author("Owner", "owner@alpha.test"), "Add spelt")
    manager = world.token("alpha", "shop_manager")
    with world.client("alpha", headers={"Authorization": f"Bearer {manager}"}) as staff:
        stocked = staff.put("/api/admin/stock/SPELT-1", json={"on_hand": 12})
        assert stocked.status_code == 200, stocked.text
        assert stocked.json()["on_hand"] == 12 and stocked.json()["published"] is False
        unknown = staff.put("/api/admin/stock/NEVER-SAVED", json={"on_hand": 1})
        assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "sku"
        assert "NEVER-SAVED" in unknown.json()["error"]["message"]
    with world.client("alpha") as client:  # not on sale until it is published
        token = client.post("/api/carts").json()["token"]
        assert client.post(f"/api/carts/{token}/items", json={"sku": "SPELT-1"}).json()["error"]["code"] == "unknown_sku"
