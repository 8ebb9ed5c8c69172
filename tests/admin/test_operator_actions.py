"""The operator's actions on a tenant, over real HTTP against the demo: suspend with a reason the site's
people see (banner, admin and API refusals), an export that `tessera import` restores, delete only after
the slug is typed, and a read-only support view that reads everything, changes nothing, shows its banner,
is audited where the site's owners see it, and ends after an hour."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from click.testing import CliRunner

from commerce_api.tenancy import TenantDatabases
from content.tenants import Tenants
from tests.admin.conftest import PASSWORD, alert, status

OPERATOR = "admin@tessera.test"
REASON = "Invoice INV-7 is 30 days overdue"
SUPPORT_REASON = "Ticket 4812: the owner says checkout shows the wrong tax"


def _audit(site, event: str) -> list[dict]:
    conn = sqlite3.connect(site["data"] / "platform.db")
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM audit_log WHERE event = ? ORDER BY id", (event,)).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
    finally:
        conn.close()


def _platform(site, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(site["data"] / "platform.db")
    try:
        with conn:
            return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _banner(response: httpx.Response, banner_id: str) -> str:
    found = re.search(rf'<div class="banner[^"]*"[^>]*id="{banner_id}">(.*?)</div>', response.text, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else ""


@pytest.fixture(name="operator")
def fx_operator(admin):
    return admin("bakery", OPERATOR)


@pytest.fixture(name="scratch")
def fx_scratch(site):
    """A tenant of its own for a test that deletes or suspends, with a member, a domain, an order and a bucket."""
    made: list[str] = []

    def make(slug: str) -> str:
        store = Tenants(site["data"], site["settings"].sites_dir)
        try:
            tenant = store.create(slug, f"Scratch {slug}", frozenset({"cms", "ecommerce"}), starter="bakery")
            store.registry.add_domain(slug, f"{slug}.example.test")
        finally:
            store.close()
        _platform(site, "INSERT INTO memberships (user_id, tenant_id, role, created_at) "
                        "SELECT id, ?, 'editor', '2026-01-01' FROM users WHERE email = 'editor@agency.test'", (tenant.id,))
        dbs = TenantDatabases(site["data"] / "tenants")
        with dbs.connection(slug) as conn, conn:
            conn.execute(
                "INSERT INTO orders (number, token_hash, email, status, payment_status, provider, currency, subtotal, "
                "shipping, tax, tax_inclusive, total, shipping_method, shipping_address, billing_address, "
                "catalog_version, created_at, updated_at, expires_at) VALUES (1, 'h', 'b@example.test', 'confirmed', "
                "'paid', 'manual', 'EUR', 100, 0, 0, 1, 100, 'standard', '{}', '{}', 'v1', ?, ?, ?)",
                ("2026-01-01T00:00:00+00:00",) * 3)
        dbs.close()
        bucket = site["data"] / "buckets" / slug
        bucket.mkdir(parents=True, exist_ok=True)
        (bucket / "index.html").write_text("<h1>live</h1>")
        made.append(slug)
        return slug

    yield make
    store = Tenants(site["data"], site["settings"].sites_dir)
    try:
        for slug in made:
            if store.registry.find(slug):
                store.delete(slug)
    finally:
        store.close()


# -- suspension with a reason ------------------------------------------------------------------


def test_suspending_needs_a_reason(operator, site, scratch):
    slug = scratch("quiet")
    for reason in ("", "   ", "x" * 501):
        refused = operator.post("/tenants/suspend", {"slug": slug, "reason": reason})
        assert refused.status_code == 303
        assert "reason" in alert(operator.get(refused.headers["location"]))
    assert _platform(site, "SELECT status FROM tenants WHERE slug = ?", (slug,)) == [("active",)]
    assert not [e for e in _audit(site, "tenant.suspended") if e["detail"].get("reason") in ("", "x" * 501)]


def test_the_reason_is_shown_to_the_site_and_in_every_refusal(operator, admin, site, scratch):
    slug = scratch("paused")
    _platform(site, "INSERT INTO memberships (user_id, tenant_id, role, created_at) SELECT users.id, tenants.id, "
                    "'owner', '2026-01-01' FROM users, tenants WHERE users.email = 'owner@studio.test' AND tenants.slug = ?",
              (slug,))
    done = operator.post("/tenants/suspend", {"slug": slug, "reason": REASON, "return_to": "/console"})
    assert done.status_code == 303 and "/console" in done.headers["location"]
    entry = _audit(site, "tenant.suspended")[-1]
    assert entry["detail"]["reason"] == REASON and entry["actor_user_id"] is not None
    assert REASON in operator.get("/tenants").text  # the operator sees the reason beside the Resume button

    owner = admin(slug, "owner@studio.test")
    for path in ("/", "/pages", "/products", "/settings", "/settings/usage", "/activity"):
        response = owner.get(path)
        assert response.status_code == 200, path
        shown = _banner(response, "suspension-banner")
        assert REASON in shown and "can be read but not changed" in shown, path
        assert "storefront shows a suspended page" in shown
    head = owner.repo().head()
    refused = owner.post("/pages/save", {"path": "pages/about.md", "title": "x", "message": "x"})
    assert refused.status_code == 403 and REASON in refused.text
    # The API, with the same session (the admin's own scripts) and with an access token on the tenant's path.
    api = owner.http.post(f"/sites/{slug}/api/admin/publish", headers={"X-CSRF-Token": owner.csrf,
                                                                       "Accept": "application/json"})
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "tenant_suspended" and REASON in api.json()["error"]["message"]
    base = f"http://127.0.0.1:{site['port']}/api/tenant/{slug}"
    login = httpx.post(f"{base}/auth/login", json={"email": "owner@studio.test", "password": PASSWORD})
    token = login.json()["access_token"]
    refused_api = httpx.post(f"{base}/admin/publish", headers={"Authorization": f"Bearer {token}"})
    assert refused_api.status_code == 403 and REASON in refused_api.json()["error"]["message"]
    assert owner.repo().head() == head

    resumed = operator.post("/tenants/resume", {"slug": slug})
    assert resumed.status_code == 303
    assert _banner(owner.get("/"), "suspension-banner") == ""
    assert _platform(site, "SELECT status, json_extract(settings, '$.suspension') FROM tenants WHERE slug = ?",
                     (slug,)) == [("active", None)]


def test_only_operators_suspend(admin, site):
    owner = admin("bakery", "owner@bakery.test")
    assert owner.post("/tenants/suspend", {"slug": "studio", "reason": "mine"}).status_code == 403
    assert _platform(site, "SELECT status FROM tenants WHERE slug = 'studio'") == [("active",)]


# -- export and delete -----------------------------------------------------------------------


def test_the_export_is_an_archive_that_import_restores(operator, site, scratch, tmp_path, monkeypatch):
    slug = scratch("boxed")
    response = operator.get(f"/tenants/export?slug={slug}")
    assert response.status_code == 200
    today = datetime.now(timezone.utc).date().isoformat()
    assert response.headers["content-disposition"] == f'attachment; filename="{slug}-{today}.tar.gz"'
    archive = tmp_path / "boxed.tar.gz"
    archive.write_bytes(response.content)
    exported = _audit(site, "tenant.exported")[-1]
    assert exported["tenant_id"] is not None and exported["detail"]["via"] == "admin"

    from tessera.cli import main

    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "elsewhere"))
    restored = CliRunner().invoke(main, ["import", str(archive)], catch_exceptions=False)
    assert restored.exit_code == 0, restored.output
    store = Tenants(tmp_path / "elsewhere", site["settings"].sites_dir)
    try:
        assert store.registry.get(slug).name == f"Scratch {slug}"
        assert store.repository(slug).head() == Tenants(site["data"], site["settings"].sites_dir).repository(slug).head()
        assert [d.name for d in store.registry.domains(slug)] == [f"{slug}.example.test"]
        with store.open_db(slug) as conn:
            assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    finally:
        store.close()


def test_delete_shows_what_goes_refuses_without_the_slug_then_removes_everything(operator, site, scratch):
    slug = scratch("doomed")
    tenant_id = _platform(site, "SELECT id FROM tenants WHERE slug = ?", (slug,))[0][0]
    shown = operator.get(f"/tenants/delete?slug={slug}")
    assert shown.status_code == 200
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', shown.text))
    source = Tenants(site["data"], site["settings"].sites_dir).repository(slug).source()
    paths = source.paths()
    source.close()
    assert counts == {"pages": str(sum(p.startswith(("pages/", "posts/")) and p.endswith(".md") for p in paths)),
                      "products": str(sum(p.startswith("products/") and p.endswith(".md") for p in paths)),
                      "orders": "1", "members": "1", "domains": "1"}
    assert f'href="/sites/bakery/tenants/export?slug={slug}"' in shown.text and "Download an export first" in shown.text

    for confirm in (None, "", "DOOMED", "doomed2", "bakery"):
        data = {"slug": slug} | ({} if confirm is None else {"confirm": confirm})
        refused = operator.post("/tenants/delete", data)
        assert refused.status_code == 303 and "/tenants/delete" in refused.headers["location"]
        assert "type the slug" in alert(operator.get(refused.headers["location"]))
        assert (site["data"] / "tenants" / slug).is_dir()
    assert _platform(site, "SELECT count(*) FROM tenants WHERE slug = ?", (slug,)) == [(1,)]

    done = operator.post("/tenants/delete", {"slug": slug, "confirm": slug})
    assert done.status_code == 303
    assert "Deleted Scratch doomed" in status(operator.get(done.headers["location"]))
    assert _platform(site, "SELECT count(*) FROM tenants WHERE slug = ?", (slug,)) == [(0,)]
    for table in ("memberships", "domains", "sessions", "api_tokens", "plan_changes"):
        assert _platform(site, f"SELECT count(*) FROM {table} WHERE tenant_id = ?", (tenant_id,)) == [(0,)], table
    assert not (site["data"] / "tenants" / slug).exists()
    assert not (site["data"] / "buckets" / slug).exists()
    entry = _audit(site, "tenant.deleted")[-1]
    assert entry["detail"]["slug"] == slug and entry["actor_user_id"] is not None
    assert {k: entry["detail"][k] for k in ("orders", "members", "domains")} == {"orders": 1, "members": 1, "domains": 1}
    assert operator.get(f"/tenants/delete?slug={slug}").status_code == 404


def test_only_operators_export_or_delete(admin, site):
    owner = admin("bakery", "owner@bakery.test")
    assert owner.get("/tenants/export?slug=bakery").status_code == 403
    assert owner.get("/tenants/delete?slug=bakery").status_code == 403
    assert owner.post("/tenants/delete", {"slug": "bakery", "confirm": "bakery"}).status_code == 403
    assert (site["data"] / "tenants" / "bakery").is_dir()


# -- read-only support view ----------------------------------------------------------------------

READABLE = ["/", "/pages", "/pages/edit?path=pages/about.md", "/media", "/products", "/orders", "/discounts",
            "/gift-cards", "/inbox", "/deploys", "/notifications", "/users", "/webhooks", "/settings",
            "/settings/shipping", "/settings/tax", "/settings/usage", "/activity", "/tokens"]
WRITES = [
    ("/pages/save", {"path": "pages/about.md", "title": "Support was here", "message": "x"}),
    ("/products/save", {"name": "Support", "price": "1.00", "sku": "SUP-1", "message": "x"}),
    ("/publish", {}),
    ("/settings/site", {"name": "Support's site"}),
    ("/settings/payments", {"provider": "manual"}),
    ("/users/invite", {"email": "helper@example.test", "role": "owner"}),
    ("/tokens/new", {"name": "support"}),
    ("/webhooks/new", {"url": "https://hooks.example.test/x", "events": "order.paid"}),
    ("/media/alt", {"name": "print.jpg", "alt": "changed"}),
    ("/pages/preview", {"path": "pages/about.md", "title": "x", "body": "x"}),
    ("/switch", {"tenant": "bakery"}),
    ("/tenants/suspend", {"slug": "bakery", "reason": "from the support view"}),
]


def _support(operator, site, slug: str = "studio", reason: str = SUPPORT_REASON):
    """The operator's client after starting a support view of ``slug`` from their own admin."""
    started = operator.post("/tenants/support", {"slug": slug, "reason": reason})
    assert started.status_code == 303 and started.headers["location"] == f"/sites/{slug}/", started.text
    operator.get(f"/sites/{slug}/")  # the view's own CSRF token, for the one form it may send
    return started


