"""Billing through the real ``stripe`` library against a local fake of Stripe's customers and
subscriptions, with the operator's webhook signed by Stripe's real scheme, on a real API server."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commerce_api.app import create_app
from commerce_api.billing.service import Billing
from content.registry import parse_features
from tests.api.conftest import PASSWORD, World, free_port, populate
from tests.conftest import serving

SECRET_KEY = "sk_test_operator_0123456789"
WEBHOOK_SECRET = "whsec_operator_signing_secret"
PRICES = {"business": "price_business", "agency": "price_agency"}  # Starter stays free
MONTH = 30 * 86400


class FakeStripe:
    """Just enough of Stripe Billing: customers, subscriptions (create, retrieve, update, cancel). ``down``
    makes every call fail as a Stripe outage does; ``calls`` records what was asked."""

    def __init__(self) -> None:
        self.customers: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.calls: list[tuple[str, str, dict]] = []
        self.down = False
        self.ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)).decode()
                form = dict(urllib.parse.parse_qsl(raw))
                fake.calls.append((method, self.path, form))
                if fake.down:
                    return self._reply(500, {"error": {"message": "Stripe is down", "type": "api_error"}})
                status, body = fake.route(method, self.path, form)
                self._reply(status, body)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def route(self, method: str, path: str, form: dict) -> tuple[int, dict]:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["v1", "customers"] and method == "POST":
            cid = f"cus_{next(self.ids)}"
            self.customers[cid] = {"id": cid, "object": "customer", "email": form.get("email"),
                                   "metadata": {"tenant": form.get("metadata[tenant]")}}
            return 200, self.customers[cid]
        if parts[:2] == ["v1", "subscriptions"]:
            if len(parts) == 2 and method == "POST":
                return 200, self.create(form)
            sub = self.subscriptions.get(parts[2]) if len(parts) > 2 else None
            if sub is None:
                return 404, {"error": {"message": "No such subscription", "type": "invalid_request_error"}}
            if method == "POST":
                if "items[0][price]" in form:
                    sub["items"]["data"][0]["price"] = {"id": form["items[0][price]"], "object": "price"}
                if "cancel_at_period_end" in form:
                    sub["cancel_at_period_end"] = form["cancel_at_period_end"] == "true"
            elif method == "DELETE":
                sub["status"] = "canceled"
            return 200, sub
        return 404, {"error": {"message": f"unknown path {path}", "type": "invalid_request_error"}}

    def create(self, form: dict) -> dict:
        sid, now = f"sub_{next(self.ids)}", int(time.time())
        trial = int(form.get("trial_period_days", 0))
        sub = {"id": sid, "object": "subscription", "customer": form["customer"],
               "status": "trialing" if trial else "active", "cancel_at_period_end": False,
               "current_period_end": now + (trial * 86400 if trial else MONTH),
               "trial_end": now + trial * 86400 if trial else None,
               "metadata": {"tenant": form.get("metadata[tenant]")},
               "items": {"object": "list", "data": [{"id": f"si_{sid}", "object": "subscription_item",
                                                     "price": {"id": form["items[0][price]"], "object": "price"}}]}}
        self.subscriptions[sid] = sub
        return sub

    def set(self, sid: str, **fields) -> dict:
        """Stripe changes the subscription on its side (a payment failed, a period renewed)."""
        self.subscriptions[sid].update(fields)
        return self.subscriptions[sid]


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    timestamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event(kind: str, sub: dict, event_id: str | None = None) -> bytes:
    """An event as Stripe sends it: subscription events carry the subscription, invoices reference it."""
    if kind.startswith("invoice."):
        obj = {"id": f"in_{next(_events)}", "object": "invoice", "subscription": sub["id"], "customer": sub["customer"]}
    else:
        obj = dict(sub)
    return json.dumps({"id": event_id or f"evt_{next(_events)}", "object": "event", "type": kind,
                       "data": {"object": obj}}).encode()


_events = itertools.count(1)


@pytest.fixture(name="fake", scope="module")
def fx_fake():
    fake = FakeStripe()
    yield fake
    fake.server.shutdown()


@pytest.fixture(name="world", scope="module")
def fx_world(tmp_path_factory, fake):
    port = free_port()
    services, tenants, config = populate(tmp_path_factory.mktemp("billing"), port)
    services.config = replace(config, billing_stripe_key=SECRET_KEY, billing_webhook_secret=WEBHOOK_SECRET,
                              stripe_api_base=fake.url)
    registry = services.db.registry
    with registry.conn:
        for plan, price in PRICES.items():
            registry.conn.execute("UPDATE plans SET stripe_price = ? WHERE name = ?", (price, plan))
    with serving(create_app(services.config, services), port) as base:
        yield World(base, services, tenants)


_sites = itertools.count(1)


@pytest.fixture(name="site")
def fx_site(world):
    """A new site on the free Starter plan with an owner, never billed."""
    slug = f"site{next(_sites)}"
    tenant = world.tenants.create(slug, slug.title(), parse_features("cms"), starter=None, plan="starter")
    owner = world.services.users.create(f"owner@{slug}.test", PASSWORD)
    world.services.users.grant(owner.id, tenant.id, "owner")
    return tenant


@pytest.fixture(name="billing")
def fx_billing(world):
    return Billing.from_config(world.services.config, world.services.db)


def hook(world, payload: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    with world.client() as client:
        return client.post("/api/billing/webhook", content=payload, headers=headers)
