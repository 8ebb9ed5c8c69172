from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from commerce_api.shop.orders import Orders
from content.gitrepo import Author
from content.tenants import Tenants
from tessera.cli import main
from tessera.settings import ROOT


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


main.list_commands(click.Context(main))  # commands load lazily: load them all to test every one
COMMANDS = list(all_commands(main))
assert len(COMMANDS) > 40


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path, command):
    assert command.help and len(command.help.strip()) > 10, f"{' '.join(path)} has no help text"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


@pytest.fixture(name="run")
def fx_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return run


def test_create_then_delete_leaves_nothing(run, tmp_path):
    data = tmp_path / "data"
    result = run("tenant", "create", "acme", "--name", "Acme Bakery", "--features", "cms,ecommerce", "--from", "bakery")
    assert result.exit_code == 0, result.output
    assert "acme" in run("tenant", "list").output
    show = run("tenant", "show", "acme").output
    assert "cms, ecommerce" in show and "http://acme.localhost:8000/" in show
    assert run("check", "acme").exit_code == 0
    assert (data / "tenants" / "acme" / "repo.git").is_dir()

    assert run("tenant", "delete", "acme", input="n\n").exit_code == 1  # declined: still there
    assert (data / "tenants" / "acme").exists()
    from publish.jobs import Queue
    Queue(data / "platform.db").enqueue("acme", actor="schedule")  # a publish still waiting goes with the tenant
    assert run("tenant", "delete", "acme", "--yes").exit_code == 0
    assert list((data / "tenants").iterdir()) == []
    import sqlite3
    conn = sqlite3.connect(data / "platform.db")
    assert conn.execute("SELECT count(*) FROM tenants").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM jobs WHERE tenant = 'acme' AND status = 'queued'").fetchone()[0] == 0


def test_update_suspend_resume(run):
    run("tenant", "create", "acme", "--name", "Acme")
    assert "Updated" in run("tenant", "update", "acme", "--name", "Acme Ltd", "--features", "cms,analytics").output
    run("tenant", "suspend", "acme")
    assert "suspended" in run("tenant", "show", "acme").output
    run("tenant", "resume", "acme")
    assert "active" in run("tenant", "show", "acme").output
    import os
    import sqlite3
    conn = sqlite3.connect(os.path.join(os.environ["TESSERA_DATA_DIR"], "platform.db"))
    events = [r[0] for r in conn.execute("SELECT event FROM audit_log ORDER BY id")]
    assert events == ["tenant.created", "tenant.updated", "tenant.suspended", "tenant.resumed"]


