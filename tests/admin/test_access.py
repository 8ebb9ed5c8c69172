"""Who sees what in the admin: menus follow role and feature, the server refuses the rest anyway,
forms without their CSRF token change nothing, and each account moves only between its own sites."""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest

from tests.admin.conftest import PASSWORD, alert

MENU = re.compile(r'<nav aria-label="Admin">(.*?)</nav>', re.S)


def menu(response) -> list[str]:
    return re.findall(r">([^<]+)</a></li>", MENU.search(response.text).group(1))


@pytest.mark.parametrize("tenant, email, shown, refused", [
    ("bakery", "owner@bakery.test",
     ["Dashboard", "Pages and posts", "Media", "Inbox", "Products", "Orders", "Discounts", "Gift cards", "Reports",
      "Deploys", "Notifications", "Users", "Webhooks", "Settings", "Your account"], []),
    ("bakery", "editor@agency.test", ["Dashboard", "Pages and posts", "Media", "Inbox", "Products", "Reports",
                                      "Deploys", "Settings", "Your account"],
     ["/orders", "/gift-cards", "/users", "/webhooks", "/tenants", "/notifications", "/discounts", "/reports/tax",
      "/reports/tax.csv", "/activity"]),
    ("bakery", "shop@bakery.test", ["Dashboard", "Pages and posts", "Media", "Inbox", "Products", "Orders",
                                    "Discounts", "Gift cards", "Reports", "Deploys", "Notifications", "Settings",
                                    "Your account"],
     ["/users", "/webhooks", "/tenants", "/activity"]),
    ("studio", "owner@studio.test",  # the studio sells prints: its owner sees the shop too
     ["Dashboard", "Pages and posts", "Media", "Inbox", "Products", "Orders", "Discounts", "Gift cards", "Reports",
      "Deploys", "Notifications", "Users", "Webhooks", "Settings", "Your account"], ["/tenants"]),
    ("studio", "admin@tessera.test",
     ["Dashboard", "Pages and posts", "Media", "Inbox", "Products", "Orders", "Discounts", "Gift cards", "Reports",
      "Deploys", "Notifications", "Users", "Webhooks", "Settings", "Your account", "Tenants"], []),
])
def test_menus_follow_role_and_feature_and_the_server_refuses_the_rest(admin, tenant, email, shown, refused):
    session = admin(tenant, email)
    assert menu(session.get("/")) == shown
    for path in refused:
        response = session.get(path)
        assert response.status_code == 403, path
        assert response.headers["content-type"].startswith("text/html")  # a readable page, not JSON
        assert "<h1>Not allowed</h1>" in response.text


def test_writes_the_role_does_not_allow_are_refused(admin):
    editor = admin("bakery", "editor@agency.test")
    head = editor.repo().head()
    assert editor.post("/products/save", {"name": "Sneaky", "price": "1.00", "sku": "SN-1",
                                                "message": "x"}).status_code == 403
    assert editor.post("/users/invite", {"email": "friend@example.test", "role": "owner"}).status_code == 403
    assert editor.post("/stock", {"path": "products/baguette.md", "on_hand.BG-1": "999"}).status_code == 403
    assert editor.post("/settings/site", {"name": "Mine now"}).status_code == 403
    assert editor.repo().head() == head


@pytest.mark.parametrize("path, data", [
    ("/pages/save", {"path": "pages/about.md", "title": "Forged", "message": "forged"}),
    ("/products/save", {"name": "Forged", "price": "1.00", "sku": "FG-1", "message": "forged"}),
    ("/settings/site", {"name": "Forged"}),
    ("/media/alt", {"name": "baguette.jpg", "alt": "Forged"}),
    ("/users/invite", {"email": "attacker@example.test", "role": "owner"}),
    ("/tokens/new", {"name": "forged"}),
    ("/publish", {}),
])
def test_a_post_without_the_csrf_token_changes_nothing(admin, path, data):
    owner = admin()
    head = owner.repo().head()
    response = owner.post(path, data, csrf=False)
    assert response.status_code == 403
    assert "security token" in response.text
    assert owner.repo().head() == head


def test_the_admin_origin_lists_the_sites_of_the_account_and_opens_one(admin, site):
    platform = admin(None, "")
    rows = "SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM handoffs)"
    before = sqlite3.connect(site["data"] / "platform.db").execute(rows).fetchone()[0]
    page = platform.sign_in("editor@agency.test", "tessera-demo")
    assert page.status_code == 200 and "Your sites" in page.text
    links = dict(re.findall(r'<a href="(/go/[a-z]+)">([^<]+)</a>', page.text))
    assert links == {"/go/bakery": "Rye &amp; Crumb Bakery", "/go/studio": "Studio Lumen"}
    # Signing in writes nothing per site: only opening one does.
    assert sqlite3.connect(site["data"] / "platform.db").execute(rows).fetchone()[0] == before
    landed = platform.http.get("/go/studio")
    assert landed.status_code == 303 and landed.headers["location"] == "/sites/studio/"
    cookie = landed.headers["set-cookie"]
    assert "tessera_session=" in cookie and "Path=/sites/studio" in cookie and "Domain" not in cookie
    assert "Studio Lumen" in platform.http.get("/sites/studio/").text
    # A site the account does not belong to is not opened, and without the pass nothing is.
    outsider = platform.http.get("/go/nosuch")
    assert outsider.status_code == 404 and "tessera_session" not in outsider.headers.get("set-cookie", "")
    stranger = admin(None, "").http.get("/go/studio")
    assert stranger.status_code == 401 and 'name="login_token"' in stranger.text  # the sign-in form, not a dead end
    assert "tessera_session" not in stranger.headers.get("set-cookie", "")


