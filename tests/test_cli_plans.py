"""The CLI holds new tenants to their plan's limits, and records plan changes like the admin does."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from content import plans
from content.registry import Registry
from tessera.cli import main


@pytest.fixture(name="run")
def fx_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


def _tighten(data, **limits) -> None:
    registry = Registry(data / "platform.db")
    starter = plans.get_plan(registry, "starter")
    plans.update_plan(registry, "starter", title=starter.title, features=starter.features,
                      limits={**starter.limits, **limits}, actor=None)
    registry.close()


@pytest.mark.parametrize("limit,allowed,named", [
    ("products", 10, "allows 10 products; the site has 0, and this would make 11"),  # sites/bakery has 11
    ("pages_and_posts", 6, "allows 6 pages and posts; the site has 0, and this would make 7"),
])
def test_a_starter_site_larger_than_its_plan_is_refused_and_nothing_is_created(run, tmp_path, limit, allowed, named):
    data = tmp_path / "data"
    run("tenant", "list")  # the data directory and its platform.db
    _tighten(data, **{limit: allowed})
    result = run("tenant", "create", "acme", "--name", "Acme", "--features", "cms,ecommerce", "--from", "bakery")
    assert result.exit_code == 1 and named in result.output and "Business allows" in result.output
    assert "Traceback" not in result.output
    assert not (data / "tenants" / "acme").exists() and not [p for p in (data / "tenants").iterdir()]
    assert Registry(data / "platform.db").find("acme") is None
    fits = run("tenant", "create", "acme", "--name", "Acme", "--features", "cms,ecommerce", "--from", "bakery",
               "--plan", "business")
    assert fits.exit_code == 0, fits.output


def test_a_plan_change_on_the_command_line_is_in_the_history_and_the_audit_log(run, tmp_path):
    run("tenant", "create", "acme", "--name", "Acme")
    result = run("tenant", "update", "acme", "--plan", "business", "--note", "Signed the yearly contract")
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(tmp_path / "data" / "platform.db")
    assert conn.execute("SELECT from_plan, to_plan, note FROM plan_changes").fetchall() == [
        ("starter", "business", "Signed the yearly contract")]
    detail = conn.execute("SELECT detail FROM audit_log WHERE event = 'plan.changed'").fetchone()[0]
    assert json.loads(detail) == {"from": "starter", "to": "business", "note": "Signed the yearly contract", "via": "cli"}
