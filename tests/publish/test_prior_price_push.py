"""A push whose "was" price was never the lowest price of the 30 days before is refused by the
pre-receive hook, with the file, the line and the lowest price; a true one is accepted."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from tests.api.conftest import free_port
from tests.conftest import serving
from tests.publish.test_git_push import git, remote

PASSWORD = "a long enough password"
OWNER = "owner@shop.test"
DAY = timedelta(days=1)


def loaf(price: str, compare: str | None = None) -> str:
    was = f'compare_price: "{compare}"\n' if compare else ""
    return f'---\nname: Rye Loaf\nsku: LOAF\nprice: "{price}"\n{was}---\nA loaf.\n'


def dated(when: datetime) -> dict[str, str]:
    stamp = f"{int(when.timestamp())} +0000"
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


@pytest.fixture(name="shop", scope="module")
def fx_shop(tmp_path_factory):
    """A shop whose loaf cost 10.00 from 60 days ago, 8.00 from 20 days ago and 10.00 again from 10 days ago."""
    from commerce_api.services import Services
    from content.gitrepo import Author
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.app import api_config, make_app
    from tessera.settings import Settings

    root = tmp_path_factory.mktemp("prior")
    starter = root / "sites" / "shop"
    (starter / "products").mkdir(parents=True)
    (starter / "site.yaml").write_text(textwrap.dedent("""\
        name: Loaf Shop
        currency: GBP
        timezone: Europe/London
        prior_price_rule: true
        """))
    (starter / "products" / "loaf.md").write_text(loaf("10.00"))
    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(root / "data"), "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, root / "sites")
    now = datetime.now(timezone.utc)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in dated(now - 60 * DAY).items():
            patch.setenv(key, value)
        tenants.create("loaves", "Loaf Shop", parse_features("cms,ecommerce"), starter="shop")
        repo = tenants.repository("loaves")
        for days, price in ((20, "8.00"), (10, "10.00")):
            for key, value in dated(now - days * DAY).items():
                patch.setenv(key, value)
            repo.write({"products/loaf.md": loaf(price).encode()}, Author("Owner", OWNER), f"Loaf at {price}")
    services = Services.build(api_config(settings))
    user = services.users.create(OWNER, PASSWORD)
    services.users.grant(user.id, tenants.registry.get("loaves").id, "owner")
    with serving(make_app(settings), port):
        yield tenants, port


def test_a_false_was_price_is_refused_and_a_true_one_accepted(shop, tmp_path, monkeypatch):
    tenants, port = shop
    head = tenants.repository("loaves").head()
    work = tmp_path / "work"
    git("clone", "-q", remote(port, OWNER, PASSWORD, "loaves"), str(work))
    (work / "products" / "loaf.md").write_text(loaf("9.00", "10.00"))
    # The pusher dates the commit 40 days back: unpublished commits count from the push, whatever their date.
    with monkeypatch.context() as patch:
        for key, value in dated(datetime.now(timezone.utc) - 40 * DAY).items():
            patch.setenv(key, value)
        git("commit", "-qam", "Loaf on sale", cwd=work)
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "products/loaf.md:5: compare_price: £10.00 claims a reduction, but the lowest price charged in the " \
           "30 days before it began" in pushed.stderr
    assert "is £8.00; show £8.00 as the earlier price, or remove compare_price" in pushed.stderr
    assert tenants.repository("loaves").head() == head

    (work / "products" / "loaf.md").write_text(loaf("7.50", "8.00"))
    git("commit", "-qam", "Loaf on sale from its lowest price", cwd=work)
    pushed = git("push", "origin", "main", cwd=work)
    assert "Checked: the site builds" in pushed.stderr
    assert tenants.repository("loaves").head() != head
