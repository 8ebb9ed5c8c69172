"""A discount code in a real browser: the demo's WELCOME10 refused below £20 with the reason, applied once
the basket is big enough, the saving shown per line and in all, then the order checked out with manual
payment and the saving on the confirmation page."""

from __future__ import annotations

import re

from commerce_api.shop.orders import Orders
from tests.browser.test_storefront import add, shop_db, url


def test_apply_the_demo_code_and_see_the_saving_on_the_confirmation(site, page):
    add(page, site, "dark-rye")
    page.goto(url(site, "bakery", "/cart/"))
    code = page.get_by_label("Discount code")
    code.fill("nope")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("status").filter(has_text="NOPE is not a valid code.").wait_for()
    assert code.get_attribute("aria-invalid") == "true"

    code.fill("welcome10")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("WELCOME10: needs a basket of at least £20.00").wait_for()  # kept, waiting for a bigger basket
    assert "Discount (WELCOME10)" not in page.locator(".totals").inner_text()

    add(page, site, "country-sourdough", "1.2 kg", 3)
    page.goto(url(site, "bakery", "/cart/"))
    page.get_by_text("WELCOME10: applied").wait_for()
    totals = page.locator(".totals").inner_text()
    assert "Discount (WELCOME10)" in totals and "−£" in totals
    saving = re.search(r"You save (£\d+\.\d\d)\.", page.locator("[data-cart-body]").inner_text()).group(1)
    assert page.locator(".line-discount").count() == 2  # each line's share

    page.get_by_role("link", name="Go to checkout").click()
    assert "Discount (WELCOME10)" in page.locator(".totals").inner_text()
    page.get_by_label("Email").fill("grace@example.test")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Address", exact=True).fill("2 Mill Lane")
    page.get_by_label("Town or city").fill("Leith")
    page.get_by_label("Postcode").fill("EH6 6AA")
    page.get_by_label("Country", exact=True).select_option("GB")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    confirmation = page.locator("[data-order-body]")
    confirmation.get_by_text("Thank you! Your order number is").wait_for()
    shown = confirmation.inner_text()
    assert "Discount (WELCOME10)" in shown and f"You save {saving}." in shown

    number = int(re.search(r"number=(\d+)", page.url).group(1))
    order = Orders(shop_db(site)).get(number)
    assert order["discount"] == round(order["subtotal"] / 10) and f"£{order['discount'] / 100:.2f}" == saving
    assert [d["code"] for d in order["discounts"]] == ["WELCOME10"]
