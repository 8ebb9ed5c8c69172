"""Gift cards in a real browser on the demo bakery: a card staff issued pays part of a loaf's order in the
basket and at checkout, and the confirmation shows it; a card spent elsewhere since the basket is taken
out at checkout; a gift card bought on its own asks for no address, and its code shows on the order
page once staff record the payment."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from commerce_api.shop import giftcards
from commerce_api.shop.orders import Orders
from tests.browser.test_storefront import add, shop_db, url


@pytest.fixture(name="staff")
def fx_staff(site):
    """The bakery's owner on the staff API."""
    with httpx.Client(base_url=f"http://127.0.0.1:{site['port']}", headers={"Host": f"bakery.localhost:{site['port']}"},
                      timeout=10) as client:
        login = client.post("/api/auth/login", json={"email": "owner@bakery.test", "password": "tessera-demo"})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


def issue(staff, amount: int) -> dict:
    card = staff.post("/api/admin/gift-cards", json={"amount": amount})
    assert card.status_code == 201, card.text
    return card.json()


def address(page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Full name").fill("Gil Giver")
    page.get_by_label("Address", exact=True).fill("4 Mill Lane")
    page.get_by_label("Town or city").fill("Leith")
    page.get_by_label("Postcode").fill("EH6 6AA")
    page.get_by_label("Country", exact=True).select_option("GB")


def test_a_card_pays_part_of_a_loaf_in_the_basket_and_at_checkout(site, page, staff):
    card = issue(staff, 500)
    add(page, site, "dark-rye")  # £7.20 + £4.95 delivery
    page.goto(url(site, "bakery", "/cart/"))
    field = page.get_by_label("Gift card")
    field.fill("NOPE-NOPE-NOPE-NOPE")
    page.get_by_role("button", name="Use gift card").click()
    page.get_by_role("status").filter(has_text="not a valid gift card code").wait_for()
    assert field.get_attribute("aria-invalid") == "true"

    field.fill(card["code"].lower().replace("-", " "))  # typed loosely
    page.get_by_role("button", name="Use gift card").click()
    page.get_by_text(f"…{card['last4']}: £5.00 applied (balance £5.00)").wait_for()
    page.get_by_role("status").filter(has_text="Amount due: £7.15.").wait_for()
    totals = page.locator(".totals").inner_text()
    assert re.search(r"Gift card\s+−£5\.00", totals) and re.search(r"Amount due\s+£7\.15", totals)

    page.get_by_role("link", name="Go to checkout").click()
    page.locator(".totals").get_by_text("Amount due").wait_for()
    address(page, "gil@example.test")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    confirmation = page.locator("[data-order-body]")
    confirmation.get_by_text(f"Paid with gift card …{card['last4']}: £5.00.").wait_for()
    shown = confirmation.inner_text()
    assert "Amount due: £7.15" in shown  # the end of the bank transfer instructions
    assert re.search(r"Gift card\s+−£5\.00", shown) and re.search(r"Amount due\s+£7\.15", shown)
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    order = Orders(shop_db(site)).get(number)
    assert (order["total"], order["gift_card"], order["amount_due"]) == (1215, 500, 715)
    assert staff.get(f"/api/admin/gift-cards/{card['id']}").json()["balance"] == 0


def test_a_card_spent_since_the_basket_is_taken_out_at_checkout(site, page, staff):
    card = issue(staff, 300)
    add(page, site, "dark-rye")
    page.goto(url(site, "bakery", "/cart/"))
    page.get_by_label("Gift card").fill(card["code"])
    page.get_by_role("button", name="Use gift card").click()
    page.get_by_text(f"…{card['last4']}: £3.00 applied").wait_for()
    page.get_by_role("link", name="Go to checkout").click()
    address(page, "hal@example.test")
    disabled = staff.post(f"/api/admin/gift-cards/{card['id']}/status", json={"status": "disabled"})
    assert disabled.status_code == 200, disabled.text
    page.get_by_role("button", name="Place order").click()
    page.get_by_role("alert").filter(has_text=f"The gift card ending {card['last4']} is disabled").wait_for()
    page.get_by_role("button", name="Remove the gift card").click()
    expect(page.locator(".totals")).not_to_contain_text("Gift card")  # a locator wait: the CSP forbids eval
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    assert Orders(shop_db(site)).get(number)["gift_card"] == 0


def test_buying_a_gift_card_asks_no_address_and_shows_the_code_once_paid(site, page):
    add(page, site, "gift-card", "£25")
    page.goto(url(site, "bakery", "/checkout/"))
    page.get_by_text("Gift cards are sent by email: no delivery address needed.").wait_for()
    assert not page.get_by_label("Address", exact=True).is_visible()
    assert not page.get_by_label("Full name").is_visible()
    assert not page.get_by_label("Collect from the shop").is_visible()
    assert "Shipping" in page.locator(".totals").inner_text() and "£4.95" not in page.locator(".totals").inner_text()
    page.get_by_label("Email").fill("ivy@example.test")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    order_page = page.url
    body = page.locator("[data-order-body]")
    body.get_by_text("Your gift card code arrives by email when payment is received").wait_for()
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    order = Orders(shop_db(site)).get(number)
    assert (order["shipping"], order["total"], order["shipping_address"]) == (0, 2500, None)

    # The owner records the bank transfer in the admin.
    page.goto(url(site, "bakery", "/admin/orders"))
    page.get_by_label("Email").fill("owner@bakery.test")
    page.get_by_label("Password").fill("tessera-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Orders").click()
    page.get_by_role("row").filter(has_text=str(number)).get_by_role("link", name=str(number)).click()
    page.get_by_text("Nothing to post: gift cards only, sent by email").wait_for()
    page.get_by_role("button", name="Mark as paid").click()
    page.get_by_role("status").filter(has_text="Payment recorded.").wait_for()

    page.goto(order_page)
    body.get_by_role("heading", name="Your gift cards").wait_for()
    [bought] = giftcards.bought_by(shop_db(site), number, site["settings"].secret_key)
    code = body.locator("code")
    assert code.inner_text() == bought["code"] and "£25.00" in body.locator(".gift-cards").inner_text()
    assert "arrives by email" not in body.inner_text()
    body.get_by_role("button", name=f"Copy code {bought['code']}").click()
    assert page.evaluate("getSelection().toString()") == bought["code"]


def test_the_basket_and_checkout_with_a_card_have_no_serious_accessibility_violations(site, browser, staff):
    from axe_playwright_python.sync_playwright import Axe

    card = issue(staff, 200)
    context = browser.new_context(bypass_csp=True)  # lets axe-core be injected into our strict-CSP pages
    page = context.new_page()
    try:
        add(page, site, "dark-rye")
        page.goto(url(site, "bakery", "/cart/"))
        page.get_by_label("Gift card").fill(card["code"])
        page.get_by_role("button", name="Use gift card").click()
        page.get_by_text(f"…{card['last4']}: £2.00 applied").wait_for()
        for path in ("/cart/", "/checkout/"):
            page.goto(url(site, "bakery", path))
            page.locator(".totals").get_by_text("Amount due").wait_for()
            violations = Axe().run(page).response["violations"]
            serious = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations
                       if v["impact"] in ("serious", "critical")]
            assert serious == [], (path, serious)
    finally:
        context.close()
