"""Plans in the admin, on the demo over real HTTP: saves that would add past a limit are refused with
the plan that lifts it and nothing is written, edits at the limit pass, a downgrade removes nothing and
the usage page shows what is over, and only operators change plans, limits and the plans themselves."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

from content import plans
from content.registry import Registry
from tests.admin.conftest import alert as raw_alert

OPERATOR = "admin@tessera.test"
PRODUCT = {"path": "", "name": "Seed Loaf", "sku": "SEED-1", "price": "4.10", "body": "Seeds.", "message": "Add"}
POST = {"path": "", "kind": "post", "title": "Summer Hours", "body": "Open late.", "message": "Add"}


@pytest.fixture(name="registry")
def fx_registry(site):
    registry = Registry(site["data"] / "platform.db")
    demo_plan = registry.get("bakery").plan
    registry.update("bakery", plan="starter")  # the tests count on Starter's limits, not on the demo's plan
    yield registry
    plans.set_overrides(registry, "bakery", {}, actor=None)  # every test leaves the bakery on its plan alone
    registry.update("bakery", plan=demo_plan)
    registry.close()


def alert(response) -> str:
    return html.unescape(raw_alert(response))


def _counts(owner) -> dict[str, int]:
    source = owner.repo().source()
    try:
        return plans.counts(source.paths())
    finally:
        source.close()


def _at_the_limit(registry, owner) -> dict[str, int]:
    counts = _counts(owner)
    plans.set_overrides(registry, "bakery", dict(counts), actor=None)
    return counts


@pytest.mark.parametrize("path,form,limit,noun", [
    ("/products/save", PRODUCT, "products", "products"),
    ("/pages/save", POST, "pages_and_posts", "pages and posts"),
    ("/pages/save", {**POST, "kind": "page", "title": "Allergens"}, "pages_and_posts", "pages and posts"),
])
def test_adding_past_a_limit_in_the_admin_is_refused_and_nothing_is_written(admin, registry, path, form, limit, noun):
    owner = admin()
    counts = _at_the_limit(registry, owner)
    head = owner.repo().head()
    refused = owner.post(path, form)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    message = alert(refused)
    assert f"This site's limit is {counts[limit]} {noun}" in message
    assert f"the site has {counts[limit]}, and this would make {counts[limit] + 1}" in message
    assert owner.repo().head() == head and _counts(owner) == counts
    # The form keeps what was typed, so nothing is lost while the plan is sorted out.
    assert (form.get("name") or form["title"]) in refused.text


def test_the_refusal_names_the_plan_that_lifts_the_limit(admin, registry):
    owner = admin()
    counts = _counts(owner)
    starter = plans.get_plan(registry, "starter")
    plans.update_plan(registry, "starter", title="Starter", features=starter.features,
                      limits={**starter.limits, "products": counts["products"]}, actor=None)
    try:
        refused = owner.post("/products/save", PRODUCT)
        assert refused.status_code == 403
        assert (f"Your Starter plan allows {counts['products']} products; the site has {counts['products']}, and this "
                f"would make {counts['products'] + 1}. Business allows 500 products: ask the platform's operator to "
                "move the site to it") in alert(refused)
    finally:
        plans.update_plan(registry, "starter", title="Starter", features=starter.features, limits=starter.limits,
                          actor=None)


def test_editing_an_existing_product_or_page_at_the_limit_still_works(admin, registry):
    owner = admin()
    _at_the_limit(registry, owner)
    head = owner.repo().head()
    text = owner.repo().read("products/baguette.md").decode()
    edited = owner.post("/products/save", {"path": "products/baguette.md", "base": head, "name": "Baguette Tradition",
                                           "sku": re.search(r"sku: (\S+)", text).group(1), "price": "1.60",
                                           "body": "Crisp.", "message": "Rename"})
    assert edited.status_code == 303, alert(edited)
    assert "Baguette Tradition" in owner.repo().read("products/baguette.md").decode()
    page = owner.post("/pages/save", {"path": "pages/about.md", "base": owner.repo().head(), "title": "About us",
                                      "body": "Still baking.", "message": "Edit"})
    assert page.status_code == 303, alert(page)


def test_a_downgrade_keeps_everything_and_the_usage_page_shows_what_is_over(admin, registry, site):
    owner, operator = admin(), admin("bakery", OPERATOR)
    counts = _counts(owner)
    head = owner.repo().head()
    moved = operator.post("/tenants/plan/change", {"slug": "bakery", "plan": "business", "note": "Trial of Business"})
    assert moved.status_code == 303
    lowered = operator.post("/tenants/limits", {"slug": "bakery", "limit.products": "3", "limit.pages_and_posts": "",
                                                "note": "Back to a small plan"})
    assert lowered.status_code == 303
    assert owner.repo().head() == head and _counts(owner) == counts  # nothing removed
    usage = owner.get("/settings/usage")
    assert usage.status_code == 200 and "Business" in usage.text
    row = re.search(r'<th scope="row">Products</th>(.*?)</tr>', usage.text, re.S).group(1)
    assert f">{counts['products']}<" in row and "3" in row and f"Over by {counts['products'] - 3}" in row
    pages_row = re.search(r'<th scope="row">Pages and posts</th>(.*?)</tr>', usage.text, re.S).group(1)
    assert f">{counts['pages_and_posts']}<" in pages_row and ">1000<" in pages_row and "Over" not in pages_row
    assert "Over the limits of this plan" in usage.text and "everything stays published" in usage.text
    assert "Trial of Business" in usage.text and "admin@tessera.test" in usage.text  # the history
    # Over the limit: products stay in the shop, editing works, adding does not.
    shop = httpx.get(f"http://127.0.0.1:{site['port']}/api/products/baguette",
                     headers={"Host": f"bakery.localhost:{site['port']}"})
    assert shop.status_code == 200
    assert owner.post("/products/save", PRODUCT).status_code == 403


def test_usage_equals_the_counts_in_the_repository_and_databases(admin, registry, site):
    owner = admin()
    counts = _counts(owner)
    page = owner.get("/settings/usage").text
    members = registry.conn.execute("SELECT COUNT(*) FROM memberships WHERE tenant_id = ?",
                                    (registry.get("bakery").id,)).fetchone()[0]
    for label, value in (("Products", counts["products"]), ("Pages and posts", counts["pages_and_posts"]),
                         ("Staff seats", members)):
        row = re.search(rf'<th scope="row">{label}</th>\s*<td class="num">([^<]*)</td>', page).group(1)
        assert row == str(value), label


def test_plan_changes_write_history_and_audit_and_only_operators_make_them(admin, registry):
    operator = admin("bakery", OPERATOR)
    page = operator.get("/tenants/plan?slug=bakery")
    assert page.status_code == 200 and "Change the plan" in page.text
    moved = operator.post("/tenants/plan/change", {"slug": "bakery", "plan": "agency", "note": "Opened a second shop"})
    assert moved.status_code == 303 and "moved from starter to agency" in moved.headers["location"].replace("%20", " ")
    change = registry.conn.execute("SELECT * FROM plan_changes ORDER BY id DESC").fetchone()
    assert (change["from_plan"], change["to_plan"], change["note"]) == ("starter", "agency", "Opened a second shop")
    operator_id = registry.conn.execute("SELECT id FROM users WHERE email = ?", (OPERATOR,)).fetchone()[0]
    assert change["actor_user_id"] == operator_id
    entry = registry.conn.execute("SELECT * FROM audit_log WHERE event = 'plan.changed' ORDER BY id DESC").fetchone()
    assert json.loads(entry["detail"])["to"] == "agency" and entry["actor_user_id"] == operator_id
    bad = operator.post("/tenants/plan/change", {"slug": "bakery", "plan": "platinum", "note": ""})
    assert bad.status_code == 303 and "not one of" in httpx.URL(bad.headers["location"]).params["error"]

    owner = admin()
    for path, form in (("/tenants/plan/change", {"slug": "bakery", "plan": "starter", "note": "mine"}),
                       ("/tenants/limits", {"slug": "bakery", "limit.products": "9999"}),
                       ("/plans/save", {"name": "starter", "title": "Free", "features": ["cms"]})):
        assert owner.post(path, form).status_code == 403, path
    for path in ("/plans", "/tenants/plan?slug=bakery"):
        assert owner.get(path).status_code == 403, path
    assert registry.get("bakery").plan == "agency" and plans.overrides(registry.get("bakery")) == {}
    assert plans.get_plan(registry, "starter").title == "Starter"


@pytest.mark.parametrize("email,allowed", [("owner@bakery.test", True), ("editor@agency.test", False),
                                           ("shop@bakery.test", False), (OPERATOR, True)])
def test_the_usage_page_is_for_owners_and_admins(admin, email, allowed):
    session = admin("bakery", email)
    assert session.get("/settings/usage").status_code == (200 if allowed else 403)
    assert ("Plan and usage" in session.get("/settings").text) == allowed


def test_operators_edit_plans_and_every_site_on_them_follows(admin, registry):
    operator, owner = admin("bakery", OPERATOR), admin()
    page = operator.get("/plans")
    assert page.status_code == 200 and 'name="limit.products"' in page.text
    starter = plans.get_plan(registry, "starter")
    form = {"name": "starter", "title": "Starter", "features": sorted(starter.features)}
    form |= {f"limit.{key}": ("" if value is None else str(value // 2**20 if plans.BY_KEY[key].unit == "bytes" else value))
             for key, value in starter.limits.items()}
    try:
        saved = operator.post("/plans/save", {**form, "limit.products": str(_counts(owner)["products"])})
        assert saved.status_code == 303 and "error" not in saved.headers["location"]
        assert plans.get_plan(registry, "starter").limits["media_bytes"] == starter.limits["media_bytes"]
        assert owner.post("/products/save", PRODUCT).status_code == 403
        wrong = operator.post("/plans/save", {**form, "limit.products": "lots"})
        assert "Products: write a whole number" in httpx.URL(wrong.headers["location"]).params["error"]
    finally:
        operator.post("/plans/save", form)
    assert plans.get_plan(registry, "starter").limits == starter.limits


def test_undoing_a_removal_at_the_limit_is_refused_and_nothing_is_written(admin, registry):
    from content.gitrepo import Author

    owner = admin()
    repo = owner.repo()
    extra = {"pages/opening.md": b"---\ntitle: Opening\n---\nSoon.\n"}
    repo.write(extra, Author("Owner", "owner@bakery.test"), "Add opening")
    removal = repo.write({"pages/opening.md": None}, Author("Owner", "owner@bakery.test"), "Remove opening")
    _at_the_limit(registry, owner)
    head = repo.head()
    refused = owner.post("/revert", {"sha": removal, "path": "pages/opening.md"})
    assert refused.status_code == 303
    message = httpx.URL(refused.headers["location"]).params["error"]
    assert message.startswith("That change cannot be undone: This site's limit is") and "pages and posts" in message
    assert repo.head() == head and repo.read("pages/opening.md") is None
    plans.set_overrides(registry, "bakery", {}, actor=None)
    assert owner.post("/revert", {"sha": removal, "path": "pages/opening.md"}).status_code == 303
    assert repo.read("pages/opening.md") is not None
    repo.write({"pages/opening.md": None}, Author("Owner", "owner@bakery.test"), "Remove opening again")


def _waiting_on(lock_file) -> int:
    """How many processes or threads wait for the flock on ``lock_file`` (Linux lists them in /proc/locks)."""
    import os

    inode = os.stat(lock_file).st_ino
    lines = open("/proc/locks").read().splitlines()
    return sum(1 for line in lines if "->" in line and line.split()[-3].endswith(f":{inode}"))


def test_two_saves_at_one_below_the_limit_cannot_both_pass(admin, registry):
    """The count is checked under the repository's write lock, against the version the save lands on:
    two saves that both start at one below the limit leave the site at the limit, not past it."""
    import fcntl
    import threading
    import time

    first, second = admin(), admin()
    counts = _counts(first)
    plans.set_overrides(registry, "bakery", {"products": counts["products"] + 1}, actor=None)
    lock_file = first.repo().path / "tessera.lock"
    answers: dict[str, httpx.Response] = {}

    def save(client, name: str) -> None:
        answers[name] = client.post("/products/save", {**PRODUCT, "name": name, "sku": name.upper().replace(" ", "-")})

    with open(lock_file, "a+b") as held:
        # Both saves reach the repository while it is held, so both have done whatever they check first.
        fcntl.flock(held, fcntl.LOCK_EX)
        threads = [threading.Thread(target=save, args=(c, n)) for c, n in ((first, "Race One"), (second, "Race Two"))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while _waiting_on(lock_file) < 2:
            assert time.monotonic() < deadline, "the two saves never reached the repository's lock"
            time.sleep(0.05)
        fcntl.flock(held, fcntl.LOCK_UN)
    for thread in threads:
        thread.join(60)
    try:
        assert sorted(a.status_code for a in answers.values()) == [303, 403], {n: alert(a) for n, a in answers.items()}
        refused = next(a for a in answers.values() if a.status_code == 403)
        assert f"the site has {counts['products'] + 1}, and this would make {counts['products'] + 2}" in alert(refused)
        assert _counts(first)["products"] == counts["products"] + 1
    finally:
        from content.gitrepo import Author

        added = [p for p in ("products/race-one.md", "products/race-two.md") if first.repo().read(p) is not None]
        if added:
            first.repo().write(dict.fromkeys(added), Author("Test", "test@tessera.test"), "Remove the race's products")


def _badged(listing: str) -> list[str]:
    """The paths of a list's rows that carry the read-only badge."""
    rows = re.findall(r"<tr>(.*?)</tr>", listing, re.S)
    return sorted(html.unescape(re.search(r'edit\?path=([^"]+)"', row).group(1)).replace("%2F", "/")
                  for row in rows if ">read-only</span>" in row)


