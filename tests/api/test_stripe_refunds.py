"""Partial refunds of card orders through the real `stripe` library against a local fake of Stripe's
refunds API, which keeps idempotency keys as Stripe does, refuses to refund more than was paid, and
can make a refund while the answer is lost on the way back."""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commerce_api.shop.orders import Orders
from commerce_api.shop.payments import StripeKeys, seal_payments
from publish.catalog import import_snapshot
from tests.api.shopping import ADDRESS, CATALOG, cart
from tests.api.test_stripe import SECRET_KEY, WEBHOOK_SECRET, event, sign


class StripeWithRefunds:
    """Checkout Sessions and refunds: ``charged`` holds what each payment took; ``lose`` answers
    that many refund requests by closing the connection after making the refund."""

    def __init__(self) -> None:
        self.charged: dict[str, int] = {}
        self.refunds: list[dict] = []
        self.by_key: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.lose = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = dict(urllib.parse.parse_qsl(raw))
                fake.requests.append(("POST", self.path, form, dict(self.headers)))
                if self.path == "/v1/checkout/sessions":
                    sid = f"cs_test_{len(fake.requests)}"
                    return self._reply(200, {"id": sid, "object": "checkout.session", "url": f"https://pay.test/{sid}",
                                             "status": "open", "payment_status": "unpaid"})
                if self.path != "/v1/refunds":
                    return self._reply(404, {"error": {"message": "unknown", "type": "invalid_request_error"}})
                key = self.headers.get("Idempotency-Key")
                made = fake.by_key.get(key)  # Stripe answers a repeated key with the first answer
                if made is None:
                    intent = form["payment_intent"]
                    taken = sum(r["amount"] for r in fake.refunds if r["payment_intent"] == intent)
                    amount = int(form.get("amount", fake.charged[intent] - taken))
                    if taken + amount > fake.charged[intent]:
                        return self._reply(400, {"error": {
                            "type": "invalid_request_error", "code": "amount_too_large",
                            "message": "Refund amount is greater than unrefunded amount"}})
                    made = {"id": f"re_{len(fake.refunds) + 1}", "object": "refund", "status": "succeeded",
                            "amount": amount, "payment_intent": intent,
                            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}}
                    fake.refunds.append(made)
                    fake.by_key[key] = made
                if fake.lose:
                    fake.lose -= 1
                    self.close_connection = True  # made, but the caller never hears of it
                    return None
                return self._reply(200, made)

            def do_GET(self):
                fake.requests.append(("GET", self.path, {}, dict(self.headers)))
                url = urllib.parse.urlparse(self.path)
                if url.path == "/v1/refunds":
                    intent = urllib.parse.parse_qs(url.query).get("payment_intent", [""])[0]
                    data = [r for r in fake.refunds if r["payment_intent"] == intent]
                    return self._reply(200, {"object": "list", "url": "/v1/refunds", "has_more": False, "data": data})
                return self._reply(404, {"error": {"message": "no such thing", "type": "invalid_request_error"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def refunded(self, intent: str) -> list[int]:
        return [r["amount"] for r in self.refunds if r["payment_intent"] == intent]


@pytest.fixture(name="card_shop", scope="module")
def fx_card_shop(world):
    fake = StripeWithRefunds()
    world.services.config = replace(world.services.config, stripe_api_base=fake.url)
    world.tenants.registry.update("beta", settings={"payments": seal_payments(
        world.services.config.secret_key, "stripe", StripeKeys(SECRET_KEY, WEBHOOK_SECRET))})
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, CATALOG)
    for sku in ("RYE", "BUN-4", "BUN-8"):
        Orders(conn).set_stock(sku, 100)
    yield world, conn, fake
    fake.server.shutdown()


def paid_by_card(world, fake, *items) -> dict:
    with world.client("beta") as client:
        token = cart(client, *items)
        placed = client.post("/api/checkout", json={"cart_token": token, "email": "ben@example.test",
                                                    "shipping_address": ADDRESS})
        assert placed.status_code == 201, placed.text
        number = placed.json()["order"]["number"]
        paid = event("checkout.session.completed", number, f"evt_paid_{number}")
        assert client.post("/api/webhooks/stripe/beta", content=paid,
                           headers={"Stripe-Signature": sign(paid)}).status_code == 200
    order = Orders(world.tenants.open_db("beta")).get(number)
    fake.charged[f"pi_{number}"] = order["total"]
    return order


def refund(world, number, body=None, key=None):
    headers = {"Authorization": f"Bearer {world.token('beta', 'shop_manager')}"}
    if key:
        headers["Idempotency-Key"] = key
    with world.client("beta", headers=headers) as staff:
        return staff.post(f"/api/admin/orders/{number}/refund", **({"json": body} if body is not None else {}))


def refund_posts(fake, intent):
    return [(form, headers) for method, path, form, headers in fake.requests
            if method == "POST" and path == "/v1/refunds" and form.get("payment_intent") == intent]


def test_each_partial_refund_is_one_stripe_refund_of_its_amount_under_its_own_key(card_shop):
    world, conn, fake = card_shop
    order = paid_by_card(world, fake, ("RYE", 2), ("BUN-4", 1))
    number, intent = order["number"], f"pi_{order['number']}"
    first = refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1, "restock": True}]})
    assert first.status_code == 200, first.text
    second = refund(world, number, {"amount": 300, "reason": "sorry for the wait"})
    last = refund(world, number)  # the rest
    assert last.status_code == 200, last.text
    amounts = [r["amount"] for r in last.json()["refunds"]]
    assert amounts == [864, 300, order["total"] - 1164] and fake.refunded(intent) == amounts
    posts = refund_posts(fake, intent)
    assert [int(form["amount"]) for form, _ in posts] == amounts
    keys = [headers["Idempotency-Key"] for _, headers in posts]
    assert len(set(keys)) == 3 and all(k.startswith("tessera-refund:beta:order-") for k in keys)
    assert [form["metadata[order_number]"] for form, _ in posts] == [str(number)] * 3
    assert [r["provider_ref"] for r in last.json()["refunds"]] == [r["id"] for r in fake.refunds
                                                                    if r["payment_intent"] == intent]
    assert last.json()["status"] == "refunded" and second.json()["payment_status"] == "partially_refunded"


