"""A plan change seen from both sides in Chromium: the operator moves the demo bakery to a smaller plan
and sets its product limit to what it holds; the bakery's owner sees the new limits on Settings → Plan
and usage, and a new product is refused in the plan's words with nothing created."""

from __future__ import annotations

import re

from content import plans
from content.registry import Registry
from tests.browser.test_admin import admin, repo, sign_in

OPERATOR = "admin@tessera.test"


def _cell(page, label: str, column: int) -> str:
    """One cell of the usage table's row for ``label`` (1: used, 2: allowed, 3: state)."""
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label, exact=True))
    return " ".join(row.locator("td").nth(column - 1).inner_text().split())


def test_the_operator_lowers_the_plan_and_the_shop_sees_it_and_cannot_add_past_it(site, browser):
    registry = Registry(site["data"] / "platform.db")
    before = registry.get("bakery").plan
    source = repo(site).source()
    try:
        held = plans.counts(source.paths())["products"]
    finally:
        source.close()
    operator_context, owner_context = browser.new_context(), browser.new_context()
    try:
        operator, owner = operator_context.new_page(), owner_context.new_page()

        # The operator: the site's plan page, a smaller plan, then the site's own product limit.
        sign_in(operator, site, OPERATOR)
        operator.goto(admin(site, "/tenants/plan?slug=bakery"))
        operator.get_by_label("Plan", exact=True).select_option(label="Starter")
        operator.get_by_label("Note (kept in the site's plan history").fill("A smaller plan for the winter")
        operator.get_by_role("button", name="Change plan").click()
        operator.get_by_role("status").filter(has_text=f"moved from {before} to starter").wait_for()
        operator.locator("#own-products").fill(str(held))
        operator.get_by_role("button", name="Save limits for bakery").click()
        operator.get_by_role("status").filter(has_text="1 set for this site").wait_for()

        # The owner: Settings → Plan and usage shows the new plan and limits.
        sign_in(owner, site)
        owner.get_by_role("link", name="Settings").first.click()
        owner.get_by_role("link", name="Plan and usage").click()
        owner.get_by_role("heading", name="Plan and usage").wait_for()
        assert "on the Starter plan" in " ".join(owner.locator("main").inner_text().split())
        assert _cell(owner, "Products", 1) == str(held)
        assert _cell(owner, "Products", 2) == f"{held} (set for this site)"
        assert _cell(owner, "Products", 3) == "At the limit"
        assert _cell(owner, "Staff seats", 2) == "3"  # Starter's
        history = owner.locator("section", has=owner.get_by_role("heading", name="Plan changes"))
        assert "A smaller plan for the winter" in history.inner_text()

        # A new product: refused in the plan's words, the form keeps what was typed, nothing is created.
        head = repo(site).head()
        owner.get_by_role("link", name="Products").first.click()
        owner.get_by_role("link", name="New product").click()
        owner.get_by_label("Name", exact=True).fill("Winter Stollen")
        owner.get_by_label("Sku (for a product without variants)").fill("STOLLEN-1")
        owner.get_by_label("Price", exact=True).fill("12.50")
        owner.get_by_label("What did you change?").fill("Add the stollen")
        owner.get_by_role("button", name="Save", exact=True).click()
        refusal = owner.get_by_role("alert")
        refusal.wait_for()
        words = " ".join(refusal.inner_text().split())
        assert re.search(rf"This site's limit is {held} products \(set for it by the platform's operator\); the "
                         rf"site has {held}, and this would make {held + 1}\. Ask the platform's operator to raise it",
                         words), words
        assert "Traceback" not in owner.content()
        assert owner.get_by_label("Name", exact=True).input_value() == "Winter Stollen"
        assert repo(site).head() == head and repo(site).read("products/winter-stollen.md") is None
    finally:
        operator_context.close()
        owner_context.close()
        plans.set_overrides(registry, "bakery", {}, actor=None)
        registry.update("bakery", plan=before)
        registry.close()
