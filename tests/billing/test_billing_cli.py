"""`tessera billing sweep|status`, `tessera tenant update --plan` with billing on, and the daily
billing.sweep job."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from commerce_api.billing import changes
from publish.jobs import Queue
from tessera.app import BILLING_SWEEP, PLATFORM_JOBS, run_job, schedule_billing_sweep
from tessera.cli import main
from tessera.settings import Settings
from tests.billing.conftest import SECRET_KEY, WEBHOOK_SECRET


def env(world, fake, **extra) -> dict[str, str]:
    return {"TESSERA_DATA_DIR": str(world.services.config.data_dir), "TESSERA_SECRET_KEY": "s" * 48,
            "TESSERA_BILLING_STRIPE_KEY": SECRET_KEY, "TESSERA_BILLING_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TESSERA_STRIPE_API_BASE": fake.url, **extra}


def test_plan_change_from_the_cli_goes_through_stripe(world, fake, billing, site):
    result = CliRunner().invoke(main, ["tenant", "update", site.slug, "--plan", "business", "--note", "asked by mail"],
                                env=env(world, fake))
    assert result.exit_code == 0, result.output
    assert "14-day trial" in result.output
    assert billing.row(site)["state"] == "trialing"
    status = CliRunner().invoke(main, ["billing", "status", site.slug, "--json"], env=env(world, fake))
    assert status.exit_code == 0, status.output
    [row] = json.loads(status.output)
    assert (row["plan"], row["state"], row["site"]) == ("business", "trialing", "trial")


def test_cli_plan_change_refused_when_stripe_is_down(world, fake, site):
    fake.down = True
    try:
        result = CliRunner().invoke(main, ["tenant", "update", site.slug, "--plan", "business"], env=env(world, fake))
    finally:
        fake.down = False
    assert result.exit_code == 1 and "nothing was changed" in result.output and "Traceback" not in result.output
    assert world.services.db.registry.get(site.slug).plan == "starter"


def test_billing_commands_say_billing_is_off(world, fake):
    result = CliRunner().invoke(main, ["billing", "sweep"], env=env(world, fake, TESSERA_BILLING_STRIPE_KEY=""))
    assert result.exit_code == 1 and "billing is off" in result.output


def test_the_sweep_job_runs_and_queues_the_next_day(world, fake, billing, site):
    changes.change_plan(billing, site.slug, "business", owner_email=f"owner@{site.slug}.test", actor=None)
    fake.set(billing.row(site)["subscription_id"], status="past_due")
    settings = Settings.from_env(env(world, fake))
    queue = Queue(settings.data_dir / "platform.db")
    schedule_billing_sweep(settings, queue)
    job = queue.claim()
    while job is not None and job.kind != BILLING_SWEEP:  # other tests' jobs, if any
        queue.finish(job, True, "")
        job = queue.claim()
    assert job is not None and job.tenant == PLATFORM_JOBS
    log = run_job(settings, job)
    assert f"{site.slug}: past_due" in log
    queue.finish(job, True, log)
    waiting = queue.conn.execute("SELECT run_after FROM jobs WHERE kind = ? AND status = 'queued'",
                                 (BILLING_SWEEP,)).fetchall()
    assert len(waiting) == 1
    assert datetime.fromisoformat(waiting[0][0]) > datetime.now(timezone.utc) + timedelta(hours=23)


def test_sweep_cli(world, fake, billing, site):
    changes.change_plan(billing, site.slug, "business", owner_email=f"owner@{site.slug}.test", actor=None)
    fake.set(billing.row(site)["subscription_id"], status="past_due")
    result = CliRunner().invoke(main, ["billing", "sweep"], env=env(world, fake))
    assert result.exit_code == 0, result.output
    assert f"{site.slug}: past_due" in result.output
