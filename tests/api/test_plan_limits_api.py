"""The plan's staff seats, publishes a day and orders a month through the JSON API over real HTTP: past
the limit a new member, a publish or an order is refused (403) naming the limit, and nothing of it is
written: no membership, no job, no order, no stock held. Limits are set small through the site's own
overrides, the way the platform's operator sets them."""

from __future__ import annotations

import pytest

from commerce_api.shop.orders import Orders
from content import plans
from tests.api.shopping import cart, checkout, fx_shop, reserved  # noqa: F401 (the shop fixture)


@pytest.fixture(name="limited")
def fx_limited(world):
    """Set the alpha site's own limits for one test; they are cleared after it."""
    registry = world.tenants.registry

    def limit(**values) -> None:
        plans.set_overrides(registry, "alpha", values, actor=None)

    yield limit
    plans.set_overrides(registry, "alpha", {}, actor=None)


def _as(world, role: str):
    return world.client("alpha", headers={"Authorization": f"Bearer {world.token('alpha', role)}"})


def _members(world) -> set[str]:
    return {m.user.email for m in world.services.users.members(world.tenants.registry.get("alpha").id)}


def test_a_member_past_the_staff_seats_is_refused_and_not_added(world, limited):
    before = _members(world)
    world.services.users.create("new.hand@elsewhere.test", "a long enough password")
    limited(staff_seats=len(before))
    with _as(world, "owner") as client:
        refused = client.post("/api/admin/members", json={"email": "new.hand@elsewhere.test", "role": "editor"})
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "limit_reached" and error["field"] == "staff_seats"
        assert f"This site's limit is {len(before)} staff seats" in error["message"]
        assert f"and this would make {len(before) + 1}" in error["message"]
        assert _members(world) == before
        # Changing the role of someone who already has a seat takes no new seat.
        editor = next(m for m in client.get("/api/admin/members").json() if m["email"] == "editor@alpha.test")
        assert client.put(f"/api/admin/members/{editor['id']}", json={"role": "shop_manager"}).status_code == 200
        assert client.put(f"/api/admin/members/{editor['id']}", json={"role": "editor"}).status_code == 200
    limited(staff_seats=len(before) + 1)
    with _as(world, "owner") as client:
        added = client.post("/api/admin/members", json={"email": "new.hand@elsewhere.test", "role": "editor"})
        assert added.status_code in (200, 201), added.text
        member = added.json()
        assert client.delete(f"/api/admin/members/{member['id']}").status_code == 200


def test_a_publish_past_the_day_s_publishes_is_refused_and_nothing_is_queued(world, limited):
    conn = world.tenants.open_db("alpha")
    try:
        today = plans.publishes_today(conn)
    finally:
        conn.close()
    limited(publishes_per_day=today)
    jobs_before = world.services.queue.list("alpha")
    with _as(world, "owner") as client:
        refused = client.post("/api/admin/publish")
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "limit_reached" and error["field"] == "publishes_per_day"
    assert f"This site's limit is {plans.amount('publishes_per_day', today)}" in error["message"]
    assert "publish again tomorrow" in error["message"]
    assert world.services.queue.list("alpha") == jobs_before


def test_an_order_past_the_month_s_orders_is_refused_with_nothing_reserved(shop, limited):
    world, conn = shop
    with world.client("alpha") as client:
        first = cart(client, ("RYE", 1))
        placed = checkout(client, first, key="month-limit-first")
        assert placed.status_code == 201, placed.text
        this_month = plans.orders_this_month(conn)
        limited(orders_per_month=this_month)
        orders_before, held = len(Orders(conn).list(limit=1000)), reserved(conn, "RYE")
        token = cart(client, ("RYE", 2))
        refused = checkout(client, token, key="month-limit-second")
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "plan_limit" and error["field"] == "orders_per_month"
        assert "This shop cannot take more orders this month" in error["message"]
        assert "plan" not in error["message"].lower()  # the shopper is not told about the shop's plan
        assert len(Orders(conn).list(limit=1000)) == orders_before and reserved(conn, "RYE") == held
        assert client.get(f"/api/carts/{token}").json()["lines"]  # the cart is still open, as it was
        # A retry of the order placed before the limit still gets that order.
        again = checkout(client, first, key="month-limit-first")
        assert again.status_code in (200, 201) and again.json()["order"]["number"] == placed.json()["order"]["number"]
    # The shop's people read the plan's own words in their audit log, once a month.
    entries = [e for e in world.services.audit.entries(world.tenants.registry.get("alpha").id)
               if e["event"] == "order.refused"]
    assert len(entries) == 1 and f"This site's limit is {plans.amount('orders_per_month', this_month)}" in entries[0]["detail"]["reason"]
    limited(orders_per_month=this_month + 1)
    with world.client("alpha") as client:
        assert checkout(client, token, key="month-limit-third").status_code == 201
