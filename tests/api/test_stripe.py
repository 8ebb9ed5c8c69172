"""Stripe through the real `stripe` library against a local fake of its API, with webhooks signed
by Stripe's real scheme (HMAC-SHA256 over "timestamp.payload")."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commerce_api.shop.orders import Orders
from commerce_api.shop.payments import StripeKeys, seal_payments
from commerce_api.shop.stripe_gateway import StripeGateway
from commerce_api.shop.webhooks import reconcile
from publish.catalog import import_snapshot
from tests.api.test_shop import ADDRESS, CATALOG, cart

SECRET_KEY = "sk_test_beta_0123456789"
WEBHOOK_SECRET = "whsec_beta_signing_secret"


class FakeStripe:
    """Just enough of Stripe's API: Checkout Sessions (create, retrieve) and refunds."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict, str]] = []
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
                fake.requests.append(("POST", self.path, form, self.headers.get("Authorization", "")))
                if self.path == "/v1/checkout/sessions":
                    sid = f"cs_test_{len(fake.sessions) + 1}"
                    session = {"id": sid, "object": "checkout.session", "url": f"https://checkout.stripe.test/{sid}",
                               "status": "open", "payment_status": "unpaid", "payment_intent": f"pi_{sid}",
                               "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}}
                    fake.sessions[sid] = session
                    return self._reply(200, session)
                if self.path == "/v1/refunds":
                    return self._reply(200, {"id": "re_1", "object": "refund", "status": "succeeded"})
                return self._reply(404, {"error": {"message": "unknown", "type": "invalid_request_error"}})

            def do_GET(self):
                fake.requests.append(("GET", self.path, {}, self.headers.get("Authorization", "")))
                sid = self.path.rsplit("/", 1)[-1]
                if sid in fake.sessions:
                    return self._reply(200, fake.sessions[sid])
                return self._reply(404, {"error": {"message": "no such session", "type": "invalid_request_error"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    timestamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event(kind: str, number: int, event_id: str, **fields) -> bytes:
    obj = {"id": f"cs_{number}", "object": "checkout.session", "payment_status": "paid",
           "payment_intent": f"pi_{number}", "metadata": {"tenant": "beta", "order_number": str(number)}, **fields}
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}).encode()


@pytest.fixture(name="stripe_shop", scope="module")
def fx_stripe_shop(world):
    fake = FakeStripe()
    world.services.config = replace(world.services.config, stripe_api_base=fake.url)
    world.tenants.registry.update("beta", settings={"payments": seal_payments(
        world.services.config.secret_key, "stripe", StripeKeys(SECRET_KEY, WEBHOOK_SECRET))})
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, CATALOG)
    for sku in ("RYE", "BUN-4", "BUN-8"):
        Orders(conn).set_stock(sku, 100)
    yield world, conn, fake
    fake.server.shutdown()


def hook(client, payload: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/api/webhooks/stripe/beta", content=payload, headers=headers)


def place(client) -> dict:
    token = cart(client, ("RYE", 2))
    response = client.post("/api/checkout", json={"cart_token": token, "email": "ben@example.test",
                                                  "shipping_address": ADDRESS})
    assert response.status_code == 201, response.text
    return response.json()


def test_checkout_creates_a_session_from_server_prices(stripe_shop):
    world, conn, fake = stripe_shop
    with world.client("beta") as client:
        placed = place(client)
    assert placed["payment"]["provider"] == "stripe"
    assert placed["payment"]["redirect_url"].startswith("https://checkout.stripe.test/cs_test_")
    method, path, form, auth = fake.requests[-1]
    assert path == "/v1/checkout/sessions" and auth == f"Bearer {SECRET_KEY}"
    assert form["line_items[0][price_data][unit_amount]"] == "720" and form["line_items[0][quantity]"] == "2"
    assert form["line_items[0][price_data][currency]"] == "gbp"
    assert form["metadata[order_number]"] == str(placed["order"]["number"])
    assert form["success_url"].startswith("http://beta.localhost:") and "/order/?number=" in form["success_url"]
    assert SECRET_KEY not in json.dumps(placed) and WEBHOOK_SECRET not in json.dumps(placed)


def test_completed_webhook_pays_once_however_often_it_arrives(stripe_shop):
    world, conn, _ = stripe_shop
    with world.client("beta") as client:
        number = place(client)["order"]["number"]
        payload = event("checkout.session.completed", number, f"evt_paid_{number}")
        first = hook(client, payload, sign(payload))
        assert first.status_code == 200 and first.json()["outcomes"] == ["paid"]
        for _ in range(3):
            replay = hook(client, payload, sign(payload))
            assert replay.json()["duplicate"] is True
        # Stripe's retry as a new event id for the same payment changes nothing either.
        again = event("checkout.session.completed", number, f"evt_paid_again_{number}")
        assert hook(client, again, sign(again)).status_code == 200
    order = Orders(conn).get(number)
    assert order["payment_status"] == "paid" and [h["to_status"] for h in order["history"]] == ["pending", "processing"]
    # One "paid" event, so one confirmation email and one alert per staff member: never a second.
    kinds = [r["kind"] for r in conn.execute("SELECT kind FROM events WHERE subject = ? ORDER BY id", (str(number),))]
    assert kinds == ["order.placed", "order.paid"]


@pytest.mark.parametrize("problem", ["unsigned", "wrong_secret", "stale", "tampered"])
def test_bad_signatures_are_refused(stripe_shop, problem):
    world, conn, _ = stripe_shop
    with world.client("beta") as client:
        number = place(client)["order"]["number"]
        payload = event("checkout.session.completed", number, f"evt_bad_{problem}_{number}")
        signature = {"unsigned": None, "wrong_secret": sign(payload, "whsec_someone_else"),
                     "stale": sign(payload, at=int(time.time()) - 3600),
                     "tampered": sign(payload)}[problem]
        if problem == "tampered":
            payload = payload.replace(b'"paid"', b'"paid" ', 1)
        response = hook(client, payload, signature)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_signature"
    assert Orders(conn).get(number)["payment_status"] == "pending"


def test_out_of_order_events(stripe_shop):
    world, conn, _ = stripe_shop
    with world.client("beta") as client:
        number = place(client)["order"]["number"]
        paid = event("checkout.session.completed", number, f"evt_ooo_paid_{number}")
        expired = event("checkout.session.expired", number, f"evt_ooo_exp_{number}", payment_status="unpaid")
        hook(client, paid, sign(paid))
        late = hook(client, expired, sign(expired))
    assert late.json()["outcomes"] == ["already paid"]
    assert Orders(conn).get(number)["status"] == "processing"


def test_expired_session_cancels_and_releases_stock(stripe_shop):
    world, conn, _ = stripe_shop
    orders = Orders(conn)
    before = orders.stock("RYE")["available"]
    with world.client("beta") as client:
        number = place(client)["order"]["number"]
        assert orders.stock("RYE")["available"] == before - 2
        expired = event("checkout.session.expired", number, f"evt_exp_{number}", payment_status="unpaid")
        hook(client, expired, sign(expired))
    assert orders.get(number)["payment_status"] == "expired" and orders.stock("RYE")["available"] == before


def test_a_webhook_that_beats_the_order_is_not_lost(stripe_shop):
    world, conn, _ = stripe_shop
    upcoming = conn.execute("SELECT COALESCE(MAX(number), 1000) + 1 FROM orders").fetchone()[0]
    early = event("checkout.session.completed", upcoming, f"evt_early_{upcoming}")
    with world.client("beta") as client:
        response = hook(client, early, sign(early))
        assert response.json()["outcomes"] == ["waiting"]
        placed = place(client)
    assert placed["order"]["number"] == upcoming
    assert placed["order"]["payment_status"] == "paid"


def test_refund_goes_through_stripe(stripe_shop):
    world, conn, fake = stripe_shop
    with world.client("beta") as client:
        number = place(client)["order"]["number"]
        paid = event("checkout.session.completed", number, f"evt_ref_{number}")
        hook(client, paid, sign(paid))
    manager = world.token("beta", "shop_manager")
    with world.client("beta", headers={"Authorization": f"Bearer {manager}"}) as staff:
        refunded = staff.post(f"/api/admin/orders/{number}/refund").json()
    assert refunded["status"] == "refunded" and refunded["payment_status"] == "refunded"
    assert fake.requests[-1][1] == "/v1/refunds" and fake.requests[-1][2]["payment_intent"] == f"pi_{number}"


def test_reconcile_finds_payments_whose_webhooks_were_missed(stripe_shop):
    world, conn, fake = stripe_shop
    with world.client("beta") as client:
        number = place(client)["order"]["number"]
    session_id = conn.execute("SELECT provider_ref FROM orders WHERE number = ?", (number,)).fetchone()[0]
    fake.sessions[session_id].update(status="complete", payment_status="paid")
    gateway = StripeGateway(StripeKeys(SECRET_KEY, WEBHOOK_SECRET), "beta", fake.url)
    assert reconcile(conn, gateway)[number] == "paid"
    assert Orders(conn).get(number)["payment_status"] == "paid"


def test_stripe_keys_are_sealed_in_the_platform_database(stripe_shop):
    import sqlite3

    world, _, _ = stripe_shop
    raw = sqlite3.connect(world.services.config.data_dir / "platform.db").execute(
        "SELECT settings FROM tenants WHERE slug = 'beta'").fetchone()[0]
    assert SECRET_KEY not in raw and WEBHOOK_SECRET not in raw
    assert '"provider": "stripe"' in raw and SECRET_KEY[:8] in raw  # the mask only
    from commerce_api.shop.payments import payment_settings

    tenant = world.tenants.registry.get("beta")
    assert payment_settings(tenant, world.services.config.secret_key)[1].secret_key == SECRET_KEY
    with pytest.raises(Exception, match="not set up"):
        payment_settings(tenant, "another installation's secret key " * 2)  # unreadable, never guessed
