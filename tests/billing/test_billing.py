"""Billing end to end: plan changes through the real ``stripe`` library against the fake, and the
operator's webhook signed with Stripe's scheme, with replayed and out-of-order events."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from commerce_api.billing import changes
from commerce_api.billing.errors import BillingUnavailable
from tests.billing.conftest import event, hook, sign


def subscribe(world, billing, site, plan="business"):
    email = changes.owner_email(world.services.users, site)
    return changes.change_plan(billing, site.slug, plan, owner_email=email, actor=None, note="test", via="test")


def plan_changes(world, site) -> list[tuple[str, str, str]]:
    rows = world.services.db.registry.conn.execute(
        "SELECT from_plan, to_plan, note FROM plan_changes WHERE tenant_id = ? ORDER BY id", (site.id,))
    return [tuple(r) for r in rows]


def test_a_paid_plan_creates_customer_and_subscription_with_a_trial(world, fake, billing, site):
    message = subscribe(world, billing, site)
    assert "14-day trial" in message
    row = billing.row(site)
    sub = fake.subscriptions[row["subscription_id"]]
    assert fake.customers[sub["customer"]]["email"] == f"owner@{site.slug}.test"
    assert sub["items"]["data"][0]["price"]["id"] == "price_business" and sub["metadata"] == {"tenant": site.slug}
    create = next(form for method, path, form in fake.calls if path == "/v1/subscriptions" and
                  form.get("metadata[tenant]") == site.slug)
    assert create["trial_period_days"] == "14"
    tenant = world.services.db.registry.get(site.slug)
    assert (tenant.plan, tenant.status, row["state"]) == ("business", "trial", "trialing")
    assert plan_changes(world, site) == [("starter", "business", "test")]


def test_webhook_moves_trial_to_active_and_a_replay_does_nothing(world, fake, billing, site):
    subscribe(world, billing, site)
    sub = fake.set(billing.row(site)["subscription_id"], status="active", trial_end=None)
    payload = event("invoice.paid", sub, "evt_paid_once_" + site.slug)
    first = hook(world, payload, sign(payload))
    assert first.status_code == 200 and first.json()["duplicate"] is False, first.text
    assert world.services.db.registry.get(site.slug).status == "active"
    reads = len([c for c in fake.calls if c[1] == f"/v1/subscriptions/{sub['id']}"])
    replay = hook(world, payload, sign(payload))
    assert replay.status_code == 200 and replay.json() == {"received": True, "duplicate": True}
    assert len([c for c in fake.calls if c[1] == f"/v1/subscriptions/{sub['id']}"]) == reads  # not even read


@pytest.mark.parametrize("problem", ["missing", "wrong_secret", "stale", "tampered"])
def test_bad_signatures_are_400_naming_the_header(world, fake, billing, site, problem):
    subscribe(world, billing, site)
    sub = fake.set(billing.row(site)["subscription_id"], status="past_due")
    payload = event("invoice.payment_failed", sub)
    signature = {"missing": None, "wrong_secret": sign(payload, "whsec_other"),
                 "stale": sign(payload, at=int(time.time()) - 3600), "tampered": sign(payload)}[problem]
    if problem == "tampered":
        payload = payload.replace(b"invoice.payment_failed", b"invoice.paid")
    response = hook(world, payload, signature)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Stripe-Signature"
    assert billing.row(site)["state"] == "trialing"  # nothing applied


def test_out_of_order_events_converge_on_stripes_current_state(world, fake, billing, site):
    subscribe(world, billing, site)
    sid = billing.row(site)["subscription_id"]
    failed_sub = dict(fake.subscriptions[sid], status="past_due")
    # Stripe retried the payment and it went through; the failure's event arrives after the success's.
    current = fake.set(sid, status="active")
    paid, failed = event("invoice.paid", current), event("invoice.payment_failed", failed_sub)
    updated_first = event("customer.subscription.updated", current)
    created_late = event("customer.subscription.created", dict(current, status="trialing"))
    for payload in (updated_first, paid, failed, created_late):
        assert hook(world, payload, sign(payload)).status_code == 200
    row = billing.row(site)
    assert (row["state"], row["past_due_since"]) == ("active", None)
    assert world.services.db.registry.get(site.slug).status == "active"


def test_grace_then_suspended_then_paid_then_resumed(world, fake, billing, site):
    subscribe(world, billing, site)
    sid = billing.row(site)["subscription_id"]
    sub = fake.set(sid, status="past_due")
    failed = event("invoice.payment_failed", sub)
    hook(world, failed, sign(failed))
    row = billing.row(site)
    assert row["state"] == "past_due" and row["past_due_since"]
    assert not world.services.db.registry.get(site.slug).suspended  # within the grace
    # Eight days on, the daily sweep finds it past the grace of seven.
    billing.clock = lambda: datetime.now(timezone.utc) + timedelta(days=8)
    assert f"{site.slug}: suspended, suspended" in billing.sweep()
    tenant = world.services.db.registry.get(site.slug)
    since = datetime.fromisoformat(row["past_due_since"]).strftime("%-d %b %Y")
    assert tenant.suspended and tenant.suspension["by"] == "billing"
    assert tenant.suspension["reason"] == f"Payment overdue since {since}"
    paid_sub = fake.set(sid, status="active")
    paid = event("invoice.paid", paid_sub)
    assert hook(world, paid, sign(paid)).json()["outcome"] == "active, resumed"
    tenant = world.services.db.registry.get(site.slug)
    assert tenant.status == "active" and tenant.suspension is None and "suspension" not in tenant.settings
    assert billing.row(site)["past_due_since"] is None


def test_payment_never_lifts_an_operators_suspension(world, fake, billing, site):
    subscribe(world, billing, site)
    world.services.db.registry.suspend(site.slug, "Terms of service: spam", by="operator")
    sub = fake.set(billing.row(site)["subscription_id"], status="active")
    paid = event("invoice.paid", sub)
    hook(world, paid, sign(paid))
    tenant = world.services.db.registry.get(site.slug)
    assert tenant.suspended and tenant.suspension["reason"] == "Terms of service: spam"


def test_upgrade_is_immediate_and_prorated(world, fake, billing, site):
    subscribe(world, billing, site)
    sid = billing.row(site)["subscription_id"]
    message = subscribe(world, billing, site, "agency")
    assert "now" in message
    update = [form for method, path, form in fake.calls if path == f"/v1/subscriptions/{sid}" and method == "POST"][-1]
    assert update["items[0][price]"] == "price_agency" and update["proration_behavior"] == "create_prorations"
    assert world.services.db.registry.get(site.slug).plan == "agency"


def test_downgrade_waits_for_the_end_of_the_period(world, fake, billing, site):
    subscribe(world, billing, site, "agency")
    sid = billing.row(site)["subscription_id"]
    message = subscribe(world, billing, site, "business")
    update = [form for method, path, form in fake.calls if path == f"/v1/subscriptions/{sid}" and method == "POST"][-1]
    assert update["items[0][price]"] == "price_business" and update["proration_behavior"] == "none"
    row = billing.row(site)
    assert world.services.db.registry.get(site.slug).plan == "agency"  # still, until the period ends
    assert row["pending_plan"] == "business" and "moves to Business on" in message
    assert billing.status(site)["pending_title"] == "Business"
    # The period ends and Stripe renews it; the next event (or the sweep) applies the move.
    ended = datetime.fromisoformat(row["current_period_end"])
    billing.clock = lambda: ended + timedelta(minutes=1)
    fake.set(sid, status="active", current_period_end=int((ended + timedelta(days=30)).timestamp()))
    billing.sweep()
    assert world.services.db.registry.get(site.slug).plan == "business"
    assert billing.row(site)["pending_plan"] is None
    assert plan_changes(world, site)[-1][:2] == ("agency", "business")
    assert plan_changes(world, site)[-1][2].startswith("billing")


def test_to_a_free_plan_cancels_at_period_end_then_moves(world, fake, billing, site):
    subscribe(world, billing, site)
    sid = billing.row(site)["subscription_id"]
    subscribe(world, billing, site, "starter")
    assert fake.subscriptions[sid]["cancel_at_period_end"] is True
    assert billing.row(site)["pending_plan"] == "starter"
    assert world.services.db.registry.get(site.slug).plan == "business"
    deleted = event("customer.subscription.deleted", fake.set(sid, status="canceled"))
    hook(world, deleted, sign(deleted))
    assert world.services.db.registry.get(site.slug).plan == "starter"
    assert billing.row(site)["state"] == "canceled"
    assert plan_changes(world, site)[-1] == ("business", "starter", "billing: the subscription ended")


def test_stripe_down_refuses_the_change_and_changes_nothing(world, fake, billing, site):
    fake.down = True
    try:
        with pytest.raises(BillingUnavailable, match="nothing was changed"):
            subscribe(world, billing, site)
    finally:
        fake.down = False
    assert world.services.db.registry.get(site.slug).plan == "starter"
    assert billing.row(site) is None and plan_changes(world, site) == []
    subscribe(world, billing, site)
    fake.down = True
    try:
        with pytest.raises(BillingUnavailable):
            subscribe(world, billing, site, "agency")
    finally:
        fake.down = False
    assert world.services.db.registry.get(site.slug).plan == "business"


def test_an_event_stripe_could_not_be_asked_about_is_applied_when_it_comes_again(world, fake, billing, site):
    subscribe(world, billing, site)
    sub = fake.set(billing.row(site)["subscription_id"], status="active")
    paid = event("invoice.paid", sub)
    fake.down = True
    try:
        assert hook(world, paid, sign(paid)).status_code == 409  # Stripe will send it again
    finally:
        fake.down = False
    again = hook(world, paid, sign(paid))
    assert again.json()["duplicate"] is False and billing.row(site)["state"] == "active"


def test_billing_off_the_webhook_is_404(world):
    from dataclasses import replace

    on = world.services.config
    world.services.config = replace(on, billing_webhook_secret=None)
    try:
        payload = json.dumps({"id": "evt_off", "type": "invoice.paid"}).encode()
        response = hook(world, payload, sign(payload))
    finally:
        world.services.config = on
    assert response.status_code == 404 and response.json()["error"]["code"] == "billing_off"
