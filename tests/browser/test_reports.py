"""Reports in Chromium: visits to the bakery's storefront (counted by the edge, flushed after each
view) show up on Reports → Traffic with the demo's deploy marked; the studio, counting but never
visited, shows its empty state; both, the tax report and the operators' totals pass axe."""

from __future__ import annotations

import re
import time

import pytest

from content.migrations import connect
from content.registry import Registry
from tests.browser.test_admin import admin, sign_in
from tests.conftest import demo_site

# A person's browser: headless Chromium says "HeadlessChrome", which the edge rightly takes for a bot.
PERSON = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
          "Safari/537.36")
VISITS = ["/", "/products/croissants/", "/about/", "/products/croissants/"]


@pytest.fixture(name="site", scope="module")
def fx_site(tmp_path_factory):
    """The demo with views written after every one (not every 5 seconds) and analytics on."""
    with demo_site(tmp_path_factory, {"TESSERA_ANALYTICS_FLUSH": "1/1"}) as site:
        registry = Registry(site["data"] / "platform.db")
        try:
            for slug in ("bakery", "studio"):
                registry.update(slug, features=registry.get(slug).features | {"analytics"})
        finally:
            registry.close()
        yield site


def _counted(site, slug: str) -> int:
    conn = connect(site["data"] / "tenants" / slug / "tenant.db")
    try:
        return conn.execute("SELECT COALESCE(SUM(views), 0) FROM analytics_days").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(name="visited", scope="module")
def fx_visited(site, browser):
    for path in VISITS:  # a fresh browser each time: a page opened again may be a 304, which is not a view
        context = browser.new_context(user_agent=PERSON, locale="en-GB")
        context.new_page().goto(f"http://bakery.localhost:{site['port']}{path}")
        context.close()
    deadline = time.monotonic() + 30  # the edge writes within a second of each view
    while _counted(site, "bakery") < len(VISITS):
        assert time.monotonic() < deadline, f"only {_counted(site, 'bakery')} of {len(VISITS)} views were written"
        time.sleep(0.1)
    return site


def test_traffic_with_visits_shows_the_chart_its_table_the_deploy_and_the_products(visited, page):
    sign_in(page, visited)
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", name="Traffic", level=1).wait_for()
    chart = page.get_by_role("img", name=re.compile("Views and visitors per day"))
    assert chart.is_visible()
    assert "4 views by 1 visitor over" in page.locator("#traffic-summary").inner_text()
    assert re.search(r"published [0-9a-f]{7}", page.get_by_role("list").filter(has_text="published").inner_text())
    products = page.get_by_role("table").filter(has=page.get_by_role("rowheader", name="Butter Croissants"))
    assert products.get_by_role("row", name=re.compile("Butter Croissants 2 1")).is_visible()
    page.get_by_text("Views and visitors per day as a table").click()  # the chart's numbers, as a table
    assert page.get_by_role("columnheader", name="Visitors").first.is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download top pages as CSV").click()
    text = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert text[0] == "path,views,visitors" and "/products/croissants/,2,1" in text


def test_the_range_is_chosen_with_the_keyboard(visited, page):
    sign_in(page, visited)
    page.goto(admin(visited, "/reports/traffic"))
    page.get_by_role("link", name="Last 7 days").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"days=7"))
    assert page.get_by_role("link", name="Last 7 days").get_attribute("aria-current") == "page"
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("To", exact=True).fill("2026-01-31")
    page.get_by_label("To", exact=True).press("Enter")
    page.wait_for_url(re.compile(r"from=2026-01-01&to=2026-01-31"))
    assert page.get_by_text("No visits recorded yet").is_visible()  # nothing was counted in January


def test_a_site_nobody_visited_shows_its_empty_state(visited, page):
    page.goto(f"http://admin.localhost:{visited['port']}/sites/studio/reports/traffic")
    page.get_by_label("Email").fill("owner@studio.test")
    page.get_by_label("Password").fill("tessera-demo")
    page.get_by_label("Password").press("Enter")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", name="Traffic", level=1).wait_for()
    assert page.get_by_role("status").filter(has_text="No visits recorded yet — views appear within a few "
                                                       "seconds of someone opening the site").is_visible()
    assert page.get_by_role("img").count() == 0


def test_sales_with_no_orders_yet_says_so_and_shows_the_funnel_from_the_visits(visited, page):
    sign_in(page, visited)
    page.goto(admin(visited, "/reports/traffic"))
    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Sales").click()
    page.get_by_role("heading", name="Sales", level=1).wait_for()
    assert page.get_by_role("status").filter(has_text="No paid orders in this range yet").is_visible()
    funnel = page.get_by_role("table").filter(has=page.get_by_role("rowheader", name="Product pages viewed"))
    assert funnel.get_by_role("row", name=re.compile(r"Product pages viewed 2")).is_visible()  # the croissants, twice


REPORT_PAGES = [("traffic", "bakery", "/reports/traffic?days=90"), ("traffic-empty", "studio", "/reports/traffic"),
                ("sales", "bakery", "/reports/sales"), ("tax", "bakery", "/reports/tax"),
                ("operators", "bakery", "/tenants")]


@pytest.mark.parametrize("name, slug, path", REPORT_PAGES, ids=[n for n, _, _ in REPORT_PAGES])
def test_report_pages_have_no_serious_accessibility_violations(visited, browser, name, slug, path):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(bypass_csp=True)  # lets axe-core be injected into the strict-CSP admin
    page = context.new_page()
    sign_in(page, visited, email="admin@tessera.test")
    page.goto(f"http://admin.localhost:{visited['port']}/sites/{slug}{path}")
    violations = [(v["id"], [n["target"] for n in v["nodes"]][:3])
                  for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    context.close()
    assert violations == [], violations
