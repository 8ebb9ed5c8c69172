"""Checkout answers with the whole order on every retry: after a payment provider that fails, after a
crash between the order's commit and its answer, and the reservation of an order whose payment never
started is released within minutes, not days."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from commerce_api.errors import BadRequest
from commerce_api.shop.orders import START_TTL, Orders
from commerce_api.shop.payments import Manual
from tests.api.shopping import CATALOG, cart, checkout, fx_shop, reserved  # noqa: F401 (fixture)

MANUAL = {"provider": "manual", "instructions": CATALOG["payment_instructions"]}


def _stock(conn, sku, available):
    Orders(conn).set_stock(sku, available + reserved(conn, sku))


def _expires_within(order, limit):
    expires = datetime.fromisoformat(order["expires_at"])
    return expires <= datetime.now(timezone.utc) + limit


def test_a_failing_provider_still_answers_with_the_order_and_a_retry_starts_payment(shop, monkeypatch):
    world, conn = shop
    _stock(conn, "RYE", 5)

    def down(self, order, site_url):
        raise BadRequest("the card payment could not be started: the card network is down", code="payment_unavailable")

    with world.client("alpha") as client:
        token = cart(client, ("RYE", 2))
        monkeypatch.setattr(Manual, "start", down)
        first = checkout(client, token, key="provider-down-0001")
        assert first.status_code == 201, first.text
        body = first.json()
        number, secret = body["order"]["number"], body["order"]["token"]
        assert secret.startswith("ord_") and body["order"]["status"] == "pending" and body["order"]["lines"]
        assert body["payment"]["status"] == "failed" and "card network is down" in body["payment"]["message"]
        order = Orders(conn).get(number)
        assert order["status"] == "pending" and _expires_within(order, START_TTL)  # held for minutes, not days

        # The shopper's own link can try again while the provider is still down ...
        still = client.post(f"/api/orders/{number}/payment", params={"token": secret})
        assert still.status_code == 200 and still.json()["status"] == "failed"
        monkeypatch.undo()
        # ... and the same Idempotency-Key, once it is back, gets the whole order and starts payment.
        again = checkout(client, token, key="provider-down-0001")
        assert again.status_code == 201 and again.json()["replayed"] is True
        assert again.json()["order"]["number"] == number and again.json()["order"]["token"] == secret
        assert again.json()["payment"] == MANUAL
        assert not _expires_within(Orders(conn).get(number), timedelta(days=2))  # manual payment: three days
        assert client.post(f"/api/orders/{number}/payment", params={"token": secret}).json() == MANUAL
        assert client.post(f"/api/orders/{number}/payment", params={"token": "ord_guess"}).status_code == 404


def test_a_provider_that_crashes_is_a_failed_payment_not_a_500(shop, monkeypatch):
    world, conn = shop
    _stock(conn, "RYE", 5)

    def broken(self, order, site_url):
        raise ConnectionResetError("secret internals")

    with world.client("alpha") as client:
        monkeypatch.setattr(Manual, "start", broken)
        response = checkout(client, cart(client, ("RYE", 1)), key="provider-crash-0001")
    assert response.status_code == 201, response.text
    assert response.json()["payment"]["status"] == "failed" and "secret internals" not in response.text
    assert response.json()["order"]["token"].startswith("ord_")


def test_a_crash_between_commit_and_answer_is_answered_in_full_on_retry(shop, monkeypatch):
    world, conn = shop
    _stock(conn, "BUN-4", 3)
    before = reserved(conn, "BUN-4")

    def power_cut(self, *args, **kwargs):
        raise RuntimeError("power cut")

    with world.client("alpha") as client:
        token = cart(client, ("BUN-4", 1))
        # The order is committed (with a manual payment's start, in its own transaction), its answer is not sent.
        monkeypatch.setattr("commerce_api.shop.checkout.start_payment", power_cut)
        lost = checkout(client, token, key="crash-after-commit-1")
        monkeypatch.undo()
        assert lost.status_code == 500 and "power cut" not in lost.text
        assert reserved(conn, "BUN-4") == before + 1
        retry = checkout(client, token, key="crash-after-commit-1")
        assert retry.status_code == 201, retry.text
        order = retry.json()["order"]
        assert retry.json()["payment"] == MANUAL and order["lines"][0]["sku"] == "BUN-4"
        mine = client.get(f"/api/orders/{order['number']}", params={"token": order["token"]})
        assert mine.status_code == 200 and mine.json()["number"] == order["number"]
        assert checkout(client, token, key="crash-after-commit-1").json()["order"]["token"] == order["token"]


def test_an_order_whose_payment_never_started_releases_its_stock_within_minutes(shop, monkeypatch):
    world, conn = shop
    _stock(conn, "BUN-4", 2)

    def down(self, order, site_url):
        raise BadRequest("the card payment could not be started", code="payment_unavailable")

    with world.client("alpha") as client:
        monkeypatch.setattr(Manual, "start", down)
        number = checkout(client, cart(client, ("BUN-4", 2))).json()["order"]["number"]
        monkeypatch.undo()
        assert client.post("/api/availability", json={"skus": ["BUN-4"]}).json()["skus"]["BUN-4"]["in_stock"] is False
        assert _expires_within(Orders(conn).get(number), START_TTL)
        with conn:  # the few minutes pass
            conn.execute("UPDATE orders SET expires_at = ? WHERE number = ?",
                         ((datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(timespec="seconds"), number))
        # Any shop request sweeps expired reservations: the product is back on sale.
        live = client.post("/api/availability", json={"skus": ["BUN-4"]}).json()["skus"]["BUN-4"]
    assert live["in_stock"] is True and live["available"] == 2
    order = Orders(conn).get(number)
    assert order["status"] == "cancelled" and order["payment_status"] == "expired"
