"""axe-core on every storefront page of both demo sites: no serious or critical violations."""

from __future__ import annotations

import pytest

PAGES = {
    "bakery": ["/", "/products/", "/products/category/bread/", "/products/croissants/", "/cart/", "/checkout/",
               "/order/", "/blog/", "/blog/rye-season/", "/blog/tags/seasonal/", "/about/", "/delivery/", "/wholesale/",
               "/search/?q=rye", "/no-such-page/"],
    "studio": ["/", "/products/", "/products/harbour-at-dawn-print/", "/blog/", "/blog/photographing-concrete/", "/work/",
               "/about/", "/contact/", "/search/?q=concrete", "/no-such-page/"],
}
CASES = [(tenant, path) for tenant, paths in PAGES.items() for path in paths]


@pytest.fixture(name="axe_page", scope="module")
def fx_axe_page(browser):
    context = browser.new_context(bypass_csp=True)  # lets axe-core be injected into our strict-CSP pages
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("tenant,path", CASES, ids=[f"{t}{p}" for t, p in CASES])
def test_no_serious_accessibility_violations(site, axe_page, tenant, path):
    from axe_playwright_python.sync_playwright import Axe

    axe_page.goto(f"http://{tenant}.localhost:{site['port']}{path}")
    axe_page.wait_for_load_state("networkidle")
    results = Axe().run(axe_page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
