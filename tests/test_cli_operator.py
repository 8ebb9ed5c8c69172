"""The operator's tenant commands: a suspension with a reason, and deletion with an export first that
`tessera import` restores (and no deletion when the export fails)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from tessera.cli import main


@pytest.fixture(name="run")
def fx_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return run


def _audit(tmp_path) -> list[tuple[str, dict]]:
    conn = sqlite3.connect(tmp_path / "data" / "platform.db")
    try:
        return [(e, json.loads(d)) for e, d in conn.execute("SELECT event, detail FROM audit_log ORDER BY id")]
    finally:
        conn.close()


def test_suspend_with_a_reason(run, tmp_path):
    run("tenant", "create", "acme", "--name", "Acme")
    result = run("tenant", "suspend", "acme", "--reason", "Invoice 42 unpaid")
    assert result.exit_code == 0 and "Invoice 42 unpaid" in result.output
    show = run("tenant", "show", "acme", "--json").output
    assert json.loads(show)["suspension"].startswith("Invoice 42 unpaid (by operator")
    assert ("tenant.suspended", {"reason": "Invoice 42 unpaid", "via": "cli"}) in _audit(tmp_path)
    run("tenant", "resume", "acme")
    assert "suspension" not in json.loads(run("tenant", "show", "acme", "--json").output)


def test_suspend_has_a_default_reason_and_refuses_a_bad_one(run):
    run("tenant", "create", "acme", "--name", "Acme")
    bad = run("tenant", "suspend", "acme", "--reason", "x" * 501)
    assert bad.exit_code == 1 and "reason" in bad.output and "500" in bad.output
    assert json.loads(run("tenant", "show", "acme", "--json").output)["status"] == "active"
    assert run("tenant", "suspend", "acme").exit_code == 0
    assert "Suspended by the platform's operator" in run("tenant", "show", "acme").output


def test_delete_with_an_export_first_then_import_restores(run, tmp_path):
    run("tenant", "create", "acme", "--name", "Acme Bakery", "--features", "cms,ecommerce", "--from", "bakery")
    archive = tmp_path / "acme.tar.gz"
    result = run("tenant", "delete", "acme", "--export", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    assert archive.stat().st_size > 0
    assert not (tmp_path / "data" / "tenants" / "acme").exists()
    events = [e for e, _ in _audit(tmp_path)]
    assert events[-2:] == ["tenant.exported", "tenant.deleted"]
    assert run("import", str(archive)).exit_code == 0
    assert "Acme Bakery" in run("tenant", "show", "acme").output
    assert run("check", "acme").exit_code == 0


def test_delete_refuses_when_the_export_fails(run, tmp_path):
    run("tenant", "create", "acme", "--name", "Acme")
    result = run("tenant", "delete", "acme", "--export", str(tmp_path / "missing" / "dir" / "a.tar.gz"), "--yes")
    assert result.exit_code == 1 and "was not deleted" in result.output
    assert (tmp_path / "data" / "tenants" / "acme").exists()
    assert "tenant.deleted" not in [e for e, _ in _audit(tmp_path)]


def test_delete_asks_for_confirmation(run, tmp_path):
    run("tenant", "create", "acme", "--name", "Acme")
    assert run("tenant", "delete", "acme", "--export", str(tmp_path / "a.tar.gz"), input="n\n").exit_code == 1
    assert (tmp_path / "data" / "tenants" / "acme").exists() and not (tmp_path / "a.tar.gz").exists()
