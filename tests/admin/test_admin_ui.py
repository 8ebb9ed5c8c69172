"""The admin's design system on the demo bakery: its stylesheet and icons are cached files, the menu
is grouped, unsaved-to-the-site changes are counted with a Publish button until published, the
dashboard gives the numbers a shop owner checks first (with an empty state rather than a flat chart
before any sale), and lists show statuses as badges with empty states that say what to do next."""

from __future__ import annotations

import re

import httpx

from commerce_api.admin.ui import MENU, TONES, status_tone
from content.gitrepo import Author
from content.migrations import connect
from tests.admin.test_shipping_tax_settings import flat_rate
from tests.admin.test_tax_report import _checkout


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _region(response: httpx.Response, region_id: str) -> str:
    found = re.search(rf'id="{region_id}"[^>]*>(.*?)</(?:div|p|span)>', response.text, re.S)
    return _text(found.group(1)) if found else ""


def test_the_stylesheet_and_the_icons_are_fingerprinted_files_cached_for_a_year(admin, site):
    owner = admin()
    page = owner.get("/").text
    assert "<style>" not in page  # no stylesheet sent again with every page
    css = re.search(r'<link rel="stylesheet" href="(/assets/admin\.[0-9a-f]{10}\.css)">', page).group(1)
    sprite = re.search(r'<use href="(/assets/icons\.[0-9a-f]{10}\.svg)#layout-dashboard">', page).group(1)
    for url, media_type in [(css, "text/css"), (sprite, "image/svg+xml")]:
        served = owner.http.get(url)
        assert served.status_code == 200 and served.headers["content-type"].startswith(media_type)
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "--c-accent" in owner.http.get(css).text  # the tokens
    assert owner.http.get("/assets/admin.0000000000.css").status_code == 404  # an old fingerprint
    assert owner.http.get("/assets/..%2Fcommon.py").status_code == 404
    # Every icon the menu names is in the sprite, and every icon is decoration only.
    symbols = set(re.findall(r'<symbol id="([a-z0-9-]+)"', owner.http.get(sprite).text))
    assert {glyph for _, entries in MENU for *_, glyph in entries} <= symbols
    assert all('aria-hidden="true"' in svg for svg in re.findall(r"<svg[^>]*><use", page))


def test_the_menu_is_grouped_into_content_shop_and_settings(admin):
    nav = re.search(r'<nav aria-label="Admin">(.*?)</nav>', admin().get("/").text, re.S).group(1)
    groups = {name: re.findall(r">([^<]+)</a></li>", block) for name, block in
              re.findall(r'<p class="nav-group" id="nav-[a-z]+">([^<]+)</p>\s*<ul[^>]*>(.*?)</ul>', nav, re.S)}
    assert groups == {"Content": ["Pages and posts", "Media", "Inbox"],
                      "Shop": ["Products", "Orders", "Discounts", "Gift cards", "Reports"],
                      "Settings": ["Deploys", "Notifications", "Users", "Webhooks", "Settings"]}
    assert 'aria-controls="side-menu" aria-expanded' not in nav  # the phone's menu button sits outside the list


def test_the_dashboard_before_any_sale_says_so_instead_of_drawing_a_flat_chart(admin, site):
    flat_rate(site)
    owner = admin()
    assert owner.publish()["status"] == "done"
    page = owner.get("/")
    assert "No sales in the last 30 days" in page.text
    assert 'role="img"' not in page.text
    assert _region(page, "orders-today") == "0" and _region(page, "orders-unpaid") == "0"


def test_unpublished_changes_are_counted_with_a_publish_button_until_published(admin):
    owner = admin()
    assert owner.publish()["status"] == "done"
    assert 'id="unpublished"' not in owner.get("/pages").text  # nothing waiting: nothing shown
    assert "up to date" in _region(owner.get("/"), "dashboard-unpublished")
    repo = owner.repo()
    for n in range(2):
        repo.write({"pages/about.md": repo.read("pages/about.md") + f"\nMore {n}.\n".encode()},
                   Author("Owner", "owner@bakery.test"), f"More about us {n}")
    listing = owner.get("/pages")
    bar = re.search(r'<div class="pending"[^>]*id="unpublished">(.*?)</div>', listing.text, re.S).group(1)
    assert "2 changes not yet published." in _text(bar)
    assert 'action="/sites/bakery/publish"' in bar and f'name="csrf_token" value="{owner.csrf}"' in bar
    assert "2 changes waiting" in _region(owner.get("/"), "dashboard-unpublished")
    location = owner.post("/publish").headers["location"]
    assert owner.wait_for_job(location)["status"] == "done"
    assert 'id="unpublished"' not in owner.get("/pages").text


def test_the_dashboard_counts_todays_orders_what_waits_and_low_stock(admin, site):
    owner = admin()
    numbers = [_checkout(site, f"dashboard-{n}") for n in range(3)]
    assert owner.post(f"/orders/{numbers[0]}/paid").status_code == 303
    conn = connect(site["data"] / "tenants" / "bakery" / "tenant.db")
    try:
        reserved = conn.execute("SELECT reserved FROM stock WHERE sku = 'AF-6'").fetchone()[0]  # the unpaid orders'
    finally:
        conn.close()
    two_left = {"path": "products/almond-financiers.md", "on_hand.AF-6": str(reserved + 2)}
    assert owner.post("/stock", two_left).status_code == 303
    page = owner.get("/")
    assert _region(page, "orders-today") == "3"
    assert _region(page, "orders-unpaid") == "2"  # placed, not paid
    assert _region(page, "orders-unshipped") == "1"  # paid, not sent
    assert _region(page, "revenue-today") not in ("", "£0.00", "€0.00")
    assert re.search(r'<svg role="img" aria-labelledby="revenue-t revenue-d"', page.text)
    assert "No sales in the last 30 days" not in page.text
    stock = re.search(r'<section class="card" aria-labelledby="stock-h">(.*?)</section>', page.text, re.S).group(1)
    assert "AF-6" in stock and "2 left" in stock and "badge-warn" in stock


def test_order_statuses_are_badges_with_a_tone(admin):
    orders = admin().get("/orders").text
    assert re.search(r'<span class="badge badge-ok">paid</span>', orders)
    assert re.search(r'<span class="badge badge-warn">pending</span>', orders)
    assert status_tone("failed", "deploy") == "bad" and status_tone("no such word", "order") == "muted"
    assert set(TONES) >= {"order", "payment", "deploy", "job", "discount", "giftcard"}


def test_an_empty_list_says_what_to_do_next(admin):
    found = admin().get("/gift-cards", params={"q": "ZZZZ"}).text
    assert "No card ends in ZZZZ" in _text(found)
    shop = admin("bakery", "shop@bakery.test").get("/orders", params={"status": "cancelled"}).text
    assert 'class="empty"' in shop and "No orders match" in _text(shop)


def test_the_phone_menu_button_controls_the_sidebar_with_a_script_the_policy_allows(admin):
    response = admin().get("/")
    assert re.search(r'<button type="button" class="menu-button" aria-expanded="false" aria-controls="side-menu">',
                     response.text)
    assert 'id="side-menu"' in response.text
    nonce = re.search(r"script-src 'nonce-([^']+)'", response.headers["content-security-policy"]).group(1)
    assert f'<script nonce="{nonce}">' in response.text
