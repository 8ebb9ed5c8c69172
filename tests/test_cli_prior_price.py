"""`tessera check` applies the prior price rule to a tenant (whose repository has the history) and
says that a folder cannot be checked against it."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from content.gitrepo import Author
from content.tenants import Tenants
from tessera.cli import main
from tessera.settings import ROOT

SITE = "name: Loaf Shop\ncurrency: EUR\ntimezone: Europe/Berlin\nprior_price_rule: true\n"


def loaf(price: str, compare: str | None = None) -> bytes:
    was = f'compare_price: "{compare}"\n' if compare else ""
    return f'---\nname: Rye Loaf\nsku: LOAF\nprice: "{price}"\n{was}---\nA loaf.\n'.encode()


@pytest.fixture(name="run")
def fx_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))

    def run(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


def test_check_tenant_names_the_false_was_price(run, tmp_path, monkeypatch):
    assert run("tenant", "create", "loaves", "--name", "Loaves", "--features", "cms,ecommerce").exit_code == 0
    repo = Tenants(tmp_path / "data", ROOT / "sites").repository("loaves")
    now = datetime.now(timezone.utc)
    for days, changes in ((50, {"site.yaml": SITE.encode(), "products/loaf.md": loaf("4.00")}),
                          (15, {"products/loaf.md": loaf("3.20")}), (5, {"products/loaf.md": loaf("4.00")}),
                          (1, {"products/loaf.md": loaf("3.50", "4.00")})):
        stamp = f"{int((now - timedelta(days=days)).timestamp())} +0000"
        monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)
        monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)
        repo.write(changes, Author("Ed", "ed@example.com"), "price change")
    result = run("check", "loaves")
    assert result.exit_code == 1
    assert "products/loaf.md:5: compare_price: €4.00 claims a reduction, but the lowest price charged in the 30 " \
           "days before it began" in result.output
    assert "is €3.20; show €3.20 as the earlier price, or remove compare_price" in result.output

    repo.write({"products/loaf.md": loaf("3.00", "3.20")}, Author("Ed", "ed@example.com"), "true was price")
    assert run("check", "loaves").exit_code == 0


def test_check_source_says_the_rule_needs_history(run, tmp_path):
    site = tmp_path / "site"
    (site / "products").mkdir(parents=True)
    (site / "site.yaml").write_text(SITE)
    (site / "products" / "loaf.md").write_bytes(loaf("3.50", "4.00"))
    result = run("check", "--source", str(site))
    assert result.exit_code == 0
    assert "prior_price_rule is on, but a folder has no history" in textwrap.fill(result.output, 10_000)
