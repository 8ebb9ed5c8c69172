"""Gift cards with card payments, against the local Stripe fake: Stripe charges only what the gift
card left to pay, and a gift card bought by card comes to life with Stripe's webhook."""

from __future__ import annotations

from dataclasses import replace

import pytest

import tests.api.test_stripe as fake_stripe
from commerce_api.shop.orders import Orders
from commerce_api.shop.payments import StripeKeys, seal_payments
from publish.catalog import import_snapshot
from tests.api.shopping import ADDRESS, cart
from tests.api.test_gift_cards import GIFT_CATALOG


@pytest.fixture(name="stripe_gift_shop", scope="module")
def fx_stripe_gift_shop(world):
    fake = fake_stripe.FakeStripe()
    world.services.config = replace(world.services.config, stripe_api_base=fake.url)
    world.tenants.registry.update("beta", settings={"payments": seal_payments(
        world.services.config.secret_key, "stripe", StripeKeys(fake_stripe.SECRET_KEY, fake_stripe.WEBHOOK_SECRET))})
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, GIFT_CATALOG)
    Orders(conn).set_stock("RYE", 100)
    yield world, conn, fake
    fake.server.shutdown()


def staff(world):
    return world.client("beta", headers={"Authorization": f"Bearer {world.token('beta', 'owner')}"})


def test_stripe_charges_only_the_amount_due(stripe_gift_shop):
    world, conn, fake = stripe_gift_shop
    with staff(world) as admin:
        card = admin.post("/api/admin/gift-cards", json={"amount": 1000}).json()
    with world.client("beta") as client:
        token = cart(client, ("RYE", 3))  # 21.60 + 4.95, VAT on top: 31.86
        client.post(f"/api/carts/{token}/gift-cards", json={"code": card["code"]})
        placed = client.post("/api/checkout", json={"cart_token": token, "email": "ben@example.test",
                                                    "shipping_address": ADDRESS}).json()
    order = placed["order"]
    assert order["total"] == 3186 and order["gift_card"] == 1000 and order["amount_due"] == 2186
    _, path, form, _ = fake.requests[-1]
    assert path == "/v1/checkout/sessions"
    items = {k: v for k, v in form.items() if k.startswith("line_items[")}
    assert items["line_items[0][price_data][unit_amount]"] == "2186" and items["line_items[0][quantity]"] == "1"
    assert not any(k.startswith("line_items[1]") for k in items)  # one summarised item: nothing else to add up


def test_an_order_without_a_gift_card_still_lists_its_lines(stripe_gift_shop):
    world, _, fake = stripe_gift_shop
    with world.client("beta") as client:
        token = cart(client, ("RYE", 2))
        client.post("/api/checkout", json={"cart_token": token, "email": "ben@example.test", "shipping_address": ADDRESS})
    form = fake.requests[-1][2]
    assert form["line_items[0][price_data][unit_amount]"] == "720" and form["line_items[0][quantity]"] == "2"


def test_a_gift_card_bought_by_card_is_issued_by_the_paid_webhook_once(stripe_gift_shop):
    world, conn, _ = stripe_gift_shop
    with world.client("beta") as client:
        token = cart(client, ("VOUCHER-25", 1))
        placed = client.post("/api/checkout", json={"cart_token": token, "email": "ben@example.test",
                                                    "shipping_method": "pickup",
                                                    "shipping_address": {"name": "Ben"}}).json()
        number, link = placed["order"]["number"], placed["order"]["token"]
        for event_id in ("evt_gift_1", "evt_gift_1", "evt_gift_again"):  # a replay and a retry
            payload = fake_stripe.event("checkout.session.completed", number, event_id)
            assert fake_stripe.hook(client, payload, fake_stripe.sign(payload)).status_code == 200
        cards = client.get(f"/api/orders/{number}", params={"token": link}).json()["gift_cards"]
    assert [c["amount"] for c in cards] == [2500] and cards[0]["code"]
    assert conn.execute("SELECT count(*) FROM gift_card_ledger l JOIN gift_cards c ON c.id = l.card_id "
                        "JOIN orders o ON o.id = c.order_id WHERE o.number = ? AND l.kind = 'issue'",
                        (number,)).fetchone()[0] == 1
