"""The demo records its own visits: browsing the demo bakery's product page, adding to a cart and
checking out fill the funnel of its sales report, through the real server (edge, API, counter)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from commerce_api.shop.sales import sales, shop_zone
from content.tenants import Tenants
from tessera.settings import ROOT
from tests.analytics.conftest import BROWSER
from tests.api.shopping import ADDRESS
from tests.conftest import demo_site


def test_browsing_the_demo_shop_fills_its_funnel(tmp_path_factory):
    with demo_site(tmp_path_factory) as site:
        base = f"http://127.0.0.1:{site['port']}"
        host = {"Host": "bakery.localhost"}
        for path in ("/", "/products/dark-rye/", "/products/dark-rye/", "/about/"):
            assert httpx.get(base + path, headers={**BROWSER, **host}, timeout=10).status_code == 200
        with httpx.Client(base_url=base, headers=host, timeout=10) as shop:
            token = shop.post("/api/carts").json()["token"]
            assert shop.post(f"/api/carts/{token}/items", json={"sku": "DR-1000", "quantity": 1}).status_code == 201
            placed = shop.post("/api/checkout", json={"cart_token": token, "email": "ada@example.test",
                                                      "shipping_address": ADDRESS})
            assert placed.status_code == 201, placed.text
            login = shop.post("/api/auth/login", json={"email": "owner@bakery.test",
                                                       "password": site["settings"].demo_password})
            owner = {"Authorization": f"Bearer {login.json()['access_token']}"}
            number = placed.json()["order"]["number"]
            assert shop.post(f"/api/admin/orders/{number}/paid", headers=owner).status_code == 200
    # The server has stopped, writing the views still in memory.
    tenants = Tenants(site["data"], ROOT / "sites")
    conn = tenants.open_db("bakery")
    try:
        zone = shop_zone(conn)
        today = datetime.now(ZoneInfo(zone)).date()
        # A day either side: views are kept by UTC day, the shop's days may be an hour off them.
        funnel = sales(conn, today - timedelta(days=1), today + timedelta(days=1), zone)["funnel"]
    finally:
        conn.close()
        tenants.close()
    assert funnel == {"product_views": 2, "carts": 1, "checkouts": 1, "paid": 1}
