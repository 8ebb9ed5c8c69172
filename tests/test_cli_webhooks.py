"""`tessera webhooks add|list|test|remove` against a real tenant and a real loopback receiver."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from commerce_api.notify import webhooks
from tessera.cli import main
from tests.notify.receiver import Receiver


@pytest.fixture(name="run")
def fx_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TESSERA_WEBHOOK_ALLOW", "127.0.0.0/8")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert run("tenant", "create", "acme", "--name", "Acme", "--features", "cms").exit_code == 0
    return run


@pytest.fixture(name="hook")
def fx_hook():
    receiver = Receiver([200])
    yield receiver
    receiver.close()


def test_add_list_test_and_remove(run, hook):
    added = run("webhooks", "add", "acme", hook.url, "--event", "order.paid", "--event", "form.submitted",
                "--description", "crm")
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and "not shown again" in added.output

    listed = run("webhooks", "list", "acme", "--json")
    [endpoint] = json.loads(listed.output)
    assert endpoint["url"] == hook.url and endpoint["events"] == ["order.paid", "form.submitted"]
    assert secret not in listed.output and secret not in run("webhooks", "list", "acme").output

    tested = run("webhooks", "test", "acme", str(endpoint["id"]))
    assert tested.exit_code == 0, tested.output
    assert "answered 200" in tested.output
    request = hook.requests[-1]
    assert webhooks.verify(secret, request["headers"]["Tessera-Signature"], request["body"])

    assert run("webhooks", "remove", "acme", str(endpoint["id"])).exit_code == 0
    assert json.loads(run("webhooks", "list", "acme", "--json").output) == []
    gone = run("webhooks", "remove", "acme", str(endpoint["id"]))
    assert gone.exit_code == 1 and "no webhook endpoint" in gone.output


def test_refusals_are_messages_not_tracebacks(run):
    private = run("webhooks", "add", "acme", "https://192.168.1.10/hook", "--event", "order.paid")
    assert private.exit_code == 1 and "url: 192.168.1.10 is a private" in private.output
    unknown = run("webhooks", "add", "acme", "https://hooks.example.com/x", "--event", "order.lost")
    assert unknown.exit_code == 1 and "unknown event 'order.lost'" in unknown.output
    assert "Missing option '--event'" in run("webhooks", "add", "acme", "https://hooks.example.com/x").output
    hook = run("webhooks", "add", "acme", "http://127.0.0.1:9/closed", "--event", "*")
    number = json.loads(run("webhooks", "list", "acme", "--json").output)[0]["id"]
    failed = run("webhooks", "test", "acme", str(number))
    assert hook.exit_code == 0 and failed.exit_code == 1 and "not delivered" in failed.output
    assert "could not reach 127.0.0.1" in failed.output
