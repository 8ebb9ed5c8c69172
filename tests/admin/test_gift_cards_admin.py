"""Gift cards in the admin on the demo installation: the bakery's gift card bought through the shop's
API and issued when staff record the payment, a card issued by hand (its code shown once), the
ledger, disabling, and who may do what."""

from __future__ import annotations

import re

import httpx

from tests.admin.conftest import alert, status

PICKUP = {"name": "Iona Reid"}


def shop_client(site) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{site['port']}", headers={"Host": "bakery.localhost"}, timeout=30)


def test_a_gift_card_bought_in_the_shop_appears_once_paid(site, admin):
    with shop_client(site) as shop:
        token = shop.post("/api/carts").json()["token"]
        assert shop.post(f"/api/carts/{token}/items", json={"sku": "GIFT-25", "quantity": 1}).status_code == 201
        placed = shop.post("/api/checkout", json={"cart_token": token, "email": "iona@example.test",
                                                  "shipping_method": "pickup", "shipping_address": PICKUP}).json()
    number, link = placed["order"]["number"], placed["order"]["token"]
    manager = admin(email="shop@bakery.test")
    assert f"order {number}" not in manager.get("/gift-cards").text  # not a card until it is paid
    assert manager.post(f"/orders/{number}/paid").status_code == 303
    listing = manager.get("/gift-cards")
    assert listing.status_code == 200 and f'href="/sites/bakery/orders/{number}">order {number}' in listing.text
    with shop_client(site) as shop:
        (card,) = shop.get(f"/api/orders/{number}", params={"token": link}).json()["gift_cards"]
    assert card["amount"] == 2500 and card["expires_at"]  # the demo's cards are valid for 24 months
    assert card["code"] not in listing.text and f"…{card['code'][-4:]}" in listing.text


def test_staff_issue_a_card_see_the_code_once_and_disable_it(site, admin):
    owner = admin()
    issued = owner.post("/gift-cards/new", {"amount": "15.00", "recipient": "raffle@example.test",
                                            "note": "Summer fair raffle", "expires_at": ""})
    assert issued.status_code == 303, alert(issued)  # a redirect: reloading the page issues nothing
    shown_at = issued.headers["location"]
    issued = owner.get(shown_at)
    assert "not shown again" in status(issued)
    code = re.search(r'<code class="copy">([A-Z0-9-]{19})</code>', issued.text).group(1)
    card_id = re.search(r'/gift-cards/(\d+)/status"', issued.text).group(1)
    page = owner.get(f"/gift-cards/{card_id}")
    assert code not in page.text and f"…{code[-4:]}" in page.text and "Summer fair raffle" in page.text
    assert code not in owner.get(shown_at).text  # the code is shown once: the same link shows it no more
    assert "15.00 GBP" in page.text and ">issue<" in page.text  # the ledger's first line
    assert code not in owner.get("/gift-cards").text
    found = owner.get("/gift-cards", params={"q": code[-4:]})
    assert f'/gift-cards/{card_id}"' in found.text

    disabled = owner.post(f"/gift-cards/{card_id}/status", {"status": "disabled"})
    assert disabled.status_code == 303
    with shop_client(site) as shop:
        token = shop.post("/api/carts").json()["token"]
        shop.post(f"/api/carts/{token}/items", json={"sku": "BG-1", "quantity": 1})
        assert shop.post(f"/api/carts/{token}/gift-cards", json={"code": code}).status_code == 422
        owner.post(f"/gift-cards/{card_id}/status", {"status": "active"})
        view = shop.post(f"/api/carts/{token}/gift-cards", json={"code": code}).json()
    assert view["gift_card"] == min(1500, view["total"]) and view["amount_due"] == view["total"] - view["gift_card"]


def test_bad_amounts_are_refused_naming_the_field(admin):
    refused = admin().post("/gift-cards/new", {"amount": "12,50"})
    assert refused.status_code == 303
    assert "amount" in httpx.URL(refused.headers["location"]).params["error"]


def test_editors_see_no_gift_cards(admin):
    editor = admin(email="editor@agency.test")
    assert editor.get("/gift-cards").status_code == 403
    assert "Gift cards" not in editor.get("/").text
