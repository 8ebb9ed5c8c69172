"""Over a limit after a downgrade: the newest products and pages are read-only (read, published and
removed, never changed), decided by when each file was added, with the history read once per version."""

from __future__ import annotations

import pytest

from content import plans
from content.gitrepo import ADDED_CACHE, Author, Repository
from content.registry import Registry

ME = Author("Owner", "owner@acme.test")


def _product(name: str) -> bytes:
    return f"---\nname: {name}\nsku: {name.upper()}\nprice: 1.00\n---\n{name}.\n".encode()


@pytest.fixture(name="site")
def fx_site(tmp_path):
    registry = Registry(tmp_path / "platform.db")
    tenant = registry.add("acme", "Acme", frozenset({"cms", "ecommerce"}), plan="starter")
    starter = tmp_path / "starter"
    (starter / "products").mkdir(parents=True)
    (starter / "products" / "oat.md").write_bytes(_product("oat"))
    (starter / "products" / "bran.md").write_bytes(_product("bran"))  # same commit as oat: ties go by path
    repo = Repository.create(tmp_path / "repo.git", starter, ME)
    repo.write({"products/apple.md": _product("apple")}, ME, "Add apple")  # later, though first by name
    repo.write({"products/cake.md": _product("cake"), "pages/about.md": b"---\ntitle: About\n---\nHi.\n"}, ME, "Add")
    yield registry, tenant, repo
    registry.close()


def _over(registry, tenant, products: int):
    return plans.set_overrides(registry, tenant.slug, {"products": products}, actor=None)


def test_within_its_limits_nothing_is_read_only_and_no_history_is_read(site):
    registry, tenant, repo = site
    assert plans.read_only_paths(registry, tenant, repo) == {}
    assert plans.read_only_paths(registry, _over(registry, tenant, 4), repo) == {}  # exactly at the limit
    assert not (repo.path / ADDED_CACHE).exists()


def test_the_oldest_stay_editable_and_the_newer_are_read_only(site):
    registry, tenant, repo = site
    # Ordered by the commit that added them, ties by path: bran, oat (the first commit), apple, cake.
    added = repo.added_at(repo.head())
    assert sorted(added, key=lambda p: (added[p], p)) == ["products/bran.md", "products/oat.md", "products/apple.md",
                                                         "pages/about.md", "products/cake.md"]
    tenant = _over(registry, tenant, 2)
    assert plans.read_only_paths(registry, tenant, repo) == {"products/apple.md": "products",
                                                             "products/cake.md": "products"}
    tenant = _over(registry, tenant, 0)
    assert set(plans.read_only_paths(registry, tenant, repo)) == {"products/apple.md", "products/bran.md",
                                                                  "products/cake.md", "products/oat.md"}
    # The same from an older version's files: what it held is what counts.
    source = repo.source("HEAD~1")
    try:
        assert plans.read_only_paths(registry, _over(registry, tenant, 2), source) == {"products/apple.md": "products"}
    finally:
        source.close()


def test_ties_go_by_path_and_a_file_added_again_is_new(site):
    registry, tenant, repo = site
    tenant = _over(registry, tenant, 3)
    assert plans.read_only_paths(registry, tenant, repo) == {"products/cake.md": "products"}
    repo.write({"products/bran.md": None}, ME, "Remove bran")
    repo.write({"products/bran.md": _product("bran")}, ME, "Bran again")
    # Four again, and bran is now the newest.
    assert plans.read_only_paths(registry, tenant, repo) == {"products/bran.md": "products"}


def test_the_history_is_read_once_per_version(site, monkeypatch):
    registry, tenant, repo = site
    tenant = _over(registry, tenant, 2)
    first = plans.read_only_paths(registry, tenant, repo)
    stored = (repo.path / ADDED_CACHE).read_text()
    assert repo.head() in stored
    calls = []
    real = Repository.git

    def counting(self, *args, **kw):
        calls.append(args[0])
        return real(self, *args, **kw)

    monkeypatch.setattr(Repository, "git", counting)
    assert plans.read_only_paths(registry, tenant, repo) == first
    assert "log" not in calls
    repo.write({"products/date.md": _product("date")}, ME, "Add date")  # a new version: read again
    calls.clear()
    assert "products/date.md" in plans.read_only_paths(registry, tenant, repo) and calls.count("log") == 1


def test_a_change_to_a_read_only_file_is_refused_naming_the_limit_and_the_plan(site):
    registry, tenant, repo = site
    tenant = _over(registry, tenant, 2)
    after = repo.paths(repo.head())
    with pytest.raises(plans.ReadOnly) as caught:
        plans.check_read_only(registry, tenant, repo, ["products/cake.md"], after)
    assert caught.value.status == 403 and caught.value.code == "limit_reached" and caught.value.field == "products"
    assert str(caught.value) == (
        "products/cake.md is read-only: this site's limit is 2 products (set for it by the platform's operator) "
        "and the site has 4, so only the 2 oldest can be changed. Ask the platform's operator to raise the limit, "
        "or remove some products first (removing this one is allowed).")
    plans.check_read_only(registry, tenant, repo, ["products/oat.md"], after)  # an editable one
    # Removing two newer ones in the same change makes room: apple is then among the two.
    plans.check_read_only(registry, tenant, repo, ["products/apple.md"],
                          [p for p in after if p not in ("products/cake.md", "products/oat.md")])
    starter = plans.get_plan(registry, "starter")
    plans.update_plan(registry, "starter", title="Starter", features=starter.features,
                      limits={**starter.limits, "products": 2}, actor=None)
    tenant = plans.set_overrides(registry, tenant.slug, {}, actor=None)
    with pytest.raises(plans.ReadOnly, match=r"^products/cake.md is read-only: your Starter plan allows 2 products "
                                             r"and the site has 4, so only the 2 oldest can be changed\. Business "
                                             r"allows 500 products: ask the platform's operator to move the site to it"):
        plans.check_read_only(registry, tenant, repo, ["products/cake.md"], after)
