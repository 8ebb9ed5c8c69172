"""The admin UI in a real browser: sign in, dashboard, edit a page (a commit), a conflict shown
side by side, history and undo; with keyboard-reachable controls and no serious axe violations."""

from __future__ import annotations

from content.gitrepo import Repository


def admin(site, path=""):
    return f"http://admin.localhost:{site['port']}/sites/bakery{path}"


def sign_in(page, site, email="owner@bakery.test", password="tessera-demo"):
    page.goto(admin(site, "/pages"))
    assert page.url.endswith("/sites/bakery/login")  # signed out: sent to sign in
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")  # keyboard only
    page.get_by_role("heading", name="Dashboard").wait_for()


def repo(site) -> Repository:
    return Repository(site["data"] / "tenants" / "bakery" / "repo.git")


def test_wrong_password_is_refused_without_saying_why(site, page):
    page.goto(admin(site, "/login"))
    page.get_by_label("Email").fill("nobody@bakery.test")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "the email or password is wrong"


def test_dashboard_edit_and_history(site, page):
    sign_in(page, site)
    assert page.get_by_role("heading", name="Last publish").is_visible()
    # No sales yet: the revenue section says so instead of drawing an empty chart.
    assert page.get_by_text("No sales in the last 30 days").is_visible()
    assert page.locator("svg[role=img]").count() == 0
    page.get_by_role("button", name="Publish now").click()
    page.get_by_role("status").filter(has_text="Publishing (job").wait_for()
    page.get_by_role("link", name="Pages and posts").click()
    page.get_by_role("link", name="About the bakery", exact=True).click()
    body = page.get_by_label("Text (Markdown)")
    body.fill(body.input_value() + "\n\nWe also bake on bank holidays.\n")
    page.get_by_label("What did you change?").fill("Mention bank holidays")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    latest = repo(site).history()[0]
    assert latest.message == "Mention bank holidays" and latest.email == "owner@bakery.test"
    assert b"bank holidays" in repo(site).read("pages/about.md")

    page.get_by_role("link", name="History").click()
    page.get_by_role("heading", name="Mention bank holidays").wait_for()
    assert "+We also bake on bank holidays." in page.locator("pre.diff").first.text_content()
    page.get_by_role("button", name="Undo this change").first.click()
    page.get_by_role("status").filter(has_text="Change undone.").wait_for()
    assert b"bank holidays" not in repo(site).read("pages/about.md")


def test_stale_edit_shows_both_versions_and_overwrites_nothing(site, browser):
    first, second = browser.new_context(), browser.new_context()
    a, b = first.new_page(), second.new_page()
    sign_in(a, site)
    sign_in(b, site)
    for tab in (a, b):
        tab.goto(admin(site, "/pages/edit?path=pages/delivery.md"))
    a.get_by_label("Title", exact=True).fill("Delivery and collection (updated)")
    a.get_by_label("What did you change?").fill("Retitle")
    a.get_by_role("button", name="Save").click()
    a.get_by_role("status").filter(has_text="Saved.").wait_for()
    b.get_by_label("Title", exact=True).fill("Shipping")
    b.get_by_label("What did you change?").fill("Another retitle")
    b.get_by_role("button", name="Save").click()
    alert = b.get_by_role("alert")
    alert.wait_for()
    assert "Someone else saved this file" in alert.inner_text()
    assert "Delivery and collection (updated)" in b.get_by_role("heading", name="Their version (saved)").locator("..").inner_text()
    assert "title: Shipping" in b.get_by_role("heading", name="Your version (not saved)").locator("..").inner_text()
    assert b"(updated)" in repo(site).read("pages/delivery.md")
    # Saving again from the conflict page overwrites theirs only once this person says they merged it.
    b.get_by_role("button", name="Save").click()
    assert b"(updated)" in repo(site).read("pages/delivery.md")
    b.get_by_label("I have copied what I need from their version into mine").check()
    b.get_by_role("button", name="Save").click()
    b.get_by_role("status").filter(has_text="Saved.").wait_for()
    assert b"title: Shipping" in repo(site).read("pages/delivery.md")
    first.close()
    second.close()


def test_invalid_front_matter_is_refused_with_the_field(site, page):
    sign_in(page, site)
    page.goto(admin(site, "/pages/edit?path=pages/about.md"))
    page.get_by_label("Publish date").fill("next tuesday")
    page.get_by_label("What did you change?").fill("Bad date")
    head = repo(site).head()
    page.get_by_role("button", name="Save").click()
    assert "published_at: 'next tuesday' is not a date" in page.get_by_role("alert").inner_text()
    assert repo(site).head() == head


def test_shop_managers_cannot_write_pages_and_forms_need_csrf(site, page):
    import httpx

    sign_in(page, site)
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "tessera_session")
    forged = httpx.post(f"http://127.0.0.1:{site['port']}/sites/bakery/pages/save", headers={"Host": "admin.localhost"},
                        data={"path": "pages/about.md", "title": "Hacked", "message": "x"},
                        cookies={"tessera_session": cookie}, follow_redirects=False)  # no csrf_token
    assert forged.status_code == 403 and b"Hacked" not in repo(site).read("pages/about.md")
