"""Plans as data: the seeded plans, a tenant's limits with its overrides, the one limit check, the plan
history, and usage counted from the repository and the databases."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest

from content import plans
from content.errors import InvalidValue
from content.migrations import Migrations, connect
from content.registry import Registry
from content.schema import PLATFORM

MB, GB = 2**20, 2**30


def test_the_migration_seeds_the_three_plans_with_todays_media_limits(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    seeded = {p.name: p for p in plans.all_plans(registry)}
    assert [p.name for p in plans.all_plans(registry)] == ["starter", "business", "agency"]
    # What PLAN_LIMITS said before plans were data: uploads and the media library.
    assert [(seeded[n].limits["upload_bytes"], seeded[n].limits["media_bytes"]) for n in seeded] == [
        (5 * MB, 200 * MB), (20 * MB, 2 * GB), (50 * MB, 10 * GB)]
    assert seeded["starter"].limits["products"] == 50 and seeded["business"].limits["products"] == 500
    assert seeded["agency"].limits["products"] is None  # unlimited
    assert set(seeded["starter"].limits) == {limit.key for limit in plans.LIMITS}
    for plan in seeded.values():  # no tenant loses a feature it had on the day plans became data
        assert plan.features == set(plans.PLAN_FEATURES)


def test_an_older_platform_db_upgrades_and_its_tenants_keep_their_features(tmp_path):
    path = tmp_path / "platform.db"
    before = Migrations("platform.db", [step for step in PLATFORM.steps if step[0] < "0008"])
    conn = connect(path, before)
    conn.execute("INSERT INTO tenants (slug, name, plan, features, created_at, updated_at) VALUES "
                 "('old', 'Old', 'business', '[\"cms\", \"ecommerce\", \"analytics\"]', 'x', 'x')")
    conn.commit()
    conn.close()
    registry = Registry(path)
    tenant = registry.get("old")
    assert all(tenant.has(f) for f in ("cms", "ecommerce", "analytics"))
    assert plans.limits_for(registry, tenant)["media_bytes"] == 2 * GB


def test_a_feature_is_on_only_where_the_tenant_and_its_plan_have_it(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    registry.add("acme", "Acme", frozenset({"cms", "ecommerce"}))
    starter = plans.get_plan(registry, "starter")
    plans.update_plan(registry, "starter", title=starter.title, features=starter.features - {"ecommerce"},
                      limits=starter.limits, actor=None)
    tenant = registry.get("acme")
    assert tenant.has("cms") and not tenant.has("ecommerce")
    assert "ecommerce" in tenant.features  # hidden, not forgotten: the tenant's own list is kept
    registry.update("acme", plan="business")
    assert registry.get("acme").has("ecommerce")


def test_limits_for_takes_the_plan_then_the_tenants_overrides(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    registry.add("acme", "Acme", frozenset({"cms"}))
    assert plans.limits_for(registry, registry.get("acme"))["products"] == 50
    tenant = plans.set_overrides(registry, "acme", {"products": 7, "pages_and_posts": None}, actor=None, note="pilot")
    limits = plans.limits_for(registry, tenant)
    assert limits["products"] == 7 and limits["pages_and_posts"] is None and limits["media_bytes"] == 200 * MB
    registry.update("acme", plan="business")  # overrides stay with the tenant across plans
    limits = plans.limits_for(registry, registry.get("acme"))
    assert limits["products"] == 7 and limits["media_bytes"] == 2 * GB
    entry = registry.conn.execute("SELECT * FROM audit_log WHERE event = 'limits.changed'").fetchone()
    assert json.loads(entry["detail"]) == {"before": {}, "after": {"products": 7, "pages_and_posts": None},
                                           "note": "pilot"}
    plans.set_overrides(registry, "acme", {}, actor=None)
    assert plans.limits_for(registry, registry.get("acme"))["products"] == 500


@pytest.mark.parametrize("before,after,refused", [
    (49, 50, False),  # up to the limit
    (50, 51, True),  # past it
    (50, 50, False),  # an edit at the limit
    (60, 59, False),  # over after a downgrade: removing passes
    (60, 60, False),  # over: editing passes
    (60, 61, True),  # over: adding is refused
    (0, 120, True),  # many at once
])
def test_only_adding_past_a_limit_is_refused(tmp_path, before, after, refused):
    registry = Registry(tmp_path / "platform.db")
    tenant = registry.add("acme", "Acme", frozenset({"cms"}))
    if not refused:
        plans.check(registry, tenant, "products", before, after)
        return
    with pytest.raises(plans.LimitReached) as caught:
        plans.check(registry, tenant, "products", before, after)
    assert caught.value.key == "products" and caught.value.plan.name == "starter"
    assert caught.value.lifts.name == "business" and caught.value.status == 403
    assert str(caught.value).startswith(f"Your Starter plan allows 50 products; the site has {before}, and this "
                                        f"would make {after}. Business allows 500 products")


def test_the_message_names_the_plan_that_lifts_it_or_says_none_does(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    tenant = registry.add("acme", "Acme", frozenset({"cms"}), plan="business")
    with pytest.raises(plans.LimitReached, match="Agency allows unlimited products"):
        plans.check(registry, tenant, "products", 500, 501)
    with pytest.raises(plans.LimitReached, match=r"allows 2 GB of media; the site has 2 GB, and this would make "
                                                 r"2049 MB\. Agency allows 10 GB of media"):
        plans.check(registry, tenant, "media_bytes", 2 * GB, 2 * GB + MB)
    agency = registry.add("big", "Big", frozenset({"cms"}), plan="agency")
    with pytest.raises(plans.LimitReached, match="No plan allows more"):
        plans.check(registry, agency, "staff_seats", 50, 51)
    own = plans.set_overrides(registry, "acme", {"products": 3}, actor=None)
    with pytest.raises(plans.LimitReached, match=r"^This site's limit is 3 products \(set for it by the platform's "
                                                 r"operator\).*Ask the platform's operator to raise it"):
        plans.check(registry, own, "products", 3, 4)


def test_counts_follow_the_parser(tmp_path):
    assert plans.counts(["products/a.md", "products/a.md.yaml", "products/x/b.md", "pages/about.md",
                         "posts/hello.md", "media/a.jpg", "site.yaml", "pages/notes.txt"]) == {
        "products": 1, "pages_and_posts": 2}


def test_a_plan_change_writes_its_history_and_audit_entry_together(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    registry.add("acme", "Acme", frozenset({"cms"}))
    registry.update("acme", plan="business", actor=None, note="  Grew   into a shop ", via="cli")
    registry.update("acme", plan="business", note="no change")  # the same plan: nothing to record
    registry.update("acme", name="Acme Ltd")
    history = plans.history(registry, registry.get("acme"))
    assert [(h["from_plan"], h["to_plan"], h["note"]) for h in history] == [("starter", "business", "Grew into a shop")]
    audit = [(r["event"], json.loads(r["detail"])) for r in registry.conn.execute("SELECT * FROM audit_log")]
    assert audit == [("plan.changed", {"from": "starter", "to": "business", "note": "Grew into a shop", "via": "cli"})]
    with pytest.raises(InvalidValue, match="'gold' is not one of starter, business, agency"):
        registry.update("acme", plan="gold")
    assert len(plans.history(registry, registry.get("acme"))) == 1


def test_plan_edits_are_checked_and_audited(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    starter = plans.get_plan(registry, "starter")
    with pytest.raises(InvalidValue, match="unknown feature 'teleport'"):
        plans.update_plan(registry, "starter", title="S", features={"teleport"}, limits={}, actor=None)
    with pytest.raises(InvalidValue):
        plans.parse_limit("products", "-3")
    with pytest.raises(InvalidValue, match="at most"):
        plans.parse_limit("upload_bytes", str(plans.UPLOAD_CEILING + 1))
    assert plans.parse_limit("products", " unlimited ") is None and plans.parse_limit("products", "12") == 12
    edited = plans.update_plan(registry, "starter", title="Small", features={"cms"},
                               limits={**starter.limits, "products": 10}, actor=None)
    assert edited.title == "Small" and edited.features == {"cms"} and edited.limits["products"] == 10
    detail = json.loads(registry.conn.execute("SELECT detail FROM audit_log WHERE event = 'plan.edited'").fetchone()[0])
    assert detail["before"]["limits"]["products"] == 50 and detail["limits"]["products"] == 10


def test_usage_counts_what_the_repository_and_databases_hold(tenants, settings):
    from content.schema import TENANT

    tenant = tenants.create("acme", "Acme", frozenset({"cms", "ecommerce"}), starter="bakery")
    registry = tenants.registry
    registry.add_domain("acme", "shop.acme.example")
    registry.conn.execute("INSERT INTO users (email, password_hash, created_at, password_changed_at) "
                          "VALUES ('o@acme.test', 'x', 'x', 'x')")
    registry.conn.execute("INSERT INTO memberships (user_id, tenant_id, role, created_at) VALUES (1, ?, 'owner', 'x')",
                          (tenant.id,))
    registry.conn.commit()
    db = connect(settings.data_dir / "tenants" / "acme" / "tenant.db", TENANT)
    now = datetime(2026, 3, 15, 12, tzinfo=timezone.utc)
    for number, created in enumerate(["2026-03-01T00:00:00+00:00", "2026-03-15T09:00:00+00:00",
                                      "2026-02-28T23:59:59+00:00"], 1):
        db.execute("INSERT INTO orders (number, token_hash, email, status, payment_status, provider, currency, subtotal,"
                   " shipping, tax, tax_inclusive, total, shipping_method, shipping_address, billing_address,"
                   " catalog_version, created_at, updated_at, expires_at) VALUES (?, ?, 'a@b.c', 'pending', 'pending',"
                   " 'manual', 'EUR', 1, 0, 0, 1, 1, 'post', '{}', '{}', 'v', ?, ?, ?)",
                   (number, f"t{number}", created, created, created))
    for started in ["2026-03-15T08:00:00+00:00", "2026-03-14T23:00:00+00:00"]:
        db.execute("INSERT INTO deploys (commit_sha, catalog_version, manifest_hash, actor, started_at, status) "
                   "VALUES ('c', 'v', 'm', 'x', ?, 'live')", (started,))
    db.commit()
    source = tenants.repository("acme").source()
    try:
        used = plans.usage(registry, registry.get("acme"), source, db, now=now)
        paths = source.paths()
        media = sum(source.size(p) for p in paths if p.startswith("media/") and not p.endswith(".yaml"))
    finally:
        source.close()
    starter_products = len([p for p in paths if p.startswith("products/") and p.endswith(".md")])
    starter_pages = len([p for p in paths if p.startswith(("pages/", "posts/")) and p.endswith(".md")])
    assert (starter_products, starter_pages) == (11, 7)  # sites/bakery, counted independently
    assert used == {"products": 11, "pages_and_posts": 7, "media_bytes": media, "upload_bytes": None,
                    "staff_seats": 1, "custom_domains": 1, "orders_per_month": 2, "publishes_per_day": 1,
                    "api_requests_per_minute": None}
    assert media > 0
    limits = plans.limits_for(registry, registry.get("acme"))
    assert plans.over(limits, used) == {}
    plans.set_overrides(registry, "acme", {"products": 4, "orders_per_month": 1}, actor=None)
    assert plans.over(plans.limits_for(registry, registry.get("acme")), used) == {"products": 7, "orders_per_month": 1}
    db.close()


@pytest.mark.parametrize("key,one", [
    ("products", "1 product"), ("pages_and_posts", "1 page or post"), ("staff_seats", "1 staff seat"),
    ("custom_domains", "1 custom domain"), ("orders_per_month", "1 order a month"),
    ("publishes_per_day", "1 publish a day"), ("api_requests_per_minute", "1 API request a minute"),
])
def test_amounts_read_well_in_the_singular(key, one):
    assert plans.amount(key, 1) == one
    assert plans.amount(key, 2) == one.replace("1 ", "2 ", 1).replace(plans.BY_KEY[key].one, plans.BY_KEY[key].noun)
    assert plans.amount(key, 0) == f"0 {plans.BY_KEY[key].noun}"


def test_a_limit_of_one_reads_well_in_the_refusal(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    tenant = registry.add("acme", "Acme", frozenset({"cms"}), plan="starter")
    with pytest.raises(plans.LimitReached) as caught:
        plans.check(registry, tenant, "custom_domains", 1, 2)
    assert str(caught.value).startswith("Your Starter plan allows 1 custom domain; the site has 1, and this would "
                                        "make 2. Business allows 5 custom domains")
    own = plans.set_overrides(registry, "acme", {"publishes_per_day": 1}, actor=None)
    with pytest.raises(plans.LimitReached, match=r"^This site's limit is 1 publish a day \(set"):
        plans.check(registry, own, "publishes_per_day", 1, 2)