def test_the_list_of_sites_searches_and_ends_with_a_password_change(admin, site):
    platform = admin(None, "")
    assert platform.sign_in("editor@agency.test", "tessera-demo").status_code == 200
    found = platform.http.get("/choose", params={"q": "lumen"})
    assert found.status_code == 200 and "/go/studio" in found.text and "/go/bakery" not in found.text
    nothing = platform.http.get("/choose", params={"q": "<nothing>"})
    assert "No site matches" in nothing.text and "&lt;nothing&gt;" in nothing.text and "<nothing>" not in nothing.text
    conn = sqlite3.connect(site["data"] / "platform.db")
    changed = conn.execute("SELECT password_changed_at FROM users WHERE email = 'editor@agency.test'").fetchone()[0]
    with conn:
        conn.execute("UPDATE users SET password_changed_at = '2099-01-01T00:00:00+00:00' WHERE email = 'editor@agency.test'")
    try:
        assert platform.http.get("/choose").status_code == 303  # the pass predates the new password: sign in again
        assert platform.http.get("/go/studio").status_code == 401
    finally:
        with conn:
            conn.execute("UPDATE users SET password_changed_at = ? WHERE email = 'editor@agency.test'", (changed,))


def test_the_admin_is_never_on_a_tenants_host(admin, site):
    """The storefront runs what the site's people write; the admin and its cookies live elsewhere."""
    port = site["port"]
    for host, path, target in [
            (f"bakery.localhost:{port}", "/admin/pages?q=rye", f"http://admin.localhost:{port}/sites/bakery/pages?q=rye"),
            (f"bakery.localhost:{port}", "/admin", f"http://admin.localhost:{port}/sites/bakery/"),
            (f"localhost:{port}", "/admin/login", f"http://admin.localhost:{port}/login")]:
        moved = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
        assert moved.status_code == 302 and moved.headers["location"] == target
        assert "set-cookie" not in moved.headers
    posted = httpx.post(f"http://127.0.0.1:{port}/admin/login", headers={"Host": f"bakery.localhost:{port}"},
                        data={"email": "owner@bakery.test", "password": PASSWORD})
    assert posted.status_code == 303 and "set-cookie" not in posted.headers
    # The admin's origin serves no tenant's files, and a session cookie replayed at a tenant's host
    # (where a pushed script could have read it) opens nothing.
    owner = admin()
    assert owner.http.get("/sites/bakery/index.html").status_code == 404
    assert owner.http.get("/media/baguette.jpg").status_code == 404
    token = next(c.value for c in owner.http.cookies.jar if c.name == "tessera_session")
    replayed = httpx.get(f"http://127.0.0.1:{port}/api/auth/me", headers={"Host": f"bakery.localhost:{port}"},
                         cookies={"tessera_session": token})
    assert replayed.status_code == 401
    members = httpx.get(f"http://127.0.0.1:{port}/api/admin/members", headers={"Host": f"bakery.localhost:{port}"},
                        cookies={"tessera_session": token})
    assert members.status_code == 401


