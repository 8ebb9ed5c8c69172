"""The storefront's catalog pages in Chromium at phone (390 px) and desktop (1280 px) widths: every
page of both demo sites captured full-page (artifacts/screenshots/), grids that fill their rows, two
products a row on a phone, the sticky add-to-basket, the gallery without JavaScript, the logo, and
search without JavaScript on the edge and with the script behind a CDN."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHOTS = Path(os.environ.get("TESSERA_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")) / "screenshots"
PAGES = {
    "bakery": [("home", "/"), ("shop", "/products/"), ("category", "/products/category/bread/"),
               ("product", "/products/croissants/"), ("basket", "/cart/"), ("checkout", "/checkout/"),
               ("order", "/order/"), ("journal", "/blog/"), ("post", "/blog/rye-season/"),
               ("tag", "/blog/tags/seasonal/"), ("about", "/about/"), ("delivery", "/delivery/"),
               ("wholesale", "/wholesale/"), ("search", "/search/?q=rye"), ("not-found", "/no-such-page/")],
    "studio": [("home", "/"), ("prints", "/products/"), ("product", "/products/harbour-at-dawn-print/"),
               ("journal", "/blog/"), ("post", "/blog/photographing-concrete/"), ("work", "/work/"),
               ("about", "/about/"), ("contact", "/contact/"), ("search", "/search/?q=concrete"),
               ("not-found", "/no-such-page/")],
}
WIDTHS = {"phone": (390, 844), "desktop": (1280, 800)}
CASES = [(t, n, p, w) for t, pages in PAGES.items() for n, p in pages for w in WIDTHS]


def url(site, tenant, path):
    return f"http://{tenant}.localhost:{site['port']}{path}"


@pytest.mark.parametrize("tenant,name,path,width", CASES, ids=[f"{t}-{n}-{w}" for t, n, _, w in CASES])
def test_every_storefront_page_fits_its_width_and_is_captured(site, browser, tenant, name, path, width):
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1)
    page = context.new_page()
    page.goto(url(site, tenant, path))
    page.wait_for_load_state("networkidle")
    # A full-page capture does not scroll, so pictures below the fold would stay unloaded: load them.
    page.evaluate("""() => Promise.all([...document.images].map(i => { i.loading = "eager";
        return i.decode().catch(() => null); }))""")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"storefront-{tenant}-{name}-{w}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    context.close()
    assert overflow <= 0, f"{tenant}{path} scrolls sideways by {overflow}px at {w}px"


def rows(page, selector: str) -> list[int]:
    """How many items sit on each row of a grid, from their top offsets."""
    tops = page.eval_on_selector_all(selector, "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    counts: dict[int, int] = {}
    for top in tops:
        counts[top] = counts.get(top, 0) + 1
    return list(counts.values())


def widths_fill(page, selector: str) -> bool:
    """Every row of the grid spans the grid's whole width (no hole at the end of a row)."""
    return page.eval_on_selector(selector, """grid => {
        const box = grid.getBoundingClientRect();
        const rows = {};
        for (const li of grid.children) {
            const r = li.getBoundingClientRect();
            const key = Math.round(r.top);
            rows[key] = Math.max(rows[key] || 0, r.right);
        }
        return Object.values(rows).every(right => Math.abs(right - box.right) < 2);
    }""")


@pytest.mark.parametrize("width,per_row", [(390, 2), (1280, 4)])
def test_product_grids_have_two_columns_on_a_phone_four_on_a_desktop_and_fill_their_rows(site, browser, width,
                                                                                      per_row):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(url(site, "bakery", "/products/"))
    counts = rows(page, ".grid-products > li")
    assert counts[0] == per_row and sum(counts) == 11
    assert widths_fill(page, ".grid-products")  # 11 products: the last row's cards grow to fill it
    page.goto(url(site, "studio", "/products/"))  # three prints: one full row on a desktop
    assert widths_fill(page, ".grid-products")
    page.goto(url(site, "bakery", "/"))
    assert all(c == per_row for c in rows(page, "#featured-heading + .grid-products > li"))
    context.close()


def test_the_logo_from_settings_is_in_the_header_with_the_sites_name(site, page):
    page.goto(url(site, "bakery", "/"))
    logo = page.get_by_role("link", name="Rye & Crumb Bakery").first.get_by_role("img", name="Rye & Crumb Bakery")
    assert logo.is_visible() and page.evaluate("document.querySelector('.brand-logo').naturalWidth") > 0


def test_add_to_basket_stays_in_reach_while_scrolling_a_product_on_a_phone(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(url(site, "bakery", "/products/croissants/"))
    page.get_by_role("heading", name="Delivery and pickup").scroll_into_view_if_needed()
    button = page.get_by_role("button", name="Add to basket")
    box = button.bounding_box()
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= 844  # on screen, at the bottom
    button.click()
    page.get_by_role("status").filter(has_text="Added to your basket").wait_for()
    context.close()


def test_the_gallery_works_without_javascript(site, browser):
    # Reduced motion: the gallery jumps instead of gliding (base.css), so it is there at once.
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900},
                                  reduced_motion="reduce")
    page = context.new_page()
    page.goto(url(site, "bakery", "/products/croissants/"))
    gallery = page.locator(".gallery")
    assert gallery.evaluate("g => g.scrollLeft") == 0
    page.get_by_role("link", name="Picture 3 of 3").click()
    page.wait_for_url("**#picture-3")
    assert gallery.evaluate("g => g.scrollLeft") == gallery.evaluate("g => g.scrollWidth - g.clientWidth") > 0
    assert page.get_by_role("img", name="A croissant beside a cup of coffee").is_visible()
    context.close()


def test_search_from_the_header_without_javascript_on_the_edge(site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(url(site, "bakery", "/about/"))
    page.get_by_role("searchbox", name="Search Rye & Crumb Bakery").fill("croissant")
    page.get_by_role("searchbox", name="Search Rye & Crumb Bakery").press("Enter")
    page.wait_for_url("**/search/?q=croissant")
    assert page.get_by_role("link", name="Butter Croissants").is_visible()
    assert page.get_by_role("searchbox", name="Search for products and posts").input_value() == "croissant"
    context.close()


def test_search_with_the_script_when_the_page_comes_from_a_cdn(site, page):
    """Behind a CDN the query never reaches the edge: the static page is served and search.js reads
    search.json. Stand in for the CDN by serving the built page for any query."""
    import httpx

    built = httpx.get(f"http://127.0.0.1:{site['port']}/search/", headers={"Host": "bakery.localhost"}).text
    assert "<!--tessera:search-results-->" in built

    def cdn(route):
        if route.request.url.split("?")[0].endswith("/search/"):
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=built)
        else:
            route.continue_()

    page.route("**/search/*", cdn)
    page.goto(url(site, "bakery", "/search/?q=rye+bread"))
    page.get_by_role("link", name="Dark Rye").wait_for()
    assert page.get_by_role("searchbox", name="Search for products and posts").input_value() == "rye bread"
    assert "results for “rye bread”" in page.locator("[data-search-results]").inner_text()
