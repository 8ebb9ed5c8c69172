"""Who hears of what, the job lanes, and a failed publish reaching the site's staff."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from commerce_api.notify import outbox
from commerce_api.notify.recipients import shopper_template, staff_rule
from publish.jobs import Queue


def event(kind: str, provider: str = "manual", payment_status: str = "pending") -> outbox.Event:
    order = {"number": 1001, "email": "a@example.test", "provider": provider, "payment_status": payment_status}
    return outbox.Event(1, kind, "1001", {"order": order}, "2026-11-30T10:00:00+00:00")


@pytest.mark.parametrize("kind, provider, payment, shopper, staff", [
    ("order.placed", "manual", "pending", "order_confirmation", "staff_new_order"),
    ("order.placed", "stripe", "pending", None, None),  # still at the card form: not an order yet to anyone
    ("order.paid", "stripe", "paid", "order_confirmation", "staff_new_order"),
    ("order.paid", "manual", "paid", "order_paid", None),
    ("order.shipped", "stripe", "paid", "order_shipped", None),
    ("order.delivered", "manual", "paid", None, None),
    ("order.cancelled", "stripe", "expired", None, None),  # an abandoned card payment: nobody was told of it
    ("order.cancelled", "manual", "cancelled", "order_cancelled", None),
    ("order.cancelled", "stripe", "paid", "order_cancelled", None),
    ("order.refunded", "stripe", "refunded", "order_refunded", None),
])
def test_which_email_each_order_event_sends(kind, provider, payment, shopper, staff):
    assert shopper_template(event(kind, provider, payment)) == shopper
    rule = staff_rule(event(kind, provider, payment))
    assert (rule.template if rule else None) == staff


def test_notify_jobs_do_not_wait_behind_a_running_publish(tmp_path):
    queue = Queue(tmp_path / "platform.db")
    publish = queue.enqueue("alpha", actor="t")
    assert queue.claim().id == publish.id  # the publish is running ...
    queue.enqueue("alpha", actor="t")  # ... a second publish waits for it,
    notify = queue.enqueue("alpha", "notify", actor="system")
    assert queue.claim().id == notify.id  # ... but the notify job runs beside it,
    assert queue.claim() is None  # ... and only one of each lane per tenant at a time.
    assert [j.kind for j in queue.list("alpha")] == ["publish", "publish"]  # the publishing page's list
    assert [j.kind for j in queue.list("alpha", notify=True)] == ["notify"]


def test_a_later_retry_is_queued_for_its_moment(tmp_path):
    queue = Queue(tmp_path / "platform.db")
    later = datetime.now(timezone.utc) + timedelta(minutes=2)
    job = queue.enqueue("alpha", "notify", actor="system", run_after=later)
    assert queue.claim() is None
    assert datetime.fromisoformat(job.run_after) >= later.replace(microsecond=0)


def test_a_failed_publish_records_an_event_for_the_sites_staff(tmp_path, monkeypatch):
    from content.migrations import connect
    from content.registry import parse_features
    from content.schema import TENANT
    from content.tenants import Tenants
    from tessera.app import run_job
    from tessera.settings import ROOT, Settings

    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)})
    tenants = Tenants(tmp_path, ROOT / "sites")
    tenants.create("gamma", "Gamma", parse_features("cms"), starter="studio")
    tenants.close()
    queue = Queue(tmp_path / "platform.db")
    queue.enqueue("gamma", actor="someone@example.test")
    job = queue.claim()

    def broken(*args, **kwargs):
        from publish.errors import PublishError
        raise PublishError("posts/hello.md line 3: published_at is not a date")

    monkeypatch.setattr("tessera.sites.publish_tenant", broken)
    with pytest.raises(Exception):
        run_job(settings, job)
    conn = connect(tmp_path / "tenants" / "gamma" / "tenant.db", TENANT)
    try:
        [failed] = [e for e in outbox.new_events(conn) if e.kind == "publish.failed"]
        assert "published_at is not a date" in failed.data["publish"]["message"]
    finally:
        conn.close()
    assert any(j.kind == "notify" and j.status == "queued" for j in queue.list("gamma", notify=True))


def test_a_restarted_server_queues_the_outboxes_a_stopped_one_left(tmp_path):
    """The server died after an order committed and before its notify job was queued: at start the
    runner finds the event and queues the job, and a site with nothing waiting gets none."""
    from content.migrations import connect
    from content.registry import parse_features
    from content.schema import TENANT
    from content.tenants import Tenants
    from tessera.app import sweep_outboxes
    from tessera.settings import ROOT, Settings

    tenants = Tenants(tmp_path, ROOT / "sites")
    for slug in ("alpha", "beta"):
        tenants.create(slug, slug.title(), parse_features("cms"), starter="studio")
    tenants.close()
    conn = connect(tmp_path / "tenants" / "alpha" / "tenant.db", TENANT)
    with conn:
        outbox.record(conn, "publish.failed", {"publish": {"job": 1, "actor": "x", "message": "failed"}})
    conn.close()
    queue = Queue(tmp_path / "platform.db")
    sweep_outboxes(Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)}), queue)
    assert [(j.tenant, j.kind) for j in queue.list(notify=True)] == [("alpha", "notify")]


def test_each_lane_has_workers_of_its_own(tmp_path):
    """A long publish (or two) never holds up another site's emails, nor the reverse."""
    import threading

    queue = Queue(tmp_path / "platform.db")
    release = threading.Event()
    ran: list[str] = []

    def execute(job):
        ran.append(f"{job.kind}:{job.tenant}")
        if job.kind == "publish":
            release.wait(10)  # both publishing workers busy
        return "ok"

    from publish.jobs import Runner

    finished = threading.Event()
    runner = Runner(queue, execute, workers=2, poll=0.05,
                    on_finish=lambda job: finished.set() if job.kind == "notify" else None)
    queue.enqueue("alpha", actor="t")
    queue.enqueue("beta", actor="t")
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while len(ran) < 2 and time.monotonic() < deadline:  # both publishing workers are busy ...
            time.sleep(0.01)
        queue.enqueue("gamma", "notify", actor="system")
        assert finished.wait(5), ran  # ... and the notify job still runs
        assert sorted(ran[:2]) == ["publish:alpha", "publish:beta"] and ran[2:] == ["notify:gamma"]
    finally:
        release.set()
        runner.stop()
