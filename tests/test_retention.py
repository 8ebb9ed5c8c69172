"""Retention: what has stopped mattering is pruned after its days, what still matters never is, and
the settings say it plainly."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from content.migrations import connect, platform_location
from content.retention import Retention
from content.tenants import Tenants
from tessera.cli import main
from tessera.housekeeping import Housekeeper, prune_all
from tessera.settings import ROOT, Settings, SettingsError

# Platform state on both engines: SQLite's platform.db and PostgreSQL.
pytestmark = pytest.mark.usefixtures("platform_engine")

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def iso(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")


@pytest.fixture(name="data")
def fx_data(tmp_path):
    tenants = Tenants(tmp_path, ROOT / "sites")
    tenant = tenants.create("bakery", "Bakery", frozenset({"cms"}), starter=None)
    platform = connect(platform_location(tmp_path))
    user = platform.execute("INSERT INTO users (email, password_hash, created_at, password_changed_at) "
                            "VALUES ('a@b.test', 'x', ?, ?)",
                            (iso(400), iso(400))).lastrowid
    for status, finished in (("done", 40), ("failed", 40), ("done", 1), ("queued", None), ("running", None)):
        platform.execute("INSERT INTO jobs (tenant, kind, status, actor, run_after, created_at, finished_at) "
                         "VALUES ('bakery', 'publish', ?, 'test', ?, ?, ?)",
                         (status, iso(50), iso(50), iso(finished) if finished else None))
    for n, expires in enumerate((40, -1)):
        platform.execute("INSERT INTO sessions (user_id, tenant_id, token_hash, csrf_token, created_at, expires_at) "
                         "VALUES (?, ?, ?, 'c', ?, ?)", (user, tenant.id, f"s{n}", iso(60), iso(expires)))
        platform.execute("INSERT INTO handoffs (user_id, tenant_id, code_hash, expires_at) VALUES (?, ?, ?, ?)",
                         (user, tenant.id, f"h{n}", iso(expires)))
    for n, at in enumerate((800, 10)):
        platform.execute("INSERT INTO audit_log (at, event, detail) VALUES (?, 'login', '{}')", (iso(at),))
    platform.execute("INSERT INTO login_known (account, address, at) VALUES ('a', '1.2.3.4', ?)",
                     ((NOW - timedelta(days=31)).timestamp(),))
    platform.commit()
    conn = tenants.open_db("bakery")
    with conn:
        for n, (created, status) in enumerate(((100, "sent"), (100, "pending"), (10, "sent"))):
            event = conn.execute("INSERT INTO events (kind, data, created_at, expanded_at) VALUES ('order.paid', '{}', ?, ?)",
                                 (iso(created), iso(created))).lastrowid
            delivery = conn.execute("INSERT INTO deliveries (event_id, channel, recipient, status, next_attempt_at, created_at) "
                                    "VALUES (?, 'email', 'x@y.test', ?, ?, ?)", (event, status, iso(created), iso(created))).lastrowid
            conn.execute("INSERT INTO delivery_attempts (delivery_id, at, ok, duration_ms) VALUES (?, ?, 1, 5)",
                         (delivery, iso(created)))
        for n, (received, processed) in enumerate(((100, True), (100, False), (5, True))):
            conn.execute("INSERT INTO payment_events (event_id, type, payload, received_at, processed_at) "
                         "VALUES (?, 'checkout.session.completed', '{}', ?, ?)",
                         (f"evt_{n}", iso(received), iso(received) if processed else None))
    conn.close()
    platform.close()
    tenants.close()
    return tmp_path


def settings_for(data, retention: str = "") -> Settings:
    return Settings.from_env({"TESSERA_DATA_DIR": str(data), "TESSERA_RETENTION": retention})


def test_what_stopped_mattering_goes_and_the_rest_stays(data):
    deleted = prune_all(settings_for(data), now=NOW)
    assert deleted["jobs"] == 2 and deleted["sessions"] == 1 and deleted["handoffs"] == 1
    assert deleted["audit_log"] == 1 and deleted["login_known"] == 1
    assert deleted["events"] == 1 and deleted["deliveries"] == 1 and deleted["delivery_attempts"] == 1
    assert deleted["payment_events"] == 1
    platform = connect(platform_location(data))
    assert sorted(r[0] for r in platform.execute("SELECT status FROM jobs")) == ["done", "queued", "running"]
    assert platform.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    conn = sqlite3.connect(data / "tenants" / "bakery" / "tenant.db")
    # An old event whose delivery can still be sent is kept, with its delivery.
    assert sorted(r[0] for r in conn.execute("SELECT status FROM deliveries")) == ["pending", "sent"]
    assert sorted(r[0] for r in conn.execute("SELECT event_id FROM payment_events")) == ["evt_1", "evt_2"]
    assert prune_all(settings_for(data), now=NOW) == {k: 0 for k in deleted}  # nothing left to prune


def test_the_settings_choose_the_days(data):
    deleted = prune_all(settings_for(data, "jobs=60,audit=3000"), now=NOW)
    assert deleted["jobs"] == 0 and deleted["audit_log"] == 0 and deleted["sessions"] == 1


@pytest.mark.parametrize("value,message", [
    ("logs=3", "'logs' is not something kept for a while; choose from jobs, sessions, outbox, payments, audit"),
    ("jobs=0", "jobs: write a number of days from 1 to 36500, not '0'"),
    ("jobs=ten", "jobs: write a number of days from 1 to 36500, not 'ten'"),
    ("outbox=900", "the audit log is kept longest: audit=730 is shorter than 900 days kept elsewhere"),
])
def test_a_bad_retention_setting_is_refused_naming_it(tmp_path, value, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_RETENTION": value})
    assert str(refused.value) == f"TESSERA_RETENTION: {message}"


def test_defaults():
    assert Retention.parse("") == Retention(jobs=30, sessions=30, outbox=90, payments=90, audit=730)


def test_the_command_prunes_and_says_what(data, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(data))
    result = CliRunner().invoke(main, ["prune"])
    assert result.exit_code == 0, result.output
    assert "pruned" in result.output and "finished jobs 30 days" in result.output


def test_the_server_prunes_on_its_own(data):
    keeper = Housekeeper(settings_for(data, "jobs=1"), every=3600, first_after=0.01)
    keeper.start()
    try:
        platform = connect(platform_location(data))
        deadline = time.monotonic() + 10
        while platform.execute("SELECT count(*) FROM jobs WHERE status IN ('done', 'failed')").fetchone()[0] > 1 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert platform.execute("SELECT count(*) FROM jobs WHERE status IN ('done', 'failed')").fetchone()[0] <= 1
    finally:
        keeper.stop()
