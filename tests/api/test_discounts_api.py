"""The staff discounts API over real HTTP: create, list, read, change, pause and resume; bad values named;
who may; and a paused code that stops applying in a shopper's basket."""

from __future__ import annotations

import pytest

from tests.api.shopping import cart, fx_shop  # noqa: F401 (the shop fixture)


def staff(world, role="shop_manager", tenant="alpha"):
    return world.client(tenant, headers={"Authorization": f"Bearer {world.token(tenant, role)}"})


def test_create_read_list_change_pause_and_resume(shop):
    world, _ = shop
    with staff(world) as client:
        made = client.post("/api/admin/discounts", json={
            "code": "loaf5", "kind": "amount", "value": 500, "target": "products", "products": ["rye"],
            "min_subtotal": 1000, "usage_limit": 20, "per_email_limit": 1,
            "starts_at": "2026-01-01T00:00:00+01:00", "ends_at": "2099-12-31T23:59:00+00:00"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["code"] == "LOAF5" and body["value"] == 500 and body["products"] == ["rye"]
        assert body["starts_at"] == "2025-12-31T23:00:00+00:00" and body["uses"] == 0 and body["status"] == "active"
        number = body["id"]
        assert client.get(f"/api/admin/discounts/{number}").json() == body
        assert number in [d["id"] for d in client.get("/api/admin/discounts").json()]

        paused = client.patch(f"/api/admin/discounts/{number}", json={"status": "paused"})
        assert paused.status_code == 200, paused.text
        assert paused.json() == {**body, "status": "paused"}  # nothing else moved
        changed = client.patch(f"/api/admin/discounts/{number}", json={"status": "active", "value": 250,
                                                                       "usage_limit": None})
        assert changed.json()["value"] == 250 and changed.json()["usage_limit"] is None
        assert changed.json()["status"] == "active" and changed.json()["per_email_limit"] == 1


def test_a_paused_code_stops_applying_and_resumes(shop):
    world, _ = shop
    with staff(world) as client:
        number = client.post("/api/admin/discounts", json={"code": "PAUSEME", "kind": "percent",
                                                           "value": 1000}).json()["id"]
        client.patch(f"/api/admin/discounts/{number}", json={"status": "paused"})
    with world.client("alpha") as shopper:
        token = cart(shopper, ("RYE", 1))
        refused = shopper.post(f"/api/carts/{token}/discount", json={"code": "PAUSEME"})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "code"
    with staff(world) as client:
        client.patch(f"/api/admin/discounts/{number}", json={"status": "active"})
    with world.client("alpha") as shopper:
        view = shopper.post(f"/api/carts/{token}/discount", json={"code": "PAUSEME"}).json()
    assert view["discount"] == 72 and view["codes"] == [{"code": "PAUSEME", "applied": True, "reason": None}]


@pytest.mark.parametrize("body,field", [
    ({"code": "X1", "kind": "percent", "value": 20000}, "value"),
    ({"code": "X2", "kind": "discount"}, "kind"),
    ({"code": "has space", "kind": "amount", "value": 100}, "code"),
    ({"kind": "amount", "value": 100}, "title"),
    ({"code": "X3", "kind": "amount", "value": 100, "target": "products"}, "products"),
    ({"code": "X4", "kind": "amount", "value": 100, "ends_at": "2027-03-31 23:59"}, "ends_at"),
    ({"code": "X5", "kind": "amount", "value": -1}, "value"),
    ({"code": "X6", "kind": "amount", "value": 100, "usage_limit": 0}, "usage_limit"),
    ({"code": "X7", "kind": "amount", "value": 100, "colour": "red"}, "body"),  # the message names `colour`
    ({"code": "X8", "kind": "amount", "value": 100, "status": "deleted"}, "status"),
])
def test_bad_values_are_a_400_naming_the_field(shop, body, field):
    world, _ = shop
    with staff(world) as client:
        response = client.post("/api/admin/discounts", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field, response.text
    assert (body.get("colour") and "colour" in response.json()["error"]["message"]) or field in response.text


def test_a_taken_code_is_a_conflict_and_unknown_ids_are_404(shop):
    world, _ = shop
    with staff(world, "owner") as client:
        assert client.post("/api/admin/discounts", json={"code": "TWICE", "kind": "free_shipping"}).status_code == 201
        again = client.post("/api/admin/discounts", json={"code": "twice", "kind": "amount", "value": 100})
        assert again.status_code == 409 and again.json()["error"]["code"] == "code_taken"
        assert client.get("/api/admin/discounts/999999").status_code == 404
        assert client.patch("/api/admin/discounts/999999", json={"status": "paused"}).status_code == 404
        bad = client.patch("/api/admin/discounts/1", json={"status": "gone"})
        assert bad.status_code in (400, 404) and bad.json()["error"]["field"] in ("status", "id")


def test_editors_and_shops_without_ecommerce_are_refused(shop):
    world, _ = shop
    with staff(world, "editor") as client:
        assert client.get("/api/admin/discounts").status_code == 403
        assert client.post("/api/admin/discounts", json={"code": "ED", "kind": "free_shipping"}).status_code == 403
    with staff(world, "owner", tenant="gamma") as client:  # gamma has no shop
        refused = client.get("/api/admin/discounts")
    assert refused.status_code in (403, 404)
    with staff(world, "owner", tenant="beta") as client:  # another shop never sees alpha's discounts
        assert all(d["code"] != "TWICE" for d in client.get("/api/admin/discounts").json())