@pytest.fixture(name="support")
def fx_support(admin, site):
    operator = admin("bakery", OPERATOR)
    _support(operator, site)
    yield operator
    operator.post("/sites/studio/support/end")


def test_support_view_reads_every_page_with_its_banner(support):
    for path in READABLE:
        response = support.get(f"/sites/studio{path}")
        assert response.status_code == 200, path
        banner = _banner(response, "support-banner")
        assert f"Support view by {OPERATOR} (read-only): {SUPPORT_REASON}" in banner, path
        assert "End support view" in response.text


@pytest.mark.parametrize("path, data", WRITES, ids=[p for p, _ in WRITES])
def test_support_view_changes_nothing(support, site, path, data):
    repo = Tenants(site["data"], site["settings"].sites_dir).repository("studio")
    head = repo.head()
    jobs = _platform(site, "SELECT count(*) FROM jobs")
    refused = support.post(f"/sites/studio{path}", data)
    assert refused.status_code == 403, path
    assert "read-only support view" in refused.text
    assert repo.head() == head and _platform(site, "SELECT count(*) FROM jobs") == jobs
    assert _platform(site, "SELECT status FROM tenants WHERE slug = 'bakery'") == [("active",)]


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/admin/publish", None),
    ("POST", "/api/admin/tokens", {"name": "support"}),
    ("POST", "/api/admin/members", {"email": "helper@example.test", "role": "owner"}),
    ("PATCH", "/api/admin/tenant", {"name": "Support's"}),
])
def test_support_view_is_refused_by_the_api(support, site, method, path, body):
    response = support.http.request(method, f"/sites/studio{path}", json=body,
                                    headers={"X-CSRF-Token": support.csrf, "Accept": "application/json"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "read_only"
    assert _platform(site, "SELECT count(*) FROM api_tokens WHERE name = 'support'") == [(0,)]


def test_support_view_shows_no_secret(support, site):
    from commerce_api.shop.payments import StripeKeys, seal_payments

    secret, webhook = "sk_test_" + "S3cr3t" * 6, "whsec_" + "W3bh00k" * 5
    store = Tenants(site["data"], site["settings"].sites_dir)
    try:
        before = store.registry.get("studio").settings.get("payments")
        store.registry.update("studio", settings={"payments": seal_payments(site["settings"].secret_key, "stripe",
                                                                            StripeKeys(secret, webhook))})
        for path in ("/settings", "/webhooks", "/tokens", "/users", "/notifications"):
            text = support.get(f"/sites/studio{path}").text
            assert secret not in text and webhook not in text and "S3cr3tS3cr3t" not in text, path
    finally:
        store.registry.update("studio", settings={"payments": before or {"provider": "manual"}})
        store.close()


def test_support_view_is_audited_and_visible_to_the_sites_owner(admin, site):
    operator = admin("bakery", OPERATOR)
    _support(operator, site, reason="Ticket 5000: pages look empty")
    started = _audit(site, "support.started")[-1]
    studio_id = _platform(site, "SELECT id FROM tenants WHERE slug = 'studio'")[0][0]
    assert started["tenant_id"] == studio_id and started["detail"]["reason"] == "Ticket 5000: pages look empty"
    ended = operator.post("/sites/studio/support/end")
    assert ended.status_code == 303
    assert _audit(site, "support.ended")[-1]["tenant_id"] == studio_id
    gone = operator.get("/sites/studio/")
    assert gone.status_code in (303, 401) or "Sign in" in gone.text  # the view's session is closed

    owner = admin("studio", "owner@studio.test")
    page = owner.get("/activity")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-event="([a-z.]+)"( class="highlight")?>(.*?)</tr>', page.text, re.S)
    support_rows = [(event, hl, body) for event, hl, body in rows if event.startswith("support.")]
    assert [event for event, _, _ in support_rows[:2]] == ["support.ended", "support.started"]  # newest first
    assert all(hl for _, hl, _ in support_rows)
    assert "Ticket 5000: pages look empty" in support_rows[1][2] and OPERATOR in support_rows[1][2]


@pytest.mark.parametrize("email", ["editor@agency.test", "shop@bakery.test"])
def test_activity_is_for_owners_and_admins(admin, email):
    person = admin("bakery", email)
    assert person.get("/activity").status_code == 403
    assert 'href="/sites/bakery/activity"' not in person.get("/settings").text
    assert 'href="/sites/bakery/activity"' in admin("bakery", "owner@bakery.test").get("/settings").text


def test_activity_pages_newest_first(admin, site):
    owner = admin("bakery", "owner@bakery.test")
    bakery_id = _platform(site, "SELECT id FROM tenants WHERE slug = 'bakery'")[0][0]
    conn = sqlite3.connect(site["data"] / "platform.db")
    with conn:
        conn.executemany("INSERT INTO audit_log (at, tenant_id, event, detail) VALUES (?, ?, 'test.entry', ?)",
                         [("2026-01-01T00:00:00+00:00", bakery_id, json.dumps({"n": n})) for n in range(1, 121)])
    conn.close()
    total = _platform(site, "SELECT count(*) FROM audit_log WHERE tenant_id = ?", (bakery_id,))[0][0]
    numbers = []
    for n in (1, 2, 3):
        page = owner.get(f"/activity?n={n}")
        assert page.status_code == 200
        numbers += [int(x) for x in re.findall(r'data-event="test.entry">.*?n: (\d+)<', page.text, re.S)]
    assert numbers == list(range(120, 0, -1))
    assert f"of {total}." in owner.get("/activity").text
    assert owner.get("/activity?n=abc").status_code == 400


def test_only_operators_start_a_support_view(admin, site):
    owner = admin("bakery", "owner@bakery.test")
    before = len(_audit(site, "support.started"))
    assert owner.post("/tenants/support", {"slug": "studio", "reason": "curious"}).status_code == 403
    assert len(_audit(site, "support.started")) == before
    operator = admin("bakery", OPERATOR)
    refused = operator.post("/tenants/support", {"slug": "studio", "reason": ""})
    assert refused.status_code == 303 and "reason" in alert(operator.get(refused.headers["location"]))
    assert len(_audit(site, "support.started")) == before


def test_support_view_lasts_an_hour_at_most(admin, site):
    operator = admin("bakery", OPERATOR)
    _support(operator, site, reason="Ticket 6000")
    created, expires = _platform(site, "SELECT created_at, expires_at FROM sessions WHERE read_only = 1 "
                                       "AND support_reason = 'Ticket 6000'")[0]
    assert datetime.fromisoformat(expires) - datetime.fromisoformat(created) <= timedelta(hours=1)
    assert operator.get("/sites/studio/pages").status_code == 200
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(timespec="seconds")
    _platform(site, "UPDATE sessions SET expires_at = ? WHERE support_reason = 'Ticket 6000'", (past,))
    expired = operator.get("/sites/studio/pages")
    assert expired.status_code in (303, 401)
    assert "Support view by" not in expired.text