def test_a_lost_answer_leaves_the_refund_pending_and_the_retry_never_refunds_twice(card_shop):
    world, conn, fake = card_shop
    order = paid_by_card(world, fake, ("BUN-4", 2))
    number, intent = order["number"], f"pi_{order['number']}"
    fake.lose = 3  # the first try and the library's two retries: all made or replayed, none answered
    body = {"lines": [{"sku": "BUN-4", "quantity": 1}]}
    lost = refund(world, number, body, key="refund-lost-0001")
    assert lost.status_code == 409 and lost.json()["error"]["code"] == "refund_pending"
    held = Orders(conn).get(number)
    assert [r["status"] for r in held["refunds"]] == ["pending"] and held["refunded"] == 0
    assert fake.refunded(intent) == [1200]  # Stripe did refund: 10.00 and its VAT
    # The same request again completes that refund: Stripe is asked, and refunds nothing more.
    retried = refund(world, number, body, key="refund-lost-0001")
    assert retried.status_code == 200, retried.text
    assert [(r["status"], r["amount"]) for r in retried.json()["refunds"]] == [("done", 1200)]
    assert retried.json()["refunded"] == 1200 and fake.refunded(intent) == [1200]
    assert len({h["Idempotency-Key"] for _, h in refund_posts(fake, intent)}) == 1


def test_another_refund_first_completes_a_pending_one_and_asks_again(card_shop):
    world, conn, fake = card_shop
    order = paid_by_card(world, fake, ("RYE", 3))
    number, intent = order["number"], f"pi_{order['number']}"
    fake.lose = 3
    assert refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]}).status_code == 409
    # A retry without a key (or someone else's refund) cannot tell it is the same: it completes
    # the pending refund and asks to be sent again, never refunding blindly.
    again = refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "refund_completed"
    assert fake.refunded(intent) == [864] and Orders(conn).get(number)["refunded"] == 864
    assert refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]}).status_code == 200
    assert fake.refunded(intent) == [864, 864]


def test_stripe_refusing_leaves_nothing_behind(card_shop):
    world, conn, fake = card_shop
    order = paid_by_card(world, fake, ("RYE", 1))
    number, intent = order["number"], f"pi_{order['number']}"
    fake.charged[intent] = 100  # Stripe knows of less than the order says: it refuses
    refused = refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]}, key="refund-refused-01")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "refund_refused"
    assert "greater than unrefunded" in refused.json()["error"]["message"] or "Stripe refused" in \
        refused.json()["error"]["message"]
    after = Orders(conn).get(number)
    assert after["refunds"] == [] and after["payment_status"] == "paid"
    fake.charged[intent] = order["total"]
    assert refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]}, key="refund-refused-01").status_code == 200


def test_stripes_own_refund_webhooks_record_only_what_the_shop_did_not(card_shop):
    world, conn, fake = card_shop
    order = paid_by_card(world, fake, ("RYE", 2))
    number, intent = order["number"], f"pi_{order['number']}"
    refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]})

    def charge_refunded(event_id, amount_refunded, full):
        payload = json.dumps({"id": event_id, "object": "event", "type": "charge.refunded", "data": {"object": {
            "id": f"ch_{number}", "object": "charge", "payment_intent": intent, "amount_refunded": amount_refunded,
            "refunded": full, "metadata": {}}}}).encode()
        with world.client("beta") as client:
            return client.post("/api/webhooks/stripe/beta", content=payload, headers={"Stripe-Signature": sign(payload)})

    # Stripe tells of our own partial refund: the order stays partly refunded, nothing is added.
    assert charge_refunded(f"evt_own_{number}", 864, False).json()["outcomes"] == ["refund already recorded"]
    assert Orders(conn).get(number)["payment_status"] == "partially_refunded"
    # The rest refunded in Stripe's dashboard: recorded as a refund by Stripe, and the order ends.
    assert charge_refunded(f"evt_dash_{number}", order["total"], True).json()["outcomes"] == ["refunded"]
    final = Orders(conn).get(number)
    assert [(r["amount"], r["actor"]) for r in final["refunds"]][-1] == (order["total"] - 864, "stripe")
    assert final["status"] == "refunded" and final["refunded"] == order["total"]
