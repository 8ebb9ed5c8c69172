"""Each order mails its shopper, so orders are limited per address (an IPv6 /64) and per email
address, and an email address is one recipient, never a list or a header."""

from __future__ import annotations

from dataclasses import replace

import pytest

from commerce_api.app import create_app
from commerce_api.auth.ratelimit import address_key
from publish.catalog import import_snapshot
from tests.api.conftest import World, free_port, populate
from tests.api.shopping import ADDRESS, CATALOG, cart
from tests.conftest import serving


@pytest.fixture(name="strict", scope="module")
def fx_strict(tmp_path_factory):
    port = free_port()
    services, tenants, config = populate(tmp_path_factory.mktemp("limits"), port)
    conn = tenants.open_db("alpha")
    import_snapshot(conn, CATALOG)
    conn.close()
    config = replace(config, trusted_proxies=("127.0.0.1",), orders_per_address=(3, 600), orders_per_email=(2, 3600))
    services.config = config
    with serving(create_app(config, services), port) as base:
        yield World(base, services, tenants)


def order(world, email: str, address: str):
    with world.client("alpha", headers={"X-Forwarded-For": address}) as client:
        token = cart(client, ("GIFT", 1))
        return client.post("/api/checkout", json={"cart_token": token, "email": email, "shipping_address": ADDRESS})


def test_orders_are_limited_per_address_and_per_email(strict):
    assert [order(strict, f"a{n}@example.test", "203.0.113.7").status_code for n in range(4)] == [201, 201, 201, 429]
    refused = order(strict, "a9@example.test", "203.0.113.7")
    assert refused.status_code == 429 and "too many orders" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) > 0
    assert order(strict, "a9@example.test", "203.0.113.8").status_code == 201  # another address
    # One email address, whatever the address it comes from.
    assert [order(strict, "victim@example.test", f"198.51.100.{n}").status_code for n in range(3)] == [201, 201, 429]
    # An IPv6 /64 is one address: rotating inside it gets nowhere.
    codes = [order(strict, f"v6{n}@example.test", f"2001:db8:1:2::{n + 1:x}").status_code for n in range(4)]
    assert codes == [201, 201, 201, 429]


def test_an_order_refused_by_one_limit_is_not_counted_by_the_other(strict):
    """Both limits are counted in one write, or neither: an order the email limit refuses does not
    use up one of its address's orders."""
    ip = "203.0.113.60"
    assert [order(strict, "twice@example.test", ip).status_code for _ in range(3)] == [201, 201, 429]  # email limit
    assert order(strict, "other@example.test", ip).status_code == 201  # the address's third order, not its fourth
    assert order(strict, "third@example.test", ip).status_code == 429  # and now the address is at its limit


def test_address_keys():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("203.0.113.7") == "203.0.113.7" and address_key("::ffff:203.0.113.7") == "203.0.113.7"


@pytest.mark.parametrize("email", ["shopper@example.test,postmaster", "eve@evil.example?bcc=spy%40x.example",
                                   "a b@example.test", "<a@example.test>", "a@example.test\nBcc: x@y.example"])
def test_an_email_address_is_one_plain_address(strict, email):
    answer = order(strict, email, f"192.0.2.{50 + len(email)}")
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "email"


def test_expiring_unpaid_orders_reads_only_the_expired_ones(tmp_path):
    """Every cart write first releases expired unpaid orders: that must be an index range, not a
    scan of every pending order (a busy shop has thousands waiting for payment)."""
    from content.migrations import connect
    from content.schema import TENANT

    conn = connect(tmp_path / "tenant.db", TENANT)
    plan = " ".join(row[3] for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT number FROM orders WHERE status = 'pending' AND payment_status = 'pending' "
        "AND expires_at < ?", ("2026-01-01",)))
    assert "USING INDEX orders_expiry (status=? AND payment_status=? AND expires_at<?)" in plan
