"""Editing in a real browser: variant rows added and saved with JavaScript off, the media grid, the
readable history, and an order page that prints as a packing slip; each checked by axe and captured
as a screenshot at 1280 px (artifacts/screenshots/)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.test_admin import admin, sign_in
from tests.browser.test_admin_workflows import SHOTS


def _axe(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    return [(v["id"], [n["target"] for n in v["nodes"]][:3])
            for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)


def test_variant_rows_work_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, email="shop@bakery.test")
    page.goto(admin(site, "/products/edit?path=products/croissants.md"))
    before = page.locator("input[name$='.sku']").count()
    page.get_by_role("button", name="Add a row").click()
    page.locator("input[name$='.sku']").nth(before).wait_for()
    assert page.locator("input[name$='.sku']").count() == before + 1
    first_blank = next(i for i in range(before + 1) if not page.locator("input[name$='.sku']").nth(i).input_value())
    names = page.locator("input[name$='.name'][name^='variant.']")
    options = page.get_by_label("Shoppers choose by").input_value()
    filled = " / ".join("Party" for _ in options.split("/")) if options else "Party"
    if not options:
        page.get_by_label("Shoppers choose by").fill("Size")
    names.nth(first_blank).fill(filled)
    page.locator("input[name$='.sku']").nth(first_blank).fill("CR-PARTY")
    page.locator("input[name$='.price']").nth(first_blank).fill("19.00")
    page.locator("input[name$='.stock']").nth(first_blank).fill("4")
    page.locator("input[name$='.stock']").nth(first_blank).press("Enter")  # Enter saves, it adds no row
    page.get_by_role("status").filter(has_text="Stock updated for CR-PARTY").wait_for()
    _shot(page, "product-variant-rows")  # axe needs scripts: the editor is checked in test_admin_workflows
    context.close()


@pytest.mark.parametrize("name, path", [("media-grid", "/media"), ("history-readable", "/history?path=pages/about.md")])
def test_media_and_history_pages(site, page, name, path):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, site)
    page.goto(admin(site, path))
    page.wait_for_load_state("networkidle")
    _shot(page, name)
    assert _axe(page) == []


def test_the_order_page_prints_a_packing_slip(site, page):
    api, host = f"http://127.0.0.1:{site['port']}", {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host, json={"sku": "AF-6", "quantity": 2})
    number = httpx.post(f"{api}/api/checkout", headers=host, json={
        "cart_token": cart["token"], "email": "shopper@example.test",
        "shipping_address": {"name": "Ann Shopper", "line1": "1 Main St", "city": "Leith", "postal_code": "EH6 6AA",
                             "country": "GB"}}).json()["order"]["number"]
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, site)
    page.goto(admin(site, f"/orders/{number}"))
    page.get_by_role("button", name="Mark as paid").click()
    page.get_by_role("button", name="Mark as shipped").wait_for()
    assert page.get_by_role("button", name="Print packing slip").is_visible()
    _shot(page, "order")
    assert _axe(page) == []
    page.emulate_media(media="print")
    assert page.get_by_role("region", name="Packing slip").is_visible()
    assert not page.locator("header").first.is_visible() and not page.get_by_role("heading", name="Next step").is_visible()
    _shot(page, "order-print")
