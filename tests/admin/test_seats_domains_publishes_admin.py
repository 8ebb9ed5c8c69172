"""Staff seats, custom domains and publishes a day on the demo, over real HTTP and through the CLI on
the same installation: past the limit an invitation, a role, a domain or a publish is refused naming
the limit and the plan that lifts it, and nothing of it is written. The bakery is moved to the Starter
plan, whose three seats its three staff fill; other limits are set small through the site's own
overrides."""

from __future__ import annotations

import html
import re
import sqlite3
from datetime import datetime, timezone

import httpx
import pytest
from click.testing import CliRunner

from content import plans
from content.registry import Registry
from publish.jobs import Queue
from tessera.app import next_day
from tessera.cli import main


@pytest.fixture(name="registry")
def fx_registry(site):
    registry = Registry(site["data"] / "platform.db")
    demo_plan = registry.get("bakery").plan
    registry.update("bakery", plan="starter")  # these tests count on Starter's limits, not the demo's plan
    yield registry
    plans.set_overrides(registry, "bakery", {}, actor=None)
    registry.update("bakery", plan=demo_plan)
    registry.close()


@pytest.fixture(name="cli")
def fx_cli(site, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(site["data"]))
    monkeypatch.setenv("TESSERA_PORT", str(site["port"]))

    def run(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


def said(response: httpx.Response, key: str = "error") -> str:
    return " ".join(html.unescape(httpx.URL(response.headers["location"]).params.get(key, "")).split())


def test_staff_seats_hold_in_invitations_roles_the_cli_and_acceptance(admin, registry, cli, mailbox):
    owner = admin()
    full = owner.post("/users/invite", {"email": "fourth@example.test", "role": "editor"})
    assert full.status_code == 303
    assert ("Your Starter plan allows 3 staff seats; the site has 3, and this would make 4. Business allows 10 "
            "staff seats") in said(full)
    assert "fourth@example.test" not in owner.get("/users").text and not [
        m for m in mailbox.messages if m["To"] == "fourth@example.test"]

    plans.set_overrides(registry, "bakery", {"staff_seats": 4}, actor=None)
    sent = owner.post("/users/invite", {"email": "fourth@example.test", "role": "editor"})
    assert "Invitation sent" in said(sent, "saved")
    # The open invitation holds the last seat: a second one is refused.
    second = owner.post("/users/invite", {"email": "fifth@example.test", "role": "editor"})
    assert "This site's limit is 4 staff seats" in said(second) and "the site has 4" in said(second)

    # Meanwhile the operator gives the last seat away from the CLI; one more is refused there too.
    assert cli("user", "grant", "owner@studio.test", "bakery", "editor").exit_code == 0
    refused = cli("user", "grant", "admin@tessera.test", "bakery", "editor")
    assert refused.exit_code == 1 and "This site's limit is 4 staff seats" in " ".join(refused.output.split())

    # The invitation can no longer be accepted: no account is made, the invitation stays open.
    [mail] = [m for m in mailbox.messages if m["To"] == "fourth@example.test"]
    link = re.search(r"/sites/bakery/invite\?token=(\S+)", mail.get_payload(decode=True).decode())
    guest = admin("bakery", "")
    accepted = guest.http.post("/invite/accept", data={"token": link.group(1), "name": "Fourth",
                                                       "password": "a long enough password"})
    assert accepted.status_code == 403 and "tessera_session" not in accepted.headers.get("set-cookie", "")
    assert "cannot be accepted now" in accepted.text and "4 staff seats" in html.unescape(accepted.text)
    assert guest.http.get(f"/invite?token={link.group(1)}").status_code == 200  # still open
    members = owner.get("/users").text
    assert "fourth@example.test" in members  # listed as waiting, not as a member
    assert cli("user", "revoke", "owner@studio.test", "bakery").exit_code == 0


def test_custom_domains_hold_in_the_admin_and_the_cli(admin, registry, cli):
    owner = admin()
    assert registry.domains("bakery") == []
    first = owner.post("/settings/domains", {"action": "add", "domain": "one.rye.example"})
    assert "Added one.rye.example" in said(first, "saved")
    second = owner.post("/settings/domains", {"action": "add", "domain": "two.rye.example"})
    assert ("Your Starter plan allows 1 custom domain; the site has 1, and this would make 2. Business allows 5 "
            "custom domains") in said(second)
    by_cli = cli("domain", "add", "bakery", "two.rye.example")
    assert by_cli.exit_code == 1 and "allows 1 custom domain" in " ".join(by_cli.output.split())
    assert [d.name for d in registry.domains("bakery")] == ["one.rye.example"]
    # Removing passes, and then there is room again.
    owner.post("/settings/domains", {"action": "remove", "domain": "one.rye.example"})
    assert cli("domain", "add", "bakery", "two.rye.example").exit_code == 0
    owner.post("/settings/domains", {"action": "remove", "domain": "two.rye.example"})
    assert registry.domains("bakery") == []


def test_publishes_a_day_hold_in_the_admin_the_cli_and_scheduled_publishes(admin, registry, cli, site):
    owner = admin()
    tenant_db = sqlite3.connect(site["data"] / "tenants" / "bakery" / "tenant.db")
    today = plans.publishes_today(tenant_db)
    plans.set_overrides(registry, "bakery", {"publishes_per_day": today}, actor=None)
    queue = Queue(site["data"] / "platform.db")
    jobs = len(queue.list("bakery", limit=1000))

    refused = owner.post("/publish")
    assert f"This site's limit is {plans.amount('publishes_per_day', today)}" in said(refused)
    assert "publish again tomorrow" in said(refused)
    assert len(queue.list("bakery", limit=1000)) == jobs

    by_cli = cli("publish", "bakery")
    assert by_cli.exit_code == 1 and f"limit is {plans.amount('publishes_per_day', today)}" in " ".join(by_cli.output.split())

    # A scheduled publish that comes due past the limit is skipped, and its job says why.
    queue.conn.execute("DELETE FROM jobs WHERE tenant = 'bakery' AND status = 'queued'")  # the site's own schedule
    queue.conn.commit()
    job = queue.enqueue("bakery", actor="schedule")
    done = owner.wait_for_job(f"job {job.id}")
    assert done["status"] == "failed" and f"limit is {plans.amount('publishes_per_day', today)}" in done["log"]
    assert plans.publishes_today(tenant_db) == today
    # ... and comes back just after midnight UTC, so the scheduled content still goes live.
    retry = next_day("bakery")
    assert f"The scheduled publish runs again on {retry.strftime('%-d %b %Y, %H:%M UTC')}" in done["log"]
    again = [j for j in queue.list("bakery", limit=1000) if j.status == "queued" and j.actor == "schedule"]
    assert [j.run_after for j in again] == [retry.isoformat(timespec="seconds")]
    assert retry.hour == 0 and retry.minute < 10 and retry > datetime.now(timezone.utc)
    queue.conn.execute("DELETE FROM jobs WHERE id = ?", (again[0].id,))
    queue.conn.commit()

    plans.set_overrides(registry, "bakery", {"publishes_per_day": today + 1}, actor=None)
    assert owner.publish()["status"] == "done"
    assert plans.publishes_today(tenant_db) == today + 1
    tenant_db.close()
