"""The admin with billing on (over real HTTP): the plans page's Stripe price, the operator's plan page
moving a site through Stripe, the billing state on the pages of operators and of the site's people, the
past-due banner; and with billing off, none of it."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest

from commerce_api.billing import changes
from tests.api.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


class Admin:
    """Signed in on the admin's origin at one site's pages, as a browser is."""

    def __init__(self, world, tenant: str, email: str) -> None:
        port = world.base.rsplit(":", 1)[1]
        self.base = f"/sites/{tenant}"
        self.http = httpx.Client(base_url=world.base, headers={"Host": f"admin.localhost:{port}", "Accept": "text/html"},
                                 timeout=20)
        token = LOGIN_TOKEN.search(self.http.get(self.base + "/login").text).group(1)
        signed = self.http.post(self.base + "/login", data={"email": email, "password": PASSWORD, "login_token": token})
        assert signed.status_code == 303, signed.text
        self.csrf = ""
        self.get("/")

    def get(self, path: str) -> httpx.Response:
        response = self.http.get(self.base + path)
        if found := CSRF.search(response.text):
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict) -> httpx.Response:
        return self.http.post(self.base + path, data={**data, "csrf_token": self.csrf}, follow_redirects=True)


def words(response: httpx.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


@pytest.fixture(name="operator")
def fx_operator(world, site):
    return Admin(world, site.slug, "root@platform.test")


def test_operator_moves_a_site_through_stripe_and_everyone_sees_the_state(world, fake, billing, site, operator):
    page = operator.get(f"/tenants/plan?slug={site.slug}")
    assert page.status_code == 200 and "prorated" in page.text
    moved = operator.post("/tenants/plan/change", {"slug": site.slug, "plan": "business", "note": "signed up"})
    assert moved.status_code == 200 and "14-day trial" in words(moved)
    assert "Billing" in moved.text and "trialing" in words(moved)
    sid = billing.row(site)["subscription_id"]
    assert fake.subscriptions[sid]["items"]["data"][0]["price"]["id"] == "price_business"
    # Down to the free plan: shown as waiting until the paid period ends.
    later = operator.post("/tenants/plan/change", {"slug": site.slug, "plan": "starter", "note": ""})
    assert "Moves to Starter on" in words(later)
    owner = Admin(world, site.slug, f"owner@{site.slug}.test")
    usage = owner.get("/settings/usage")
    assert usage.status_code == 200 and "Moves to Starter on" in words(usage) and "Trial ends" in words(usage)
    console = operator.get("/console")
    assert "billing: trialing" in words(console)


def test_stripe_down_the_plan_page_refuses_and_nothing_moves(world, fake, site, operator):
    operator.get(f"/tenants/plan?slug={site.slug}")
    fake.down = True
    try:
        refused = operator.post("/tenants/plan/change", {"slug": site.slug, "plan": "business", "note": ""})
    finally:
        fake.down = False
    assert refused.status_code == 200 and "nothing was changed" in words(refused)
    assert world.services.db.registry.get(site.slug).plan == "starter"


def test_past_due_banner_on_every_page_of_the_sites_admin(world, fake, billing, site):
    changes.change_plan(billing, site.slug, "business", owner_email=f"owner@{site.slug}.test", actor=None)
    billing.apply(fake.set(billing.row(site)["subscription_id"], status="past_due"))
    owner = Admin(world, site.slug, f"owner@{site.slug}.test")
    for path in ("/", "/pages", "/settings/usage"):
        text = words(owner.get(path))
        assert re.search(r"Payment is overdue: the site will be suspended on \d+ \w+ \d{4} unless the invoice is paid",
                         text), path


def test_plans_page_sets_a_stripe_price(world, operator):
    page = operator.get("/plans")
    assert 'name="stripe_price"' in page.text and 'value="price_agency"' in page.text
    form = {"name": "agency", "title": "Agency", "features": ["cms", "ecommerce"], "stripe_price": "price_agency_v2"}
    saved = operator.post("/plans/save", form)
    assert saved.status_code == 200 and "Agency saved" in words(saved)
    bad = operator.post("/plans/save", {**form, "stripe_price": "not a price!"})
    assert "is not a Stripe price id" in words(bad)
    registry = world.services.db.registry
    assert registry.conn.execute("SELECT stripe_price FROM plans WHERE name = 'agency'").fetchone()[0] == "price_agency_v2"
    operator.post("/plans/save", {**form, "stripe_price": "price_agency", "features": ["analytics", "cms", "custom_domains",
                                                                                   "ecommerce", "forms", "git", "webhooks"]})


def test_billing_off_shows_nothing_of_it(world, fake, billing, site, operator):
    changes.change_plan(billing, site.slug, "business", owner_email=f"owner@{site.slug}.test", actor=None)
    billing.apply(fake.set(billing.row(site)["subscription_id"], status="past_due"))
    on = world.services.config
    world.services.config = replace(on, billing_stripe_key=None)
    try:
        plans_page = operator.get("/plans")
        plan_page = operator.get(f"/tenants/plan?slug={site.slug}")
        usage = Admin(world, site.slug, f"owner@{site.slug}.test").get("/settings/usage")
        moved = operator.post("/tenants/plan/change", {"slug": site.slug, "plan": "agency", "note": "by hand"})
    finally:
        world.services.config = on
    assert "stripe_price" not in plans_page.text
    for page in (plan_page, usage):
        assert "Billing" not in words(page) and "overdue" not in words(page) and "prorated" not in words(page)
    assert "moved from business to agency" in words(moved)
