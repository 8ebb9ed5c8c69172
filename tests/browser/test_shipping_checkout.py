"""Shipping options at checkout in a real browser, on a bakery with its own shipping.yaml: a UK zone, a
van for Edinburgh postcodes only and a shop to collect from in one-hour slots. The shopper sees the
options for the postcode they type (and keeps the focus while they type), picks a collection slot and
finds its label on the confirmation, or has the van deliver; a place the shop cannot serve says why."""

from __future__ import annotations

import re
import textwrap

import pytest
from playwright.sync_api import expect

from commerce_api.shop.orders import Orders
from content.gitrepo import Author, Repository
from content.tenants import Tenants
from tests.browser.test_storefront import add, shop_db, url
from tests.conftest import demo_site
from tessera.sites import publish_tenant

EVERY_DAY = "\n".join(f"      {day}: \"06:00-22:00\"" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
SHIPPING = textwrap.dedent("""\
    zones:
      - name: United Kingdom
        id: uk
        countries: [GB]
        exclude_postcodes: ["BT*"]
        methods:
          - name: Royal Mail Tracked 48
            id: tracked-48
            price: "3.95"
            estimate: "2–3 working days"
    local_delivery:
      - name: Bakery van
        id: van
        countries: [GB]
        postcodes: ["EH1", "EH6", "EH7 4*"]
        price: "3.50"
        estimate: "Next morning, 7–10am"
    pickup:
      - name: Rye & Crumb, Leith Walk
        id: leith-walk
        address: "112 Leith Walk, Edinburgh EH6 5DT"
        country: GB
        slot_minutes: 60
        capacity: 2
        days_ahead: 2
        excludes: {products: [sourdough-starter-kit]}
        hours:
    """) + EVERY_DAY + "\n"


@pytest.fixture(name="site", scope="module")
def fx_site(tmp_path_factory):
    """The demo, its bakery's legacy shipping block replaced by the shipping.yaml above, published."""
    with demo_site(tmp_path_factory) as site:
        settings = site["settings"]
        repo = Repository(settings.data_dir / "tenants" / "bakery" / "repo.git")
        legacy = re.compile(r"^shipping:\n(?:  .*\n)+", re.M)
        site_yaml = legacy.sub("", repo.read("site.yaml").decode())
        repo.write({"shipping.yaml": SHIPPING.encode(), "site.yaml": site_yaml.encode()},
                   Author("Owner", "owner@bakery.test"), "Van for Edinburgh, collection slots at Leith Walk")
        tenants = Tenants(settings.data_dir, settings.sites_dir)
        try:
            publish_tenant(settings, tenants, "bakery", actor="test")
        finally:
            tenants.close()
        yield site


def option(page, name: str):
    return page.get_by_role("group", name="Delivery").get_by_role("radio", name=name)


def test_collecting_in_a_slot_shows_its_label_on_the_confirmation(site, page):
    add(page, site, "seeded-spelt", None, 1)  # £6.90
    page.goto(url(site, "bakery", "/checkout/"))
    assert page.get_by_label("Country", exact=True).input_value() == "GB"  # the shop's own country first
    collect = option(page, "Rye & Crumb, Leith Walk")
    collect.check()
    assert "112 Leith Walk, Edinburgh EH6 5DT" in page.locator("label.option").filter(has_text="Rye & Crumb, Leith Walk").inner_text()
    slot = page.get_by_label("Collection time")
    expect(slot).to_be_visible()
    expect(page.get_by_label("Address", exact=True)).to_be_hidden()
    expect(page.get_by_label("Town or city")).to_be_hidden()
    assert page.get_by_label("Full name").is_visible()
    totals = page.locator(".totals")
    expect(totals).to_contain_text("Collection")
    assert "£6.90" in totals.inner_text().split("Total")[-1]

    choices = slot.locator("option").all_inner_texts()
    assert choices[0] == "Choose a time" and len(choices) > 1
    assert all(c.endswith("(2 left)") for c in choices[1:]), choices  # capacity 2, nothing booked yet
    slot.select_option(index=1)
    label = choices[1].removesuffix(" (2 left)")
    page.get_by_label("Email").fill("cora@example.test")
    page.get_by_label("Full name").fill("Cora Collects")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    confirmation = page.locator("[data-order-body]")
    confirmation.get_by_role("heading", name="Collection").wait_for()
    shown = confirmation.inner_text()
    assert label in shown and "Rye & Crumb, Leith Walk, 112 Leith Walk, Edinburgh EH6 5DT" in shown
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    order = Orders(shop_db(site)).get(number)
    assert order["pickup"]["label"] == label and order["shipping_option"]["id"] == "pickup/leith-walk"
    assert (order["shipping"], order["total"]) == (0, 690)

    # The slot has one place left now, and says so to the next shopper.
    add(page, site, "baguette", "Single", 1)
    page.goto(url(site, "bakery", "/checkout/"))
    option(page, "Rye & Crumb, Leith Walk").check()
    expect(page.get_by_label("Collection time").locator("option").nth(1)).to_have_text(f"{label} (1 left)")


def test_the_van_is_offered_only_to_edinburgh_postcodes(site, page):
    add(page, site, "country-sourdough", "1.2 kg", 1)
    page.goto(url(site, "bakery", "/checkout/"))
    assert page.get_by_label("Country", exact=True).get_attribute("autocomplete") == "country"
    postcode = page.get_by_label("Postcode")
    assert postcode.get_attribute("autocomplete") == "postal-code"
    tracked, van = option(page, "Royal Mail Tracked 48"), option(page, "Bakery van")
    expect(tracked).to_be_checked()  # the first option that applies
    assert "2–3 working days" in page.locator("label.option").filter(has_text="Royal Mail Tracked 48").inner_text()

    postcode.press_sequentially("EH6 5DT")
    expect(van).to_be_visible()
    expect(postcode).to_be_focused()  # the options were drawn again; the shopper is still typing here
    assert "Next morning, 7–10am" in page.locator("label.option").filter(has_text="Bakery van").inner_text()
    van.check()
    expect(page.locator(".totals")).to_contain_text("£3.50")

    postcode.fill("G1 1AA")  # Glasgow: no van
    expect(van).to_have_count(0)
    expect(tracked).to_be_checked()
    expect(page.locator(".totals")).to_contain_text("£3.95")

    postcode.fill("EH65DT")  # typed without its space
    van.check()
    page.get_by_label("Email").fill("vic@example.test")
    page.get_by_label("Full name").fill("Vic Van")
    page.get_by_label("Address", exact=True).fill("5 Dock Street")
    page.get_by_label("Town or city").fill("Leith")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    confirmation = page.locator("[data-order-body]")
    confirmation.get_by_role("heading", name="Delivery").wait_for()
    assert "Bakery van: Next morning, 7–10am" in confirmation.inner_text()
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    order = Orders(shop_db(site)).get(number)
    assert order["shipping_option"]["id"] == "local/van" and order["shipping"] == 350


def test_a_place_nothing_can_reach_says_why(site, page):
    add(page, site, "sourdough-starter-kit", None, 1)  # not for collection
    page.goto(url(site, "bakery", "/checkout/"))
    # The country list holds only where the shop ships (shipping.yaml: the UK), so the place nothing reaches
    # is a UK postcode the zone leaves out (Northern Ireland, BT: customs forms).
    country = page.get_by_label("Country", exact=True)
    expect(country.locator("option")).to_have_text(["Choose a country", "United Kingdom"])
    expect(country).to_have_value("GB")
    with page.expect_response(lambda r: "/shipping-options?" in r.url and "postal_code=BT1" in r.url) as answer:
        page.get_by_label("Postcode").fill("BT1 1AA")
        page.get_by_label("Postcode").dispatch_event("change")
    why = answer.value.json()["reason"]
    assert answer.value.json()["options"] == [] and "Sourdough Starter Kit" in why
    reason = page.get_by_role("alert").filter(has_text=why[1:])  # shown as a sentence: capital first, full stop
    reason.wait_for()
    expect(page.get_by_role("group", name="Delivery")).to_be_hidden()
    page.get_by_label("Postcode").fill("G1 1AA")
    page.get_by_label("Postcode").dispatch_event("change")
    expect(option(page, "Royal Mail Tracked 48")).to_be_checked()
    expect(reason).to_have_count(0)


def test_a_malformed_vat_number_is_marked_in_its_disclosure(site, page):
    add(page, site, "baguette", "Single", 1)
    page.goto(url(site, "bakery", "/checkout/"))
    page.get_by_text("Buying for a business in the EU?").click()
    vat = page.get_by_label("VAT number (optional)")
    vat.fill("not a number")
    page.get_by_text("Buying for a business in the EU?").click()  # closed again before placing the order
    page.get_by_label("Email").fill("bea@example.test")
    page.get_by_label("Full name").fill("Bea Business")
    page.get_by_label("Address", exact=True).fill("1 Mill Lane")
    page.get_by_label("Town or city").fill("Leith")
    page.get_by_label("Postcode").fill("EH6 6AA")
    page.get_by_role("button", name="Place order").click()
    expect(vat).to_have_attribute("aria-invalid", "true")
    expect(vat).to_be_focused()
    assert page.locator("#f-vat_number-error").inner_text()
    assert "Please check VAT number" in page.get_by_role("alert").first.inner_text()


def test_checkout_with_options_and_slots_has_no_serious_accessibility_violations(site, browser):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(bypass_csp=True)  # lets axe-core be injected into our strict-CSP pages
    page = context.new_page()
    try:
        add(page, site, "seeded-spelt")
        page.goto(url(site, "bakery", "/checkout/"))
        option(page, "Rye & Crumb, Leith Walk").check()
        expect(page.get_by_label("Collection time")).to_be_visible()
        page.get_by_text("Buying for a business in the EU?").click()
        violations = Axe().run(page).response["violations"]
        serious = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations
                   if v["impact"] in ("serious", "critical")]
        assert serious == [], serious
    finally:
        context.close()
