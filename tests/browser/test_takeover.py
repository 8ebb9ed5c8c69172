"""The takeover from the security review, end to end in Chromium.

An editor's script on a storefront page, opened by a signed-in owner and by a signed-in operator,
must change nothing: the admin lives on its own origin, and here the sites and the admin share a
registrable domain (``*.tessera.test``, as ``*.example.com`` would in production), so the browser
does send the admin's cookies with the script's requests: what stops them is the admin itself.
CSP is bypassed in these browsers on purpose: this proves the origin wall holds even when a
script does run on a storefront.
"""

from __future__ import annotations

import re

import pytest

from content.gitrepo import Author, Repository
from content.tenants import Tenants
from tests.browser.conftest import ARGS, CHROMIUM
from tests.conftest import demo_site
from tests.publish.test_git_push import git, remote
from tessera.sites import publish_tenant

BASE = "tessera.test"
EVIL = """{% extends "theme:page.html" %}
{% block main %}{{ super() }}<script>
(async () => {
  const admin = "http://admin.tessera.test:PORT";
  // no-cors, as a forged form would: the browser sends it with the cookies and hides the answer.
  const post = (url, body) => fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
                                          body: new URLSearchParams(body)}).then(r => r.type === "basic" ? r.status : r.type, () => "blocked");
  const seen = [];
  seen.push(await post(admin + "/sites/bakery/users/role", {user: "EDITOR", role: "admin"}));
  seen.push(await post(admin + "/sites/bakery/tenants/update", {slug: "studio", action: "suspend"}));
  seen.push(await post("/admin/users/role", {user: "EDITOR", role: "admin"}));
  seen.push(await post("/api/auth/session", {email: "owner@bakery.test", password: "x"}));
  let token = "";
  try {  // read a page of the admin to steal its CSRF token
    const page = await (await fetch(admin + "/sites/bakery/users", {credentials: "include"})).text();
    token = (page.match(/name="csrf_token" value="([^"]+)"/) || ["", ""])[1];
  } catch (e) { token = "unreadable"; }
  seen.push(await post(admin + "/sites/bakery/users/role", {user: "EDITOR", role: "admin", csrf_token: token}));
  document.body.dataset.attack = JSON.stringify({seen, token, cookie: document.cookie});
})();
</script>{% endblock %}
"""


@pytest.fixture(name="site", scope="module")
def fx_site(tmp_path_factory):
    with demo_site(tmp_path_factory, {"TESSERA_BASE_DOMAIN": BASE}) as site:
        yield site


@pytest.fixture(name="browser", scope="module")
def fx_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=[*ARGS, f"--host-resolver-rules=MAP *.{BASE} 127.0.0.1"])
        yield browser
        browser.close()


def _sign_in(browser, site, email: str):
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"http://admin.{BASE}:{site['port']}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("tessera-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your sites").wait_for()
    page.get_by_role("link", name=re.compile("Rye")).click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    return context, page


def test_a_script_on_the_storefront_cannot_act_as_the_signed_in_owner_or_operator(site, browser, tmp_path):
    from commerce_api.platform import PlatformDB
    from commerce_api.audit import Audit
    from commerce_api.auth.users import Users

    settings = site["settings"]
    db = PlatformDB(settings.data_dir / "platform.db")
    users, audit = Users(db), Audit(db)
    editor = users.find("editor@agency.test")
    bakery = db.registry.find("bakery")
    assert users.role(editor.id, bakery.id) == "editor"

    script = EVIL.replace("PORT", str(site["port"])).replace("EDITOR", str(editor.id))
    # First, as the review found it: the editor pushes the script and the override with git. Refused.
    work = tmp_path / "work"
    git("clone", "-q", remote(site["port"], "editor@agency.test", "tessera-demo", slug="bakery"), str(work))
    (work / "theme" / "templates").mkdir(parents=True)
    (work / "theme" / "templates" / "page.html").write_text(script)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "Nothing to see", cwd=work)
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "theme/templates/page.html" in pushed.stderr and "theme:write" in pushed.stderr, pushed.stderr
    git("reset", "-q", "--hard", "origin/main", cwd=work)
    (work / "media" / "evil.js").write_text("fetch('/admin/users/role', {method: 'POST'})")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "A helper script", cwd=work)
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0 and "media/evil.js" in pushed.stderr, pushed.stderr

    # The worst case next: the override is in the site anyway (an owner added it, or an owner's
    # account was taken over), and a script runs on the storefront.
    repo = Repository(settings.data_dir / "tenants" / "bakery" / "repo.git")
    repo.write({"theme/templates/page.html": script.encode()}, Author("Owner", "owner@bakery.test"), "Override")
    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        publish_tenant(settings, tenants, "bakery", actor="test")
    finally:
        tenants.close()
    last_event = max((e["id"] for e in audit.entries(limit=1)), default=0)

    for email in ("owner@bakery.test", "admin@tessera.test"):
        context, page = _sign_in(browser, site, email)
        admin_answers: list[tuple[str, int]] = []  # from here on, only the storefront's script calls the admin
        page.on("response", lambda r, log=admin_answers: log.append((r.url, r.status))
                if r.url.startswith(f"http://admin.{BASE}") else None)
        page.goto(f"http://bakery.{BASE}:{site['port']}/about/")
        page.wait_for_function("document.body.dataset.attack !== undefined", timeout=30_000)
        outcome = page.evaluate("JSON.parse(document.body.dataset.attack)")
        context.close()

        assert "tessera_session" not in outcome["cookie"]  # the storefront never holds the cookie
        assert outcome["token"] in ("", "unreadable")  # the admin's pages cannot be read from the site
        assert all(seen in ("opaque", "blocked") or seen >= 400 for seen in outcome["seen"]), outcome
        # The site and the admin are same-site here, so the browser did attach the session cookie to
        # the script's requests to the admin; the admin refused every one of them (no CSRF token;
        # over HTTPS, browsers also send Fetch Metadata, which the admin checks first).
        assert admin_answers and all(status >= 400 for _, status in admin_answers), admin_answers

    assert users.role(editor.id, bakery.id) == "editor"
    assert not db.registry.find("studio").suspended
    events = [e for e in audit.entries(limit=1000) if e["id"] > last_event]
    assert not [e for e in events if e["event"] not in ("login",)], events