def test_other_sites_may_link_to_the_admin_but_not_post_to_it_or_load_it(admin):
    """Fetch Metadata: a script on a tenant's site (same registrable domain in production) can make
    the browser send the admin's cookies; the admin refuses anything but a plain navigation."""
    owner = admin()
    before = owner.get("/users").text
    forged = owner.post("/users/invite", {"email": "x@example.test", "role": "owner"},
                        headers={"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "cross_origin"
    read = owner.http.get("/users", headers={"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors",
                                             "Sec-Fetch-Dest": "empty"})
    assert read.status_code == 403
    framed = owner.http.get("/users", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                                               "Sec-Fetch-Dest": "iframe"})
    assert framed.status_code == 403
    linked = owner.http.get("/users", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                                               "Sec-Fetch-Dest": "document"})
    assert linked.status_code == 200 and "x@example.test" not in linked.text
    mine = owner.post("/users/invitations/revoke", {"id": "0"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert mine.status_code != 403
    assert owner.get("/users").text.count("x@example.test") == before.count("x@example.test")


def test_on_the_admin_origin_only_the_path_names_the_site(admin):
    owner = admin()
    token = next(c.value for c in owner.http.cookies.jar if c.name == "tessera_session")
    outside = httpx.get(f"http://127.0.0.1:{owner.site['port']}/pages", cookies={"tessera_session": token},
                        headers={"Host": owner.host, "X-Tenant-ID": "bakery", "Accept": "text/html"})
    assert outside.status_code == 303 and outside.headers["location"] == "/login"


def test_a_session_is_for_its_own_site_only(admin):
    editor = admin("bakery", "editor@agency.test")
    # Same origin, other site: the cookie is not even sent, and no page opens without signing in there.
    other = editor.http.get("/sites/studio/pages")
    assert other.status_code == 303 and other.headers["location"] == "/sites/studio/login"


def test_wrong_password_on_the_platform_host_says_nothing_about_the_account(admin):
    platform = admin(None, "")
    page = platform.sign_in("editor@agency.test", "nope nope nope")
    assert page.status_code == 401 and alert(page) == "the email or password is wrong"


def test_a_sign_in_posted_from_elsewhere_is_refused(admin):
    """Login CSRF: a form on another site cannot sign the visitor in, even with the right password."""
    visitor = admin("bakery", "")
    forged = visitor.http.post("/login", data={"email": "owner@bakery.test", "password": "tessera-demo"})
    assert forged.status_code == 403 and "stale" in alert(forged)
    assert "tessera_session" not in forged.headers.get("set-cookie", "")
    visitor.http.get("/login")  # the visitor's own cookie, but the attacker cannot know its value
    guessed = visitor.http.post("/login", data={"email": "owner@bakery.test", "password": "tessera-demo",
                                                      "login_token": "guess"})
    assert guessed.status_code == 403


def test_switching_goes_only_to_sites_the_account_belongs_to(admin, site):
    editor = admin("bakery", "editor@agency.test")
    assert 'value="studio"' in editor.get("/").text  # the switcher offers the other site
    moved = editor.post("/switch", {"tenant": "studio"})
    assert moved.status_code == 303 and moved.headers["location"] == "/sites/studio/"
    assert "Studio Lumen" in editor.get("/sites/studio/").text
    assert "Rye" in editor.get("/").text  # still signed in at the bakery, in another tab
    owner = admin("bakery", "owner@bakery.test")
    assert "switch-tenant" not in owner.get("/").text  # one site: no switcher
    assert owner.post("/switch", {"tenant": "studio"}).status_code == 403


def test_only_operators_manage_tenants(admin):
    operator = admin("bakery", "admin@tessera.test")
    page = operator.get("/tenants")
    assert page.status_code == 200 and "Studio Lumen" in page.text
    reasonless = operator.post("/tenants/update", {"slug": "studio", "action": "suspend"})
    assert "reason" in alert(operator.get(reasonless.headers["location"]))  # a suspension says why
    done = operator.post("/tenants/update", {"slug": "studio", "action": "suspend", "reason": "Spring cleaning"})
    assert done.status_code == 303
    assert "Spring cleaning" in operator.get("/tenants").text
    studio = admin("studio", "owner@studio.test")
    refused = studio.post("/pages/save", {"path": "pages/about.md", "title": "x", "message": "x"})
    assert refused.status_code == 403  # a suspended site can be read, not changed
    assert refused.headers["content-type"].startswith("text/html") and "this site is suspended" in refused.text
    assert "Reason: Spring cleaning" in refused.text
    assert studio.get("/pages").status_code == 200
    operator.post("/tenants/update", {"slug": "studio", "action": "resume"})
    created = operator.post("/tenants/create", {"slug": "florist", "name": "Petal & Stem", "starter": "studio",
                                                      "features": ["cms"]})
    assert created.status_code == 303 and "Created Petal" in created.headers["location"].replace("%20", " ")
    assert "Petal &amp; Stem" in operator.get("/tenants").text


def test_the_admin_shows_only_messages_it_wrote(admin):
    """A link from elsewhere (an email, a chat) cannot make the admin say "call this number"."""
    owner = admin()
    saved = owner.post("/media/alt", {"name": "baguette.jpg", "alt": "A long baguette"})
    shown = owner.get(saved.headers["location"])
    assert "Alt text for baguette.jpg saved." in shown.text
    forged = owner.get("/?error=Your+session+expired,+call+0800+123")
    assert "0800" not in forged.text
    tampered = owner.get(saved.headers["location"].replace("saved=Alt", "saved=Call%200800%20Alt"))
    assert "0800" not in tampered.text
    link = owner.get("/users?link=https://evil.example/phish")
    assert "evil.example" not in link.text


def test_a_site_without_a_shop_has_no_shop_pages(admin):
    operator = admin("bakery", "admin@tessera.test")
    created = operator.post("/tenants/create", {"slug": "quill", "name": "Quill Press", "starter": "studio",
                                                "features": ["cms"]})
    assert created.status_code == 303
    session = admin("quill", "admin@tessera.test")
    assert "Reports" not in menu(session.get("/"))
    for path in ("/products", "/orders", "/reports/tax", "/reports/tax.csv", "/settings/shipping", "/settings/tax"):
        assert session.get(path).status_code in (403, 404), path
