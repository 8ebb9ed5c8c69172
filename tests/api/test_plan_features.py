"""The features only plans carry (webhooks, forms, custom domains; git is tested with pushes): a plan
that leaves one out hides and refuses it at every way in, with a message naming the plan that has it,
and keeps its data, so putting it back brings everything back."""

from __future__ import annotations

import pytest

from content import plans
from publish.domains import add_domain


@pytest.fixture(name="without")
def fx_without(world):
    """Take features out of the Business plan (every test site's) for one test."""
    registry = world.tenants.registry
    business = plans.get_plan(registry, "business")

    def drop(*features: str) -> None:
        plans.update_plan(registry, "business", title=business.title, features=business.features - set(features),
                          limits=business.limits, actor=None)

    yield drop
    plans.update_plan(registry, "business", title=business.title, features=business.features,
                      limits=business.limits, actor=None)


def _owner(world, slug: str = "alpha"):
    return world.client(slug, headers={"Authorization": f"Bearer {world.token(slug, 'owner')}"})


def test_webhooks_off_in_the_plan_are_refused_and_kept(world, without):
    with _owner(world) as client:
        made = client.post("/api/admin/webhooks", json={"url": "https://hooks.example.com/kept", "events": ["order.paid"]})
        assert made.status_code == 201, made.text
        without("webhooks")
        for response in (client.get("/api/admin/webhooks"),
                         client.post("/api/admin/webhooks", json={"url": "https://hooks.example.com/new", "events": ["order.paid"]}),
                         client.delete(f"/api/admin/webhooks/{made.json()['id']}")):
            assert response.status_code == 403, response.text
            error = response.json()["error"]
            assert error["code"] == "feature_disabled" and error["field"] == "webhooks"
            assert error["message"] == ("Your Business plan does not include webhooks. Agency includes it: "
                                        "ask the platform's operator to move the site to it.")
    conn = world.tenants.open_db("alpha")
    try:
        assert conn.execute("SELECT count(*) FROM webhook_endpoints WHERE url = 'https://hooks.example.com/kept'").fetchone()[0] == 1
    finally:
        conn.close()
    without()  # back in the plan: the endpoint is there again
    with _owner(world) as client:
        listed = client.get("/api/admin/webhooks")
        assert listed.status_code == 200 and "hooks.example.com/kept" in listed.text
        assert client.delete(f"/api/admin/webhooks/{made.json()['id']}").status_code == 200


def test_a_plan_that_has_the_feature_is_named(world, without):
    registry = world.tenants.registry
    agency = plans.get_plan(registry, "agency")
    assert "forms" in agency.features
    without("forms")
    with world.client("alpha") as client:
        refused = client.post("/api/forms/contact", json={"name": "Ann", "email": "ann@example.test", "message": "Hello"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "feature_disabled"
    with _owner(world) as client:
        listed = client.get("/api/admin/forms/submissions")
        assert listed.status_code == 403
        assert listed.json()["error"]["message"] == ("Your Business plan does not include forms. Agency includes it: "
                                                     "ask the platform's operator to move the site to it.")


def test_custom_domains_off_refuse_new_domains_and_keep_the_old(world, without):
    registry = world.tenants.registry
    add_domain(registry, "beta", "shop.beta-kept.test", "localhost")
    without("custom_domains")
    with pytest.raises(plans.FeatureOff) as refused:
        add_domain(registry, "beta", "another.beta-kept.test", "localhost")
    assert str(refused.value).startswith("Your Business plan does not include custom domains.")
    assert [d.name for d in registry.domains("beta")] == ["shop.beta-kept.test"]  # kept, still serving
    registry.remove_domain("beta", "shop.beta-kept.test")


def test_the_site_s_own_switch_still_counts_for_the_features_it_has(world):
    gamma = world.tenants.registry.get("gamma")  # cms only: the shop is off for the site, whatever its plan
    assert not gamma.has("ecommerce") and gamma.has("cms")
    assert gamma.has("webhooks") and gamma.has("git")  # plan-only features follow the plan alone
