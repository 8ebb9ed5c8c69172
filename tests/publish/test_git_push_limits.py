"""A push that would add past a limit of the site's plan is refused by the pre-receive hook, naming the
limit and the plan that lifts it, and nothing of it lands; edits, removals and renames pass, also on a
site that is over a limit. Real pushes over HTTP with the stock git client."""

from __future__ import annotations

from pathlib import Path

import pytest

from content import plans
from tests.publish.git_sites import OWNER, bakery_git_server
from tests.publish.test_git_push import git, remote
PRODUCT = "---\nname: Seed loaf\nsku: SEED-1\nprice: \"4.10\"\n---\nSeeds.\n"
PAGE = "---\ntitle: Opening hours\n---\nEvery day.\n"


@pytest.fixture(name="bakery", scope="module")
def fx_bakery(tmp_path_factory):
    with bakery_git_server(tmp_path_factory, "gitlimits") as (_, tenants, _, port):
        # The bakery starter holds 11 products and 7 pages and posts: the site is exactly at both limits.
        plans.set_overrides(tenants.registry, "bakery", {"products": 11, "pages_and_posts": 7}, actor=None)
        yield tenants, port


def _push(port, tmp_path: Path, change) -> tuple[object, Path]:
    work = tmp_path / "work"
    git("clone", "-q", remote(port, OWNER, slug="bakery"), str(work))
    change(work)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "change", cwd=work)
    return git("push", "origin", "main", cwd=work, check=False), work


def add_product(work: Path) -> None:
    (work / "products" / "seed-loaf.md").write_text(PRODUCT)


def add_page(work: Path) -> None:
    (work / "pages" / "hours.md").write_text(PAGE)


def add_post(work: Path) -> None:
    (work / "posts" / "hours.md").write_text(PAGE)


def add_both(work: Path) -> None:
    add_product(work)
    add_page(work)


@pytest.mark.parametrize("change,named", [
    (add_product, ["products: This site's limit is 11 products (set for it by the platform's operator)"]),
    (add_page, ["pages_and_posts: This site's limit is 7 pages and posts"]),
    (add_post, ["pages_and_posts: This site's limit is 7 pages and posts"]),
    (add_both, ["products:", "pages_and_posts:"]),
])
def test_adding_past_a_limit_is_refused_and_nothing_lands(bakery, tmp_path, change, named):
    tenants, port = bakery
    head = tenants.repository("bakery").head()
    pushed, _ = _push(port, tmp_path, change)
    assert pushed.returncode != 0
    assert "Push rejected" in pushed.stderr and "Traceback" not in pushed.stderr
    for words in named:
        assert words in pushed.stderr
    assert "platform's operator" in pushed.stderr
    assert tenants.repository("bakery").head() == head


def test_the_message_names_the_plan_that_lifts_it(bakery, tmp_path):
    tenants, port = bakery
    plans.set_overrides(tenants.registry, "bakery", {"pages_and_posts": 7}, actor=None)
    starter = plans.get_plan(tenants.registry, "starter")
    plans.update_plan(tenants.registry, "starter", title="Starter", features=starter.features,
                      limits={**starter.limits, "products": 11}, actor=None)
    try:
        pushed, _ = _push(port, tmp_path, add_product)
        assert ("products: Your Starter plan allows 11 products; the site has 11, and this would make 12. "
                "Business allows 500 products") in pushed.stderr
    finally:
        plans.update_plan(tenants.registry, "starter", title="Starter", features=starter.features,
                          limits=starter.limits, actor=None)
        plans.set_overrides(tenants.registry, "bakery", {"products": 11, "pages_and_posts": 7}, actor=None)


def edit_product(work: Path) -> None:
    rye = work / "products" / "dark-rye.md"
    rye.write_text(rye.read_text().replace("name: Dark Rye", "name: Dark Rye Loaf"))


def rename_product(work: Path) -> None:
    (work / "products" / "oat-cookies.md").rename(work / "products" / "oat-biscuits.md")


@pytest.mark.parametrize("change", [edit_product, rename_product])
def test_editing_and_renaming_at_the_limit_pass(bakery, tmp_path, change):
    tenants, port = bakery
    head = tenants.repository("bakery").head()
    pushed, _ = _push(port, tmp_path, change)
    assert pushed.returncode == 0, pushed.stderr
    assert tenants.repository("bakery").head() != head


