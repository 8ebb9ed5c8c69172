"""The basket and checkout without a mouse, with reduced motion, and as they look: a whole order placed with
Tab, Shift+Tab, Enter, Space and typing only; transitions off when the shopper asks for less motion; the
filled basket, checkout and confirmation checked by axe and saved as full-page screenshots (390 and 1280 px)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_storefront import add, url

SHOTS = Path(os.environ.get("TESSERA_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")) / "screenshots"


def tab_to(page, target, *, back: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus, as a keyboard user would; fails past ``limit``."""
    for _ in range(limit):
        if target.evaluate("node => node === document.activeElement"):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{target} was not reached with the keyboard in {limit} presses")


def focus_is_visible(page) -> bool:
    """The focused element draws a focus ring (an outline that is not none)."""
    return page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                         " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }")


def test_a_whole_order_with_the_keyboard_only(site, page):
    page.goto(url(site, "bakery", "/products/baguette/"))
    single = page.get_by_label("Single", exact=False).first
    tab_to(page, single)
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Add to basket"))
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    view = page.get_by_role("status").get_by_role("link", name="View basket")
    view.wait_for()
    tab_to(page, view)
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/cart/$"))
    more = page.get_by_role("button", name="One more Baguette Tradition – Single")
    tab_to(page, more)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Quantity of Baguette Tradition – Single")).to_have_value("2")
    expect(more).to_be_focused()
    checkout = page.get_by_role("link", name="Go to checkout")
    tab_to(page, checkout)
    assert focus_is_visible(page)
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/checkout/$"))
    email = page.get_by_label("Email")
    tab_to(page, email)
    expect(page.locator(".progress li").first).to_have_attribute("aria-current", "step")  # Contact
    page.keyboard.type("kit@example.test")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Full name")).to_be_focused()
    page.keyboard.type("Kit Keys")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Country", exact=True)).to_be_focused()
    expect(page.get_by_label("Country", exact=True)).to_have_value("GB")  # the only country the bakery ships to
    expect(page.locator(".progress li").nth(1)).to_have_attribute("aria-current", "step")  # Delivery
    page.keyboard.press("Tab")
    page.keyboard.type("EH6 6AA")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Address", exact=True)).to_be_focused()
    page.keyboard.type("1 Quay Street")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Town or city")).to_be_focused()
    page.keyboard.type("Leith")
    place = page.get_by_role("button", name="Place order")
    tab_to(page, place)
    assert focus_is_visible(page)
    expect(page.locator(".progress li").nth(2)).to_have_attribute("aria-current", "step")  # Payment
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    confirmation = page.locator("[data-order-body]")
    confirmation.get_by_text("Thank you! Your order number is").wait_for()
    for heading in ("How to pay", "What you bought", "Delivery", "What happens next"):
        expect(confirmation.get_by_role("heading", name=heading)).to_be_visible()
    assert "2 × Baguette Tradition – Single" in confirmation.inner_text()
    assert "bank transfer" in confirmation.inner_text()


def test_a_wrong_field_is_marked_announced_and_focused_from_the_keyboard(site, page):
    add(page, site, "baguette", "Single", 1)
    page.goto(url(site, "bakery", "/checkout/"))
    email = page.get_by_label("Email")
    tab_to(page, email)
    page.keyboard.type("not-an-email")
    for label, text in (("Full name", "Kit Keys"), ("Postcode", "EH6 6AA"), ("Address", "1 Quay Street"),
                        ("Town or city", "Leith")):
        field = page.get_by_label(label, exact=True)
        tab_to(page, field)
        page.keyboard.type(text)
    tab_to(page, page.get_by_role("button", name="Place order"))
    page.keyboard.press("Enter")
    expect(email).to_be_focused()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="Please check Email")).to_be_visible()
    tab_to(page, email, back=True)  # Shift+Tab comes back to it too


def test_reduced_motion_turns_transitions_off(site, browser):
    durations = {}
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(reduced_motion=motion)
        page = context.new_page()
        add(page, site, "baguette", "Single", 1)
        page.goto(url(site, "bakery", "/cart/"))
        button = page.get_by_role("link", name="Go to checkout")
        stepper = page.get_by_role("button", name="One more Baguette Tradition – Single")
        durations[motion] = [node.evaluate("node => getComputedStyle(node).transitionDuration")
                             for node in (button, stepper)]
        context.close()
    assert all(d != "0s" for d in durations["no-preference"]), durations  # there is motion to turn off
    assert durations["reduce"] == ["0s", "0s"], durations


def test_the_filled_basket_checkout_and_confirmation_pass_axe_and_are_saved_as_screenshots(site, browser):
    from axe_playwright_python.sync_playwright import Axe

    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((390, 844), (1280, 900)):
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        page = context.new_page()
        add(page, site, "croissants", "Box of 8 / Ready to eat", 1)
        add(page, site, "country-sourdough", "1.2 kg", 2)
        for name, path in (("basket", "/cart/"), ("checkout", "/checkout/")):
            page.goto(url(site, "bakery", path))
            page.locator(".totals").first.wait_for(state="attached")
            summary = page.locator(".order-summary details")
            if name == "checkout":  # beside the form on a wide screen, folded on a phone
                expect(summary).to_have_js_property("open", width >= 1000)
            check(page, Axe())
            page.screenshot(path=str(SHOTS / f"storefront-bakery-{name}-{width}.png"), full_page=True)
        page.get_by_label("Email").fill("axe@example.test")
        page.get_by_label("Full name").fill("Ada Axe")
        page.get_by_label("Postcode").fill("EH6 6AA")
        page.get_by_label("Address", exact=True).fill("1 Quay Street")
        page.get_by_label("Town or city").fill("Leith")
        page.get_by_role("button", name="Place order").click()
        page.wait_for_url(re.compile(r"/order/\?number=\d+"))
        page.get_by_role("heading", name="What happens next").wait_for()
        check(page, Axe())
        page.screenshot(path=str(SHOTS / f"storefront-bakery-order-{width}.png"), full_page=True)
        context.close()


def check(page, axe) -> None:
    results = axe.run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], (page.url, serious)


STUDIO = {"work": "/work/", "project": "/harbour-at-dawn/", "about": "/about/", "contact": "/contact/",
          "post": "/blog/photographing-concrete/"}


def test_the_studios_pages_pass_axe_and_are_saved_as_screenshots(site, browser):
    from axe_playwright_python.sync_playwright import Axe

    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((390, 844), (1280, 900)):
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        page = context.new_page()
        for name, path in STUDIO.items():
            page.goto(f"http://studio.localhost:{site['port']}{path}")
            page.wait_for_load_state("networkidle")
            check(page, Axe())
            page.screenshot(path=str(SHOTS / f"storefront-studio-{name}-{width}.png"), full_page=True)
        context.close()
    page = browser.new_page()
    page.goto(f"http://studio.localhost:{site['port']}/work/")
    page.get_by_role("link", name=re.compile("Harbour at Dawn")).click()  # the grid opens the project page
    page.get_by_role("heading", name="Harbour at Dawn", level=1).wait_for()
    page.close()
