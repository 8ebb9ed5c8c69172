"""The plan's API requests per minute, over real HTTP: past the limit a site's API credentials get 429
with Retry-After and an error naming the limit; shoppers without a credential, other sites, payment
webhooks and the admin are not held to it; the window slides, so the site is served again once the
requests age out."""

from __future__ import annotations

import pytest

from commerce_api.quota import RequestQuota
from content import plans
from tests.api.conftest import PASSWORD


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="quota")
def fx_quota(world):
    """A fresh counter on a clock the test moves, and the alpha site limited to 5 requests a minute."""
    clock = Clock(1_800_000_000.0 + 1)  # one second into a minute
    before = world.services.quota
    world.services.quota = RequestQuota(lambda: world.services.db.registry, clock)
    plans.set_overrides(world.tenants.registry, "alpha", {"api_requests_per_minute": 5}, actor=None)
    yield clock
    plans.set_overrides(world.tenants.registry, "alpha", {}, actor=None)
    world.services.quota = before


def _token(world, slug: str = "alpha"):
    return world.client(slug, headers={"Authorization": f"Bearer {world.token(slug, 'owner')}"})


def test_past_the_limit_the_api_answers_429_naming_the_limit(world, quota):
    _token(world).close(), _token(world, "beta").close()  # sign in before the count starts
    with _token(world) as alpha, _token(world, "beta") as beta, world.client("alpha") as shopper:
        for _ in range(5):
            assert alpha.get("/api/products").status_code == 200
        refused = alpha.get("/api/products")
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "rate_limited" and error["field"] == "api_requests_per_minute"
        assert "This site's limit is 5 API requests a minute" in error["message"]
        assert refused.headers["retry-after"] == "59"  # the minute turns in 59 s; nothing older to slide out
        assert "try again in 59 seconds" in error["message"]
        # Writes are refused the same way, before anything is written.
        assert alpha.post("/api/admin/webhooks", json={"url": "https://hooks.example.com/x", "events": ["order.paid"]}).status_code == 429
        conn = world.tenants.open_db("alpha")
        assert conn.execute("SELECT count(*) FROM webhook_endpoints WHERE url = 'https://hooks.example.com/x'").fetchone()[0] == 0
        conn.close()
        # Shoppers carry no credential: the shop keeps selling.
        assert shopper.get("/api/products").status_code == 200
        assert shopper.post("/api/carts", json={}).status_code == 201
        # Another site has its own count.
        assert beta.get("/api/products").status_code == 200
        # Payment providers' webhooks are never refused for the site's traffic (here: a bad signature).
        hook = alpha.post("/api/webhooks/stripe/alpha", content=b"{}", headers={"Content-Type": "application/json"})
        assert hook.status_code != 429
    with world.admin_client("alpha") as admin:
        assert admin.get("/login").status_code == 200  # the admin's pages are not counted


def test_the_window_slides_and_the_site_is_served_again(world, quota):
    _token(world).close()
    with _token(world) as alpha:
        for _ in range(5):
            assert alpha.get("/api/products").status_code == 200
        assert alpha.get("/api/products").status_code == 429
        quota.now += 60  # a minute on: the previous minute's 5 still weigh 59/60 of themselves
        assert alpha.get("/api/products").status_code == 429
        quota.now += 30  # half of them have slid out
        assert alpha.get("/api/products").status_code == 200
        quota.now += 120
        for _ in range(5):
            assert alpha.get("/api/products").status_code == 200


def test_a_plan_s_limit_applies_and_an_unlimited_plan_counts_nothing(world):
    clock = Clock(1_800_000_000.0)
    quota = RequestQuota(lambda: world.services.db.registry, clock)
    tenant = world.tenants.registry.get("alpha")
    limit, overridden = quota.limit(tenant)
    assert limit == plans.get_plan(world.tenants.registry, tenant.plan).limits["api_requests_per_minute"]
    assert not overridden
    plans.set_overrides(world.tenants.registry, "alpha", {"api_requests_per_minute": None}, actor=None)
    try:
        unlimited = world.tenants.registry.get("alpha")
        for _ in range(100):
            quota.take(unlimited)
        assert quota.used(unlimited) == 0
    finally:
        plans.set_overrides(world.tenants.registry, "alpha", {}, actor=None)


def test_the_refusal_names_the_plan_that_allows_more(world):
    clock = Clock(1_800_000_000.0)
    quota = RequestQuota(lambda: world.services.db.registry, clock)
    registry = world.tenants.registry
    tenant = registry.get("alpha")
    plan = plans.get_plan(registry, tenant.plan)
    limit = plan.limits["api_requests_per_minute"]
    for _ in range(limit):
        quota.take(tenant)
    assert quota.used(tenant) == limit
    with pytest.raises(Exception) as refused:
        quota.take(tenant)
    lifts = plans.cheapest_lifting(registry, "api_requests_per_minute", limit + 1)
    message = refused.value.message
    assert f"This site's {plan.title} plan allows {limit} API requests a minute" in message
    assert lifts is not None  # the site is on Business: Agency allows more
    assert f"The {lifts.title} plan allows more: the platform's operator can move the site to it." in message


def test_a_signed_in_session_is_counted_too(world, quota):
    """A script signing in to the admin's API cannot get around the plan's minute."""
    with world.admin_client("alpha") as admin:
        signed = admin.post("/api/auth/session", data={"email": "owner@alpha.test", "password": PASSWORD})
        assert signed.status_code in (200, 201), signed.text
        answers = [admin.get("/api/admin/members").status_code for _ in range(7)]
    assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]