def test_over_a_limit_the_newest_items_are_read_only_at_every_admin_page(admin, registry):
    from content.gitrepo import Author

    owner = admin()
    repo = owner.repo()
    counts = _counts(owner)
    tenant = plans.set_overrides(registry, "bakery", {"products": counts["products"] - 2,
                                                      "pages_and_posts": counts["pages_and_posts"] - 1}, actor=None)
    locked = plans.read_only_paths(registry, tenant, repo)
    products = sorted(p for p, key in locked.items() if key == "products")
    [page_path] = [p for p, key in locked.items() if key == "pages_and_posts"]
    assert len(products) == 2
    editable = next(p for p in repo.paths(repo.head()) if plans.counted(p) == "products" and p not in locked)

    # The lists mark them; the forms show them read-only, saying why and what lifts it.
    assert _badged(owner.get("/products").text) == products
    assert _badged(owner.get("/pages").text) == [page_path]
    form = owner.get(f"/products/edit?path={products[0]}")
    assert form.status_code == 200 and '<fieldset class="plain" disabled>' in form.text
    note = " ".join(html.unescape(re.sub(r"<[^>]+>", "", re.search(r'id="read-only-note">(.*?)</p>', form.text,
                                                                  re.S).group(1))).split())
    assert note.startswith(f"Read-only. {products[0]} is read-only: this site's limit is {counts['products'] - 2} "
                           f"products (set for it by the platform's operator) and the site has {counts['products']}")
    assert ">Save</button>" not in form.text and "Remove this product" in form.text
    assert ">Save</button>" not in owner.get(f"/pages/edit?path={page_path}").text
    assert ">Save</button>" in owner.get(f"/products/edit?path={editable}").text

    # Saving one anyway is refused with the same words, and nothing is written.
    head = repo.head()
    text_ = repo.read(products[0]).decode()
    refused = owner.post("/products/save", {"path": products[0], "base": head, "name": "Changed",
                                            "sku": re.search(r"sku: (\S+)", text_).group(1), "price": "9.99",
                                            "body": "x", "message": "Try"})
    assert refused.status_code == 403 and f"{products[0]} is read-only" in alert(refused)
    refused_page = owner.post("/pages/save", {"path": page_path, "base": head, "title": "Changed", "body": "x",
                                              "message": "Try"})
    assert refused_page.status_code == 403 and f"{page_path} is read-only" in alert(refused_page)
    assert repo.head() == head

    # The usage page lists them; an editable one still saves; removing a read-only one is allowed.
    usage = owner.get("/settings/usage").text
    over = re.search(r'<ul id="over-list">(.*?)</section>', usage, re.S).group(1)
    assert all(p in over for p in (*products, page_path)) and "can be removed, not changed" in over
    original, page_text = repo.read(products[1]), repo.read(page_path)
    try:
        gone = owner.post("/pages/remove", {"path": page_path})
        assert gone.status_code == 303 and repo.read(page_path) is None
        assert owner.post("/pages/remove", {"path": page_path}).status_code == 404  # not there any more
        removed = owner.post("/products/remove", {"path": products[1]})
        assert removed.status_code == 303 and "Removed" in httpx.URL(removed.headers["location"]).params["saved"]
        assert repo.read(products[1]) is None
        assert plans.read_only_paths(registry, registry.get("bakery"), repo) == {products[0]: "products"}
    finally:
        back = {p: data for p, data in ((products[1], original), (page_path, page_text)) if repo.read(p) is None}
        if back:
            repo.write(back, Author("Test", "test@tessera.test"), "Put them back")
