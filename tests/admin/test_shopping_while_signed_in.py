"""Staff shop on their own storefront: the admin session cookie travels with the shop's requests and
must neither block them (CSRF is for the admin's forms) nor break them once it has expired."""

from __future__ import annotations


def test_a_signed_in_owner_can_use_the_basket(admin, site):
    owner = admin()
    api = owner.http
    cart = api.post("/api/carts", headers={"Accept": "application/json"})
    assert cart.status_code == 201, cart.text
    added = api.post(f"/api/carts/{cart.json()['token']}/items", json={"sku": "BG-1", "quantity": 1},
                     headers={"Accept": "application/json"})
    assert added.status_code == 201, added.text


def test_an_expired_session_cookie_does_not_block_public_pages(admin, site):
    owner = admin()
    owner.post("/logout")  # the server ends the session; the browser may still send the cookie
    stale = owner.http.cookies.get("tessera_session")
    visitor = admin("bakery", "")
    visitor.http.cookies.set("tessera_session", stale or "stale-token", domain="")
    assert visitor.http.get("/api/products", headers={"Accept": "application/json"}).status_code == 200
    assert visitor.http.post("/api/carts", headers={"Accept": "application/json"}).status_code == 201
    assert visitor.http.get("/forgot").status_code == 200
    assert visitor.http.get("/").status_code == 303  # pages that need a session still ask for one
