"""Every bad input is a 4xx in the error envelope that names the field, never a 500.

The cases are what fuzzing every route found: integers past SQLite's 64-bit range in paths, query
strings and bodies, JSON nested a thousand levels deep, bodies that are not UTF-8 or not JSON, and
an empty tenant name.
"""

from __future__ import annotations

import json

import pytest

BIG = "1" + "0" * 20  # 10**20, past SQLite's largest integer (2**63 - 1)
DEEP_ARRAY = "[" * 1200 + "]" * 1200
DEEP_OBJECT = '{"a":' * 1200 + "1" + "}" * 1200

# (method, path, body bytes or None, needs the owner's token, status, field)
CASES = [
    ("GET", f"/api/products?min_price={BIG}", None, False, 400, "min_price"),
    ("GET", f"/api/products?max_price={BIG}", None, False, 400, "max_price"),
    ("GET", "/api/products?min_price=1e20", None, False, 400, "min_price"),
    ("GET", "/api/products?min_price=%C2%B2", None, False, 400, "min_price"),  # "²"
    ("GET", f"/api/products?page={BIG}", None, False, 400, "page"),
    ("GET", f"/api/orders/{BIG}?token=x", None, False, 400, "number"),
    ("GET", f"/api/orders/-{BIG}?token=x", None, False, 400, "number"),
    ("GET", f"/api/search?q=loaf&limit={BIG}", None, False, 400, "limit"),
    ("GET", f"/api/admin/orders/{BIG}", None, True, 400, "number"),
    ("GET", f"/api/admin/orders?offset={BIG}", None, True, 400, "offset"),
    ("GET", f"/api/admin/audit?limit={BIG}", None, True, 400, "limit"),
    ("POST", f"/api/admin/orders/{BIG}/status", b'{"status": "shipped"}', True, 400, "number"),
    ("POST", f"/api/admin/orders/{BIG}/paid", None, True, 400, "number"),
    ("POST", f"/api/admin/orders/{BIG}/refund", None, True, 400, "number"),
    ("PUT", "/api/admin/stock/ALPHA-1", json.dumps({"on_hand": 10**20}).encode(), True, 400, "on_hand"),
    ("PUT", f"/api/admin/members/{BIG}", b'{"role": "editor"}', True, 400, "user_id"),
    ("DELETE", f"/api/admin/members/{BIG}", None, True, 400, "user_id"),
    ("DELETE", f"/api/admin/tokens/{BIG}", None, True, 400, "token_id"),
    ("POST", "/api/availability", DEEP_ARRAY.encode(), False, 400, "body"),
    ("POST", "/api/availability", DEEP_OBJECT.encode(), False, 400, "body"),
    ("POST", "/api/auth/login", f'{{"email": {DEEP_ARRAY}, "password": "x"}}'.encode(), False, 400, "body"),
    ("POST", "/api/checkout", ('{"cart_token": "x", "email": "a@b.test", "shipping_address": ' + DEEP_OBJECT + "}").encode(),
     False, 400, "body"),
    ("POST", "/api/auth/login", b'{"email": "\xff", "password": "x"}', False, 400, "body"),
    ("POST", "/api/auth/refresh", b'{"refresh_token": "\xff"}', False, 400, "body"),
    ("POST", "/api/checkout", b'{"cart_token": "\xff", "email": "a@b.test", "shipping_address": {}}', False, 400, "body"),
    ("POST", "/api/auth/login", b'{"email": ', False, 400, "body"),
    ("POST", "/api/auth/login", b"[1]", False, 400, "body"),
    ("PATCH", "/api/admin/tenant", b'{"name": ""}', True, 400, "name"),
    ("PATCH", "/api/admin/tenant", b'{"name": "   "}', True, 400, "name"),
]


@pytest.mark.parametrize(("method", "path", "body", "owner", "status", "field"), CASES,
                         ids=[f"{c[0]} {c[1][:50]} {c[5]}" for c in CASES])
def test_bad_input_is_a_4xx_naming_the_field(world, method, path, body, owner, status, field):
    headers = {"Content-Type": "application/json"}
    if owner:
        headers["Authorization"] = f"Bearer {world.token('alpha', 'owner')}"
    with world.client("alpha", headers=headers) as client:
        response = client.request(method, path, content=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"] and "Traceback" not in response.text


def test_bad_input_in_the_cart_is_refused_without_a_traceback(world):
    with world.client("alpha", headers={"Content-Type": "application/json"}) as client:
        token = client.post("/api/carts").json()["token"]
        not_utf8 = client.post(f"/api/carts/{token}/items", content=b'{"sku": "\xff\xfe", "quantity": 1}')
        huge = client.post(f"/api/carts/{token}/items", content=json.dumps({"sku": "ALPHA-1", "quantity": 10**20}))
        change = client.patch(f"/api/carts/{token}/items/ALPHA-1", content=json.dumps({"quantity": 10**20}))
    assert (not_utf8.status_code, not_utf8.json()["error"]["field"]) == (400, "body")
    assert (huge.status_code, huge.json()["error"]["field"]) == (400, "quantity")
    assert change.status_code in (400, 404) and change.json()["error"]["field"] in ("quantity", "sku")


def test_a_stock_level_in_range_is_still_accepted(world):
    with world.client("alpha", headers={"Authorization": f"Bearer {world.token('alpha', 'owner')}"}) as client:
        response = client.put("/api/admin/stock/ALPHA-1", json={"on_hand": 2**63 - 1})
        back = client.put("/api/admin/stock/ALPHA-1", json={"on_hand": 7})
    assert response.status_code == 200 and response.json()["on_hand"] == 2**63 - 1
    assert back.json()["on_hand"] == 7


def test_a_missing_query_parameter_is_named(world):
    with world.client("alpha") as client:
        response = client.get("/api/orders/5")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "token" and "token" in response.json()["error"]["message"]
