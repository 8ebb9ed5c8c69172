"""The admin on a phone (390 px wide): what owners do on the go (see today's orders, mark one
shipped, check stock) fits the screen without sideways scrolling, and the sidebar folds behind a
menu button that says whether it is open. Screenshots: artifacts/screenshots/admin-phone-*.png."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import watched_page
from tests.browser.test_admin import admin, sign_in
from tests.browser.test_admin_workflows import SHOTS

PHONE = {"width": 390, "height": 844}


def _order(site) -> int:
    """An order placed through the shop's API: six boxes, enough for the bakery's van to Leith."""
    api, host = f"http://127.0.0.1:{site['port']}", {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    added = httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host, json={"sku": "AF-6", "quantity": 6})
    assert added.status_code == 201, added.text
    address = {"name": "Ann Shopper", "line1": "1 Main St", "city": "Leith", "postal_code": "EH6 6AA", "country": "GB"}
    placed = httpx.post(f"{api}/api/checkout", headers={**host, "Idempotency-Key": "phone-order"},
                        json={"cart_token": cart["token"], "email": "shopper@example.test",
                              "shipping_method": "delivery", "shipping_address": address})
    assert placed.status_code == 201, placed.text
    return placed.json()["order"]["number"]


@pytest.fixture(name="phone")
def fx_phone(browser):
    yield from watched_page(browser, viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)


def fits(page, name: str) -> None:
    """No sideways scrolling at 390 px, and a full-page screenshot for the visual checklist."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-phone-{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: {width}px wide"


def open_menu(page) -> None:
    button = page.get_by_role("button", name="Menu")
    assert button.get_attribute("aria-expanded") == "false"
    assert not page.get_by_role("navigation", name="Admin").is_visible()  # folded away on a phone
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    page.get_by_role("navigation", name="Admin").wait_for()


def test_todays_orders_mark_shipped_and_stock_on_a_phone(site, phone):
    number = _order(site)
    sign_in(phone, site)
    fits(phone, "dashboard")
    assert phone.locator("#orders-today").inner_text() == "1"

    open_menu(phone)
    phone.get_by_role("navigation", name="Admin").get_by_role("link", name="Orders").click()
    phone.get_by_role("heading", name="Orders").wait_for()
    fits(phone, "orders")
    phone.get_by_role("link", name=str(number), exact=True).click()
    phone.get_by_role("button", name="Mark as paid").click()
    phone.get_by_role("status").filter(has_text="Payment recorded.").wait_for()
    phone.get_by_role("button", name="Mark as shipped").click()
    phone.get_by_role("status").filter(has_text=f"Order {number} is now shipped.").wait_for()
    fits(phone, "order")

    open_menu(phone)
    phone.get_by_role("navigation", name="Admin").get_by_role("link", name="Products").click()
    phone.get_by_role("heading", name="Products").wait_for()
    fits(phone, "products")
    row = phone.locator("tr", has=phone.get_by_role("link", name="Almond Financiers"))
    assert row.locator("td[data-label=Available]").is_visible()  # stock at a glance, as a card
    phone.get_by_role("link", name="Almond Financiers").click()
    phone.get_by_label("On hand for AF-6").fill("40")
    phone.get_by_role("button", name="Save stock").click()
    phone.get_by_role("status").filter(has_text="Stock updated for AF-6.").wait_for()
    fits(phone, "product-stock")
