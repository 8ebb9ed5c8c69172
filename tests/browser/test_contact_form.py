"""The studio's contact form in Chromium, with JavaScript and without: the thanks shows in place
and the message is in the owner's inbox."""

from __future__ import annotations

import re


def contact(site) -> str:
    return f"http://studio.localhost:{site['port']}/contact/"


def fill(page, name: str) -> None:
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Message").fill("A series on concrete stairwells,\nsix buildings in Leipzig.")
    page.get_by_label("Budget").select_option("Not sure yet")


def open_inbox(page, site, name: str) -> None:
    page.goto(f"http://admin.localhost:{site['port']}/sites/studio/inbox")
    if page.url.endswith("/login"):
        page.get_by_label("Email").fill("owner@studio.test")
        page.get_by_label("Password").fill("tessera-demo")
        page.get_by_label("Password").press("Enter")
        page.get_by_role("heading", name="Dashboard").wait_for()
        page.goto(f"http://admin.localhost:{site['port']}/sites/studio/inbox")
    page.get_by_role("link", name=name).click()
    page.get_by_role("heading", name=f"Message from {name}").wait_for()
    assert "six buildings in Leipzig." in page.locator("main").inner_text()
    assert "Not sure yet" in page.locator("main").inner_text()


def test_the_contact_form_with_javascript_reaches_the_inbox(site, page):
    page.clock.install()  # the script times the filling-in: let a person's few seconds pass at once
    page.goto(contact(site))
    fill(page, "Grace Hopper")
    page.clock.fast_forward(8000)
    page.get_by_role("button", name="Send message").click()
    thanks = page.get_by_role("status").filter(has_text="Your message is on its way")
    thanks.wait_for()
    assert page.url.endswith("#contact-sent") and not page.get_by_role("button", name="Send message").is_visible()
    assert page.evaluate("document.activeElement.id") == "contact-sent"
    open_inbox(page, site, "Grace Hopper")


def test_the_contact_form_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(contact(site))
        fill(page, "Plain Poster")
        page.get_by_role("button", name="Send message").click()
        page.wait_for_url(re.compile(r"/contact/#contact-sent$"))
        assert page.get_by_text("Your message is on its way").is_visible()
        open_inbox(page, site, "Plain Poster")
    finally:
        context.close()


def test_a_robot_fast_as_lightning_is_thanked_and_ignored(site, page):
    page.clock.install()
    page.goto(contact(site))
    fill(page, "Speedy Robot")
    page.get_by_role("button", name="Send message").click()  # well under three seconds after loading
    page.get_by_role("status").filter(has_text="Your message is on its way").wait_for()
    page.goto(f"http://admin.localhost:{site['port']}/sites/studio/login")
    page.get_by_label("Email").fill("owner@studio.test")
    page.get_by_label("Password").fill("tessera-demo")
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(f"http://admin.localhost:{site['port']}/sites/studio/inbox?status=all")
    assert "Speedy Robot" not in page.locator("main").inner_text()
