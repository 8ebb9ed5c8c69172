"""A shop that still has site.yaml's flat rate (no shipping.yaml) checks out as before: one delivery
option at the flat rate, or "Collect from the shop", which asks no postal address and no time."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from commerce_api.shop.orders import Orders
from content.gitrepo import Author, Repository
from content.tenants import Tenants
from tests.browser.test_storefront import add, shop_db, url
from tests.conftest import demo_site
from tessera.sites import publish_tenant

LEGACY = 'shipping:\n  flat_rate: "4.95"\n  free_over: "40.00"\n  countries: [GB]\n'


@pytest.fixture(name="site", scope="module")
def fx_site(tmp_path_factory):
    """The demo with its bakery on the legacy flat rate, whatever shipping the demo itself has."""
    with demo_site(tmp_path_factory) as site:
        settings = site["settings"]
        repo = Repository(settings.data_dir / "tenants" / "bakery" / "repo.git")
        site_yaml = re.sub(r"^shipping:\n(?:  .*\n)+", "", repo.read("site.yaml").decode(), flags=re.M) + LEGACY
        changes = {"site.yaml": site_yaml.encode()}
        if repo.read("shipping.yaml") is not None:
            changes["shipping.yaml"] = None
        repo.write(changes, Author("Owner", "owner@bakery.test"), "Back to one flat rate")
        tenants = Tenants(settings.data_dir, settings.sites_dir)
        try:
            publish_tenant(settings, tenants, "bakery", actor="test")
        finally:
            tenants.close()
        yield site


def test_collect_from_the_shop_shows_and_charges_no_shipping_and_asks_no_address(site, page):
    add(page, site, "seeded-spelt", None, 1)  # £6.90: under £40, so delivery costs £4.95
    page.goto(url(site, "bakery", "/checkout/"))
    options = page.get_by_role("group", name="Delivery")
    expect(options.get_by_role("radio")).to_have_count(2)
    assert re.search(r"Delivery\s+£4\.95", page.locator("label.option").first.inner_text())
    expect(options.get_by_role("radio", name="Delivery")).to_be_checked()
    totals = page.locator(".totals")
    expect(totals).to_contain_text("£11.85")
    page.get_by_label("Collect from the shop").check()
    totals.get_by_text("Collection").wait_for()
    shown = totals.inner_text()
    assert "£4.95" not in shown and "£6.90" in shown.split("Total")[-1]
    assert "Free" in page.locator("label.option").filter(has_text="Collect from the shop").inner_text()
    assert not page.get_by_label("Address", exact=True).is_visible()
    assert not page.get_by_label("Town or city").is_visible()
    assert page.get_by_label("Postcode").is_visible()  # where the shopper is still decides what is offered
    assert not page.get_by_label("Collection time").is_visible()  # a shop without hours: no time to choose
    page.get_by_label("Email").fill("pia@example.test")
    page.get_by_label("Full name").fill("Pia Collects")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    body = page.locator("[data-order-body]")
    body.get_by_text("Thank you! Your order number is").wait_for()
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    order = Orders(shop_db(site)).get(number)
    assert (order["shipping_method"], order["shipping"], order["total"]) == ("pickup", 0, 690)
    assert order["shipping_option"]["id"] == "pickup/shop" and order["shipping_address"]["name"] == "Pia Collects"
    assert "Collection" in body.locator(".totals").inner_text()
    assert "Collect from the shop" in body.locator("section.handover").inner_text()


def test_delivery_at_the_flat_rate_to_an_address(site, page):
    add(page, site, "dark-rye")  # £7.20
    page.goto(url(site, "bakery", "/checkout/"))
    for label, value in (("Email", "del@example.test"), ("Full name", "Del Ivery"), ("Town or city", "Leith"),
                         ("Postcode", "EH6 6AA")):
        page.get_by_label(label).fill(value)
    page.get_by_label("Address", exact=True).fill("9 Mill Lane")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    page.locator("section.handover").get_by_text("9 Mill Lane").wait_for()
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    order = Orders(shop_db(site)).get(number)
    assert order["shipping_option"]["id"] == "standard/delivery" and (order["shipping"], order["total"]) == (495, 1215)