def test_over_a_limit_after_a_downgrade_removing_passes_and_adding_does_not(bakery, tmp_path):
    tenants, port = bakery
    plans.set_overrides(tenants.registry, "bakery", {"products": 5, "pages_and_posts": 7}, actor=None)
    try:
        def remove(name: str):
            return lambda work: (work / "products" / name).unlink()

        removed, _ = _push(port, tmp_path / "a", remove("baguette.md"))
        assert removed.returncode == 0, removed.stderr  # 10 products on a limit of 5: fewer is fine
        head = tenants.repository("bakery").head()
        swapped, _ = _push(port, tmp_path / "b", lambda work: (remove("seeded-spelt.md")(work), add_product(work)))
        # One out, one in: no more than before, but the new one would be read-only the moment it lands.
        assert swapped.returncode != 0 and "is new, and the site is over its limit" in swapped.stderr
        assert tenants.repository("bakery").head() == head
        moved, _ = _push(port, tmp_path / "b2", lambda work: (work / "products" / "seeded-spelt.md").rename(
            work / "products" / "spelt-loaf.md"))
        assert moved.returncode == 0, moved.stderr  # moved unchanged: nothing new
        refused, _ = _push(port, tmp_path / "c", lambda work: (work / "products" / "more.md").write_text(
            PRODUCT.replace("SEED-1", "SEED-2")))
        assert refused.returncode != 0 and "the site has 10, and this would make 11" in refused.stderr
    finally:
        plans.set_overrides(tenants.registry, "bakery", {"products": 11, "pages_and_posts": 7}, actor=None)


def test_over_a_limit_a_push_that_changes_a_read_only_file_is_refused_naming_it(bakery, tmp_path):
    """After a downgrade the newest products are read-only: a push may remove them, not change them;
    removing newer ones in the same push makes room for the change."""
    tenants, port = bakery
    repo = tenants.repository("bakery")
    used = plans.counts(repo.paths(repo.head()))["products"]
    tenant = plans.set_overrides(tenants.registry, "bakery", {"products": used - 2, "pages_and_posts": 100}, actor=None)
    try:
        added = repo.added_at(repo.head())
        locked = sorted(plans.read_only_paths(tenants.registry, tenant, repo), key=lambda p: (added.get(p), p))
        assert len(locked) == 2  # the older of the two first
        # One whose removal breaks nothing else (shipping.yaml names the only category of the cakes).
        editable = next(p for p in repo.paths(repo.head()) if plans.counted(p) == "products" and p not in locked
                        and b"cake" not in repo.read(p))

        def touch(path: str):
            return lambda work: (work / path).write_text((work / path).read_text() + "\nMore.\n")

        head = repo.head()
        refused, _ = _push(port, tmp_path / "a", touch(locked[0]))
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert (f"products: {locked[0]} is read-only: this site's limit is {used - 2} products (set for it by the "
                f"platform's operator) and the site has {used}, so only the {used - 2} oldest can be changed") \
            in " ".join(refused.stderr.split())
        assert "removing this one is allowed" in " ".join(refused.stderr.split())
        assert repo.head() == head
        fine, _ = _push(port, tmp_path / "b", touch(editable))
        assert fine.returncode == 0, fine.stderr
        # Removing an older one in the same push makes room: the older read-only one may then be changed.
        both, _ = _push(port, tmp_path / "c", lambda work: ((work / editable).unlink(), touch(locked[0])(work)))
        assert both.returncode == 0, both.stderr
        assert repo.read(editable) is None and repo.read(locked[0]).endswith(b"More.\n")
        again, _ = _push(port, tmp_path / "d", touch(locked[1]))  # the newest is still over the limit
        assert again.returncode != 0 and f"products: {locked[1]} is read-only" in again.stderr
        gone, _ = _push(port, tmp_path / "e", lambda work: (work / locked[1]).unlink())
        assert gone.returncode == 0, gone.stderr  # removing a read-only one always passes
    finally:
        plans.set_overrides(tenants.registry, "bakery", {"products": 11, "pages_and_posts": 7}, actor=None)


def test_over_a_limit_a_read_only_file_cannot_be_edited_by_renaming_it_away_and_back(bakery, tmp_path):
    tenants, port = bakery
    repo = tenants.repository("bakery")
    used = plans.counts(repo.paths(repo.head()))["products"]
    tenant = plans.set_overrides(tenants.registry, "bakery", {"products": used - 1, "pages_and_posts": 100}, actor=None)
    try:
        (locked,) = plans.read_only_paths(tenants.registry, tenant, repo)
        head = repo.head()

        def rename_and_edit(work: Path) -> None:
            text = (work / locked).read_text()
            (work / locked).unlink()
            (work / locked.replace(".md", "-2.md")).write_text(text + "\nChanged while read-only.\n")

        pushed, _ = _push(port, tmp_path / "a", rename_and_edit)
        assert pushed.returncode != 0 and "is new, and the site is over its limit" in pushed.stderr
        assert repo.head() == head
    finally:
        plans.set_overrides(tenants.registry, "bakery", {"products": 11, "pages_and_posts": 7}, actor=None)


def test_a_push_that_makes_the_colours_unreadable_is_refused_with_the_ratio(bakery, tmp_path):
    import yaml

    tenants, port = bakery
    head = tenants.repository("bakery").head()

    def pale(work: Path) -> None:
        site = yaml.safe_load((work / "site.yaml").read_text())
        site["theme_settings"]["colors"]["text"] = "#c0c0c0"
        (work / "site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))

    pushed, _ = _push(port, tmp_path / "a", pale)
    assert pushed.returncode != 0
    assert "site.yaml: theme_settings.colors: text #c0c0c0 on background" in pushed.stderr and ":1;" in pushed.stderr
    assert tenants.repository("bakery").head() == head