@pytest.mark.parametrize("args,message", [
    (("tenant", "create", "admin", "--name", "X"), "'admin' is reserved"),
    (("tenant", "create", "acme", "--name", "X", "--features", "cms,shop"), "unknown feature 'shop'"),
    (("tenant", "create", "acme", "--name", "X", "--from", "nope"), "no starter site called 'nope'"),
    (("tenant", "show", "ghost"), "no tenant called 'ghost'"),
    (("tenant", "create", "acme", "--name", "Acme\x00"), "name: the name contains the control character U+0000"),
    (("tenant", "create", "acme", "--name", "x" * 100_000), "name: a tenant's name has at most 100 characters"),
    (("tenant", "create", "acme", "--name", "  "), "name: a tenant needs a name"),
    (("check",), "give either TENANT or --source DIR"),
])
def test_bad_input_is_one_clear_message(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_check_source_prints_every_error(tmp_path):
    site = tmp_path / "site"
    (site / "products").mkdir(parents=True)
    (site / "site.yaml").write_text("name: S\n")
    (site / "products" / "a.md").write_text('---\nname: A\nsku: A\nprice: "12,50"\n---\n')
    (site / "products" / "b.md").write_text("---\nname: B\nsku: A\nprice: \"1.00\"\n---\n")
    proc = subprocess.run([sys.executable, "-m", "tessera.cli", "check", "--source", str(site)],
                          capture_output=True, text=True, env={"TESSERA_DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert 'products/a.md:4: price: "12,50" is not a decimal price' in proc.stderr
    assert "products/b.md: sku: 'A' is also used by products/a.md" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_twice_is_harmless(run):
    first = run("demo", "--no-serve")
    assert first.exit_code == 0, first.output
    assert "Created demo tenant bakery" in first.output
    second = run("demo", "--no-serve")
    assert second.exit_code == 0
    assert "Created demo tenant" not in second.output and "owner@bakery.test" in second.output
    assert "bakery is already live" in second.output  # a second run never republishes over a rollback
    listing = run("tenant", "list").output
    assert "bakery" in listing and "studio" in listing


def test_users_grants_and_tokens(run):
    run("tenant", "create", "acme", "--name", "Acme")
    created = run("user", "create", "ann@acme.test", "--password-stdin", input="a long enough password\n")
    assert created.exit_code == 0, created.output
    assert run("user", "create", "ann@acme.test", "--password-stdin", input="a long enough password\n").exit_code == 1
    weak = run("user", "create", "bob@acme.test", "--password-stdin", input="short\n")
    assert weak.exit_code == 1 and "at least 10 characters" in weak.output
    assert run("token", "create", "ann@acme.test", "acme").exit_code == 1  # no role yet
    assert run("user", "grant", "ann@acme.test", "acme", "owner").exit_code == 0
    assert "acme:owner" in run("user", "list").output
    secret = run("token", "create", "ann@acme.test", "acme", "--name", "git").output.strip()
    assert secret.startswith("tsr_")
    refused = run("user", "revoke", "ann@acme.test", "acme")
    assert refused.exit_code == 1 and "at least one owner" in refused.output
    assert "Traceback" not in refused.output


def test_shop_commands(run, tmp_path):
    run("tenant", "create", "deli", "--name", "Shop", "--features", "cms,ecommerce", "--from", "bakery")
    assert run("publish", "deli").exit_code == 0
    listing = run("deploys", "deli").output
    assert "live" in listing
    assert run("stock", "deli", "DR-1000", "--set", "7").exit_code == 0
    assert "DR-1000\t7\t0\t7\tyes" in run("stock", "deli", "DR-1000").output
    missing = run("stock", "deli", "NOPE", "--set", "1")
    assert missing.exit_code == 1 and "no product with the sku 'NOPE'" in missing.output
    assert run("orders", "deli", "--expire").exit_code == 0
    bad = run("tenant", "payments", "deli", "--provider", "stripe", "--keys-stdin", input="nope\nnope\n")
    assert bad.exit_code == 1 and "sk_" in bad.output
    ok = run("tenant", "payments", "deli", "--provider", "stripe", "--keys-stdin", input="sk_test_x\nwhsec_y\n")
    assert ok.exit_code == 0 and "sk_test_x" not in ok.output
    assert "sk_test_x" not in run("tenant", "show", "deli").output
    assert run("rollback", "deli").exit_code == 1  # only one deploy so far: a clear error, no traceback
    # A product saved but never published can be stocked ahead of its first publish.
    Tenants(tmp_path / "data", ROOT / "sites").repository("deli").write(
        {"products/spelt.md": b"---\nname: Spelt\nsku: SPELT-1\nprice: '5.20'\n---\nNutty.\n"},
        Author("Owner", "owner@deli.test"), "Add spelt")
    assert run("stock", "deli", "SPELT-1", "--set", "4").exit_code == 0
    assert run("publish", "deli").exit_code == 0
    assert Orders(Tenants(tmp_path / "data", ROOT / "sites").open_db("deli")).stock("SPELT-1")["available"] == 4


# -- every command that takes a TENANT refuses an unknown one the same way -----------------------------

def _tenant_commands() -> set[tuple[str, ...]]:
    """Commands with a TENANT argument (``tenant create`` makes one, so it is not among them)."""
    return {path for path, command in COMMANDS if not isinstance(command, click.Group) and path != ("tenant", "create")
            and any(isinstance(p, click.Argument) and p.name in ("slug", "tenant_slug") for p in command.params)}


UNKNOWN_TENANT = {
    ("user", "grant"): ["ann@acme.test", "nosuch", "owner"],
    ("user", "revoke"): ["ann@acme.test", "nosuch"],
    ("token", "create"): ["ann@acme.test", "nosuch"],
    ("stock",): ["nosuch"],
    ("orders",): ["nosuch"],
    ("check",): ["nosuch"],
    ("build",): ["nosuch"],
    ("dev",): ["nosuch"],
    ("publish",): ["nosuch"],
    ("jobs",): ["nosuch"],
    ("deploys",): ["nosuch"],
    ("rollback",): ["nosuch"],
    ("domain", "add"): ["nosuch", "shop.example.com"],
    ("domain", "verify"): ["nosuch", "shop.example.com"],
    ("domain", "list"): ["nosuch"],
    ("domain", "remove"): ["nosuch", "shop.example.com"],
    ("tenant", "show"): ["nosuch"],
    ("tenant", "update"): ["nosuch", "--name", "New name"],
    ("tenant", "suspend"): ["nosuch"],
    ("tenant", "resume"): ["nosuch"],
    ("tenant", "delete"): ["nosuch", "--yes"],
    ("tenant", "payments"): ["nosuch", "--provider", "manual"],
    ("tenant", "backup"): ["nosuch"],
    ("tenant", "backups"): ["nosuch"],
    ("tenant", "restore"): ["nosuch", "--at", "latest", "--yes"],
    ("tenant", "move"): ["nosuch", "--to", "node2"],
    ("export",): ["nosuch", "out.tar.gz"],
    ("webhooks", "add"): ["nosuch", "https://hooks.example.com/t", "--event", "order.paid"],
    ("webhooks", "list"): ["nosuch"],
    ("webhooks", "remove"): ["nosuch", "1"],
    ("webhooks", "test"): ["nosuch", "1"],
    ("discounts",): ["nosuch"],
    ("discount", "create"): ["nosuch", "CODE", "--percent", "10"],
    ("discount", "show"): ["nosuch", "CODE"],
    ("discount", "pause"): ["nosuch", "CODE"],
    ("discount", "resume"): ["nosuch", "CODE"],
    ("report",): ["nosuch"],
    ("billing", "status"): ["nosuch"],
}


def test_the_unknown_tenant_table_covers_every_tenant_command():
    assert _tenant_commands() == set(UNKNOWN_TENANT)


@pytest.mark.parametrize("path", sorted(UNKNOWN_TENANT), ids=" ".join)
def test_an_unknown_tenant_is_one_clear_message(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["tenant", "create", "acme", "--name", "Acme"], catch_exceptions=False)
    runner.invoke(main, ["user", "create", "ann@acme.test", "--password-stdin"], input="a long enough password\n",
                  catch_exceptions=False)
    result = runner.invoke(main, [*path, *UNKNOWN_TENANT[path]])
    assert result.exit_code == 1, (result.output, result.exception)
    assert "no tenant called 'nosuch'" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not (tmp_path / "data" / "tenants" / "nosuch").exists()  # nothing created on the way


# -- listings: full values when piped, JSON on request ---------------------------------------------------

LONG_NAME = "The Very Long Named Rye & Crumb Bakery of the Old Town [est. 1999] [/] with a Shop Online"


def cli(data, *args: str, input: str | None = None):
    return CliRunner(env={"TESSERA_DATA_DIR": str(data)}).invoke(main, list(args), input=input,
                                                               catch_exceptions=False)


@pytest.fixture(name="listed", scope="module")
def fx_listed(tmp_path_factory):
    """An installation with one published shop, a user, a domain and a job: something in every listing."""
    data = tmp_path_factory.mktemp("listed") / "data"
    assert cli(data, "tenant", "create", "deli", "--name", LONG_NAME, "--features", "cms,ecommerce",
               "--from", "bakery").exit_code == 0
    assert cli(data, "publish", "deli").exit_code == 0
    assert cli(data, "user", "create", "ann@deli.test", "--password-stdin", input="a long enough password\n").exit_code == 0
    assert cli(data, "user", "grant", "ann@deli.test", "deli", "owner").exit_code == 0
    assert cli(data, "domain", "add", "deli", "shop.deli.example").exit_code == 0
    assert cli(data, "discount", "create", "deli", "WELCOME", "--percent", "10").exit_code == 0
    assert cli(data, "webhooks", "add", "deli", "https://hooks.deli.example/orders", "--event", "order.paid").exit_code == 0
    from publish.jobs import Queue

    Queue(data / "platform.db").enqueue("deli", actor="test")
    return data


LISTINGS = {
    ("tenant", "list"): [],
    ("user", "list"): [],
    ("deploys",): ["deli"],
    ("jobs",): [],
    ("orders",): ["deli"],
    ("stock",): ["deli"],
    ("domain", "list"): ["deli"],
    ("webhooks", "list"): ["deli"],
    ("discounts",): ["deli"],
}


def test_every_listing_offers_json():
    listings = {path for path, command in COMMANDS if not isinstance(command, click.Group)
                and (path[-1] == "list" or path in {("deploys",), ("jobs",), ("orders",), ("stock",), ("discounts",)})}
    assert listings == set(LISTINGS)
    for path in LISTINGS:
        command = main
        for name in path:
            command = command.commands[name]
        assert "as_json" in {p.name for p in command.params}, path


@pytest.mark.parametrize("path", sorted(LISTINGS), ids=" ".join)
def test_json_listings_hold_full_values(listed, path):
    import json

    result = cli(listed, *path, *LISTINGS[path], "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
    if path != ("orders",):
        assert rows, path  # the fixture put something in each of these


def test_piped_listings_are_not_cut_to_80_columns(listed):
    import json

    commit = json.loads(cli(listed, "deploys", "deli", "--json").output)[0]["commit"]
    assert len(commit) == 40
    deploys = cli(listed, "deploys", "deli").output.splitlines()
    assert deploys[0].split("\t")[:3] == ["id", "status", "commit"]
    assert deploys[1].split("\t")[2] == commit
    tenants = cli(listed, "tenant", "list").output.splitlines()
    assert tenants[1].split("\t")[:2] == ["deli", LONG_NAME]
    shown = dict(line.split("\t", 1) for line in cli(listed, "tenant", "show", "deli").output.splitlines())
    assert shown["name"] == LONG_NAME and shown["repository"].endswith("/tenants/deli/repo.git")
    assert shown["version"] == json.loads(cli(listed, "tenant", "show", "deli", "--json").output)["version"]
    domains = cli(listed, "domain", "list", "deli").output
    assert '_tessera-challenge.shop.deli.example. TXT "tessera-verify=' in domains
    stock = cli(listed, "stock", "deli").output.splitlines()
    assert stock[0] == "sku\ton hand\treserved\tavailable\ttracked" and len(stock) > 2


def test_a_terminal_gets_a_table_and_names_are_never_markup(listed, monkeypatch):
    from tessera.cli import output

    monkeypatch.setattr(output, "on_terminal", lambda: True)
    listing = cli(listed, "tenant", "list")
    assert listing.exit_code == 0 and "┃ slug" in listing.output and "\t" not in listing.output
    shown = cli(listed, "tenant", "show", "deli")
    assert shown.exit_code == 0 and "[est." in shown.output and "[/]" in shown.output
    renamed = cli(listed, "tenant", "update", "deli", "--name", "[bold]Deli[/bold] [/]")
    assert renamed.exit_code == 0 and "[bold]Deli[/bold] [/]" in renamed.output
    cli(listed, "tenant", "update", "deli", "--name", LONG_NAME)
