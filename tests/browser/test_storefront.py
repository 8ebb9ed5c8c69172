"""A shopper's path in a real browser: browse, add two products with variants, change a quantity,
check out with manual payment, see the confirmation, and see the order from the staff side."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from commerce_api.shop.orders import Orders
from content.migrations import connect
from content.schema import TENANT


def shop_db(site):
    return connect(site["data"] / "tenants" / "bakery" / "tenant.db", TENANT)


def url(site, tenant, path):
    return f"http://{tenant}.localhost:{site['port']}{path}"


def add(page, site, product, variant_label=None, quantity=1):
    page.goto(url(site, "bakery", f"/products/{product}/"))
    if variant_label:
        page.get_by_label(variant_label, exact=False).first.check()
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to basket").click()
    page.get_by_role("status").filter(has_text="Added to your basket").wait_for()


def test_browse_add_change_and_check_out(site, page):
    page.goto(url(site, "bakery", "/"))
    assert "Rye & Crumb" in page.title()
    page.get_by_role("link", name="Shop", exact=True).click()
    page.get_by_role("link", name="Butter Croissants").first.click()
    assert page.url.endswith("/products/croissants/")
    add(page, site, "croissants", "Box of 8 / Ready to eat", 1)
    add(page, site, "country-sourdough", "1.2 kg", 2)
    assert page.locator("[data-cart-count]").first.inner_text() == "3"

    page.goto(url(site, "bakery", "/cart/"))
    page.get_by_label("Quantity of Country Sourdough – 1.2 kg").fill("1")
    page.get_by_label("Quantity of Country Sourdough – 1.2 kg").dispatch_event("change")
    page.locator(".totals dd").last.filter(has_text="£").wait_for()
    # Locator waits, not wait_for_function: the site's script policy forbids the eval that polls a string.
    expect(page.locator("[data-cart-count]").first).to_have_text("2")
    page.get_by_role("link", name="Go to checkout").click()

    page.get_by_label("Email").fill("ada@example.test")
    page.get_by_label("Full name").fill("Ada Baker")
    page.get_by_label("Address", exact=True).fill("1 Mill Lane")
    page.get_by_label("Town or city").fill("Leith")
    page.get_by_label("Postcode").fill("EH6 6AA")
    page.get_by_label("Country", exact=True).select_option("GB")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+"))
    confirmation = page.locator("[data-order-body]")
    confirmation.get_by_text("Thank you! Your order number is").wait_for()
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    assert "bank transfer" in confirmation.inner_text()

    order = Orders(shop_db(site)).get(number)
    assert {(l["sku"], l["quantity"]) for l in order["lines"]} == {("CR-8-R", 1), ("CS-1200", 1)}
    assert (order["subtotal"], order["shipping"], order["total"]) == (2540, 495, 3035)  # under £40: flat shipping
    assert order["status"] == "pending" and order["payment_status"] == "pending"

    # The shop's owner sees it in the admin.
    page.goto(url(site, "bakery", "/admin/orders"))
    page.get_by_label("Email").fill("owner@bakery.test")
    page.get_by_label("Password").fill("tessera-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Orders").click()
    row = page.get_by_role("row").filter(has_text=str(number))
    assert "ada@example.test" in row.inner_text() and "pending" in row.inner_text() and "30.35 GBP" in row.inner_text()
    row.get_by_role("link", name=str(number)).click()
    page.get_by_role("button", name="Mark as paid").click()
    page.get_by_role("status").filter(has_text="Payment recorded.").wait_for()
    assert "processing" in page.get_by_role("heading", name="Status").locator("..").inner_text()
    page.get_by_label("Tracking number").fill("RM123456789GB")
    page.get_by_role("button", name="Mark as shipped").click()
    page.get_by_role("status").filter(has_text="is now shipped").wait_for()
    assert "Tracking: RM123456789GB" in page.content()
    assert Orders(shop_db(site)).get(number)["status"] == "shipped"
    assert Orders(shop_db(site)).stock("CR-8-R")["reserved"] == 0  # the sale converted the reservation


def test_sold_out_while_in_the_basket_is_refused_naming_the_sku(site, page):
    add(page, site, "dark-rye", None, 2)
    Orders(shop_db(site)).set_stock("DR-1000", Orders(shop_db(site)).stock("DR-1000")["reserved"] + 1)
    page.goto(url(site, "bakery", "/checkout/"))
    for label, value in (("Email", "sam@example.test"), ("Full name", "Sam"), ("Town or city", "Leith"),
                         ("Postcode", "EH6")):
        page.get_by_label(label).fill(value)
    page.get_by_label("Address", exact=True).fill("2 Mill Lane")
    page.get_by_role("button", name="Place order").click()
    alert = page.get_by_role("alert").filter(has_text="out of stock")
    alert.wait_for()
    assert "DR-1000" in alert.inner_text()


def test_field_errors_appear_next_to_the_field(site, page):
    add(page, site, "baguette", "Single", 1)
    page.goto(url(site, "bakery", "/checkout/"))
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Place order").click()
    email = page.get_by_label("Email")
    expect(page.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    assert "Enter a valid email address." == page.locator("#f-email-error").inner_text()
    assert "Please check Email" in page.get_by_role("alert").inner_text()
    assert email.evaluate("e => e === document.activeElement")


def test_a_site_without_a_shop_has_no_cart(site, page):
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.settings import ROOT
    from tessera.sites import publish_tenant

    tenants = Tenants(site["settings"].data_dir, ROOT / "sites")  # both demo sites have shops: make one without
    try:
        tenants.create("folio-only", "Folio only", parse_features("cms"), starter="studio")
        publish_tenant(site["settings"], tenants, "folio-only", actor="test")
    finally:
        tenants.close()
    page.goto(url(site, "folio-only", "/"))
    assert "Studio Lumen" in page.title()
    assert page.locator("script[src*='cart.']").count() == 0
    assert page.locator("[data-cart-count]").count() == 0
    assert page.goto(url(site, "folio-only", "/products/")).status == 404
    assert page.goto(url(site, "folio-only", "/cart/")).status == 404


def test_product_page_without_javascript_still_shows_everything(site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(url(site, "bakery", "/products/croissants/"))
    assert page.get_by_role("heading", name="Butter Croissants").is_visible()
    assert "£16.50" in page.content()
    assert "The basket needs JavaScript" in page.content()
    context.close()


def _set_available(site, sku, available):
    orders = Orders(shop_db(site))
    orders.set_stock(sku, orders.stock(sku)["reserved"] + available)


def test_a_sold_out_product_says_so_and_cannot_be_added(site, page):
    _set_available(site, "BR-500", 0)
    try:
        page.goto(url(site, "bakery", "/products/brioche/"))
        button = page.get_by_role("button", name="Sold out")
        button.wait_for()
        assert button.is_disabled() and page.get_by_role("button", name="Add to basket").count() == 0
        assert "Sold out" in page.locator("[data-price]").inner_text()
        # The basket API refuses it too, naming the sku (a page opened before it sold out).
        refused = page.evaluate("""async () => {
            const api = document.querySelector('meta[name="tessera:api"]').content.replace(/\\/$/, "");
            const cart = await (await fetch(api + "/carts", {method: "POST"})).json();
            const r = await fetch(api + "/carts/" + cart.token + "/items", {method: "POST",
                headers: {"Content-Type": "application/json"}, body: JSON.stringify({sku: "BR-500", quantity: 1})});
            return [r.status, (await r.json()).error.message];
        }""")
        assert refused[0] == 409 and "BR-500" in refused[1] and "sold out" in refused[1]
    finally:
        _set_available(site, "BR-500", 24)


def test_a_sold_out_variant_cannot_be_chosen_and_the_rest_still_sells(site, page):
    _set_available(site, "OC-6", 0)
    try:
        page.goto(url(site, "bakery", "/products/oat-cookies/"))
        first = page.get_by_label("Pack of 6", exact=False)
        expect(first).to_be_disabled()  # a locator wait: the page's CSP forbids eval-based polling
        assert page.get_by_label("Pack of 12", exact=False).is_checked()
        assert "sold out" in page.locator('[data-sku-price="OC-6"]').inner_text()
        page.get_by_role("button", name="Add to basket").click()
        page.get_by_role("status").filter(has_text="Added to your basket").wait_for()
    finally:
        _set_available(site, "OC-6", 24)


def test_the_basket_marks_a_line_that_sold_out_and_offers_no_checkout(site, page):
    add(page, site, "almond-financiers", None, 1)
    _set_available(site, "AF-6", 0)
    try:
        page.goto(url(site, "bakery", "/cart/"))
        line = page.locator(".cart-line").filter(has_text="Almond Financiers")
        line.get_by_text("Sold out").wait_for()
        assert page.get_by_role("link", name="Go to checkout").count() == 0
        assert "Remove the sold-out items" in page.locator("[data-cart-body]").inner_text()
        line.get_by_role("button", name="Remove Almond Financiers").click()
        page.get_by_text("Your basket is empty.").wait_for()
    finally:
        _set_available(site, "AF-6", 24)


def test_a_failed_payment_start_keeps_the_order_and_can_be_tried_again(site, page, monkeypatch):
    from commerce_api.errors import BadRequest
    from commerce_api.shop.payments import Manual

    def down(self, order, site_url):
        raise BadRequest("the payment could not be started: the bank is closed", code="payment_unavailable")

    add(page, site, "sourdough-starter-kit", None, 1)
    page.goto(url(site, "bakery", "/checkout/"))
    for label, value in (("Email", "max@example.test"), ("Full name", "Max"), ("Town or city", "Leith"),
                         ("Postcode", "EH6")):
        page.get_by_label(label).fill(value)
    page.get_by_label("Address", exact=True).fill("3 Mill Lane")
    monkeypatch.setattr(Manual, "start", down)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\?number=\d+&token="))
    body = page.locator("[data-order-body]")
    body.get_by_text("the bank is closed").wait_for()
    assert "Your order is saved" in body.inner_text()
    monkeypatch.undo()
    body.get_by_role("button", name="Try paying again").click()
    body.get_by_text("Pay by bank transfer").wait_for()
    number = int(re.search(r"number=(\d+)", page.url).group(1))
    assert Orders(shop_db(site)).get(number)["status"] == "pending"


def test_changing_the_basket_from_the_keyboard_keeps_the_focus_in_the_basket(site, page):
    add(page, site, "baguette", "Single", 1)
    add(page, site, "brioche", None, 1)
    page.goto(url(site, "bakery", "/cart/"))
    quantity = page.get_by_label("Quantity of Baguette Tradition – Single")
    quantity.press("ArrowUp")  # the basket is drawn anew with the new quantity
    line = page.locator(".cart-line").filter(has_text="Baguette Tradition")
    expect(line.locator(".line-total")).to_have_text("£4.80")
    expect(quantity).to_be_focused()
    page.keyboard.press("Tab")  # the stepper's + comes next, then the line's Remove
    more = page.get_by_role("button", name="One more Baguette Tradition – Single")
    expect(more).to_be_focused()
    page.keyboard.press("Space")
    expect(line.locator(".line-total")).to_have_text("£7.20")
    expect(more).to_be_focused()  # drawn anew, still on the same button
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    fewer = page.get_by_role("button", name="One fewer Baguette Tradition – Single")
    expect(fewer).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(line.locator(".line-total")).to_have_text("£2.40")
    expect(quantity).to_be_focused()  # − can go no lower than 1: its number takes the focus
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Remove Baguette Tradition – Single")).to_be_focused()
    page.keyboard.press("Enter")
    expect(line).to_have_count(0)
    assert page.evaluate("document.querySelector('[data-cart-body]').contains(document.activeElement)")


def test_a_write_paused_by_a_move_is_asked_again_and_goes_through(site, page):
    """While a shop moves between nodes its writes answer 503 with Retry-After: the basket asks again
    after that wait instead of showing an error."""
    calls = []

    def paused_once(route):
        calls.append(route.request.method)
        if len(calls) == 1:
            route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body='{"error": {"code": "moving", "message": "this site is moving"}}')
        else:
            route.continue_()

    page.route(re.compile(r".*/api/carts/[^/]+/items$"), paused_once)
    add(page, site, "croissants", "Box of 4")
    assert calls == ["POST", "POST"]
    expect(page.get_by_role("status").filter(has_text="Added to your basket")).to_be_visible()
