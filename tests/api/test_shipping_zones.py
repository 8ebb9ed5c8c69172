"""Shipping zones: which zone an address gets, what each method costs, and what excludes one;
then the same through the API (shipping-options, the cart and checkout)."""

from __future__ import annotations

import pytest

from commerce_api.shop import shipping
from commerce_api.shop.orders import Orders
from commerce_api.shop.shipping import Destination, Item
from publish.catalog import import_snapshot
from tests.api.shopping import cart


def method(mid: str, name: str, price: int | None = None, **more) -> dict:
    return {"id": mid, "name": name, "price": price, "free_over": None, "min_order": None, "estimate": "",
            "weight_bands": [], "subtotal_bands": [], "exclude_products": [], "exclude_categories": [], **more}


def zone(zid: str, countries: list[str], methods: list[dict], postcodes=(), exclude=()) -> dict:
    return {"id": zid, "name": zid.title(), "countries": countries, "postcodes": list(postcodes),
            "exclude_postcodes": list(exclude), "methods": methods}


CONFIG = {
    "zones": [
        zone("uk", ["GB"], [method("uk/tracked-48", "Tracked 48", weight_bands=[
            {"up_to": 1000, "price": 395}, {"up_to": 5000, "price": 795}], free_over=5000,
            exclude_categories=["cakes"], estimate="2–3 working days")], exclude=["BT*"]),
        zone("edinburgh", ["GB"], [method("edinburgh/courier", "Courier", 600)], postcodes=["EH1", "EH6"]),
        zone("leith-docks", ["GB"], [method("leith-docks/bike", "Bike", 300)], postcodes=["EH6 6*"]),
        zone("europe", ["FR", "DE", "NL"], [method("europe/post", "Post", subtotal_bands=[
            {"from": 0, "price": 1200}, {"from": 3000, "price": 800}, {"from": 10000, "price": 0}])]),
        zone("world", ["*"], [method("world/air", "Airmail", 2500)]),
    ],
    "local_delivery": [{"id": "local/van", "name": "Bakery van", "countries": ["GB"], "postcodes": ["EH6", "EH7 4*"],
                        "exclude_postcodes": ["EH6 9*"], "price": 350, "min_order": 1500, "free_over": 4000,
                        "estimate": "Next morning", "exclude_products": [], "exclude_categories": []}],
    "pickup": [],
}
BREAD = Item("rye", "Dark Rye", frozenset({"bread"}), 720, 800)
CAKE = Item("cake", "Celebration cake", frozenset({"cakes"}), 3500, 1500)


def ids(choice: shipping.Choice) -> list[str]:
    return [o.id for o in choice.available]


@pytest.mark.parametrize("country,postcode,expected", [
    ("GB", "SW1A 1AA", "uk"),           # by country
    ("GB", "EH1 1AA", "edinburgh"),     # a postcode zone beats the country's
    ("GB", "EH11AA", "edinburgh"),      # typed without its space
    ("GB", "EH10 4BF", "uk"),           # EH1 is not EH10
    ("GB", "EH6 6AA", "leith-docks"),   # overlapping postcode zones: the most specific wins
    ("GB", "EH6 5DT", "edinburgh"),
    ("GB", "BT1 1AA", "world"),         # excluded from the UK zone, so only "everywhere else" is left
    ("FR", "75001", "europe"),
    ("US", "94107", "world"),
])
def test_an_address_gets_its_most_specific_zone(country, postcode, expected):
    found = shipping.zone_for(shipping.config(CONFIG), Destination(country, postcode))
    assert found is not None and found["id"] == expected


def test_postcode_patterns():
    assert shipping.specificity("EH1", "EH1 1AA") == 3
    assert shipping.specificity("EH1", "EH10 1AA") is None
    assert shipping.specificity("941", "94107") == 3  # digits: a plain prefix
    assert shipping.specificity("EH[1-9] *", "EH7 4AB") == 3
    assert shipping.specificity("EH[1-9] *", "EH10 4AB") is None
    assert shipping.normalise_postcode("  eh6   5dt ", "GB") == "EH6 5DT"
    assert shipping.normalise_postcode("eh65dt", "GB") == "EH6 5DT"
    assert shipping.normalise_postcode("10115", "DE") == "10115"


@pytest.mark.parametrize("weight,price", [(1, 395), (1000, 395), (1001, 795), (5000, 795)])
def test_weight_bands_include_their_upper_bound(weight, price):
    item = Item("rye", "Dark Rye", frozenset(), 720, weight)
    found = shipping.options(shipping.config(CONFIG), Destination("GB", "SW1A 1AA"), [item], "GBP")
    assert [(o.id, o.price) for o in found.available] == [("uk/tracked-48", price)]


def test_heavier_than_the_last_band_is_refused_with_the_weights():
    heavy = Item("rye", "Dark Rye", frozenset(), 720, 5001)
    found = shipping.options(shipping.config(CONFIG), Destination("GB", "SW1A 1AA"), [heavy], "GBP")
    assert found.available == () and found.reason == "Tracked 48 takes up to 5 kg; this order weighs 5.001 kg"


@pytest.mark.parametrize("subtotal,price", [(2999, 1200), (3000, 800), (9999, 800), (10000, 0)])
def test_subtotal_bands_start_at_their_lower_bound(subtotal, price):
    item = Item("print", "Print", frozenset(), subtotal, 100)
    found = shipping.options(shipping.config(CONFIG), Destination("FR", "75001"), [item], "EUR")
    assert [o.price for o in found.available] == [price]


def test_free_over_threshold_counts_the_goods():
    found = shipping.options(shipping.config(CONFIG), Destination("GB", "SW1A 1AA"),
                             [Item("rye", "Dark Rye", frozenset(), 5000, 500)], "GBP")
    assert found.available[0].price == 0


def test_an_excluded_category_names_the_product_and_what_excludes_it():
    found = shipping.options(shipping.config(CONFIG), Destination("GB", "SW1A 1AA"), [BREAD, CAKE], "GBP")
    assert found.available == ()
    assert found.reason == "Tracked 48 cannot take Celebration cake (cakes)"


def test_local_delivery_is_offered_beside_the_zone_and_keeps_its_minimum():
    cfg = shipping.config(CONFIG)
    small = shipping.options(cfg, Destination("GB", "EH6 5DT"), [BREAD], "GBP")
    assert ids(small) == ["edinburgh/courier"]
    assert [r.reason for r in small.refused] == ["Bakery van needs an order of at least £15.00"]
    enough = [Item("rye", "Dark Rye", frozenset(), 1500, 800)]
    assert ids(shipping.options(cfg, Destination("GB", "EH6 5DT"), enough, "GBP")) == ["local/van",
                                                                                    "edinburgh/courier"]
    assert ids(shipping.options(cfg, Destination("GB", "EH7 4AB"), enough, "GBP")) == ["local/van", "uk/tracked-48"]
    assert ids(shipping.options(cfg, Destination("GB", "EH6 9ZZ"), enough, "GBP")) == ["edinburgh/courier"]


def test_no_zone_says_where_it_does_not_deliver():
    cfg = {**CONFIG, "zones": CONFIG["zones"][:4]}
    found = shipping.options(shipping.config(cfg), Destination("US", "94107"), [BREAD], "USD")
    assert found.available == () and found.reason == "we do not deliver to US 94107"


def test_a_legacy_flat_rate_becomes_a_zone_and_a_pickup_point():
    cfg = shipping.config({"flat_rate": 495, "free_over": 4000, "countries": ["GB"]})
    found = shipping.options(cfg, Destination("GB", "EH6 5DT"), [BREAD], "GBP")
    assert [(o.id, o.price) for o in found.available] == [("standard/delivery", 495), ("pickup/shop", 0)]
    assert shipping.options(cfg, Destination("FR", ""), [BREAD], "GBP").no_zone == "we do not deliver to FR"


# -- through the API -------------------------------------------------------------------------------

ZONED = {
    "version": "zoned", "currency": "GBP", "timezone": "Europe/London",
    "shipping": CONFIG, "tax": {"label": "VAT", "inclusive": True, "origin": "GB", "rates": {"GB": {"standard": "20"}}},
    "products": [
        {"slug": "rye", "name": "Dark Rye", "url": "/products/rye/", "categories": ["bread"],
         "variants": [{"sku": "RYE", "title": "Dark Rye", "price": 720, "currency": "GBP", "weight": 800}]},
        {"slug": "cake", "name": "Celebration cake", "url": "/products/cake/", "categories": ["cakes"],
         "variants": [{"sku": "CAKE", "title": "Celebration cake", "price": 3500, "currency": "GBP", "weight": 1500}]},
    ],
}


@pytest.fixture(name="zoned", scope="module")
def fx_zoned(world):
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, ZONED)
    for sku in ("RYE", "CAKE"):
        Orders(conn).set_stock(sku, 500)
    yield world
    conn.close()


def test_shipping_options_lists_what_applies_with_prices_and_totals(zoned):
    with zoned.client("beta") as client:
        token = cart(client, ("RYE", 3))
        answer = client.get(f"/api/carts/{token}/shipping-options",
                            params={"country": "gb", "postal_code": "eh7 4ab"}).json()
    assert (answer["country"], answer["postal_code"], answer["reason"]) == ("GB", "EH7 4AB", None)
    van, post = answer["options"]
    assert (van["id"], van["kind"], van["price"], van["estimate"]) == ("local/van", "local", 350, "Next morning")
    assert van["quote"]["total"] == 2160 + 350 and van["quote"]["tax"] == round((2160 + 350) / 6)
    assert (post["id"], post["zone"], post["price"]) == ("uk/tracked-48", "Uk", 795)  # 2.4 kg: the second band


def test_no_option_applies_gives_the_reason(zoned):
    with zoned.client("beta") as client:
        token = cart(client, ("CAKE", 1))
        answer = client.get(f"/api/carts/{token}/shipping-options",
                            params={"country": "GB", "postal_code": "SW1A 1AA"}).json()
        assert answer["options"] == []
        assert answer["reason"] == "Tracked 48 cannot take Celebration cake (cakes)"
        refused = client.post("/api/checkout", json={
            "cart_token": token, "email": "ada@example.test", "shipping_method": "uk/tracked-48",
            "shipping_address": {"name": "Ada", "line1": "1 Road", "city": "London", "postal_code": "SW1A 1AA",
                                 "country": "GB"}})
    assert refused.status_code == 409
    assert refused.json()["error"] == {"code": "shipping_unavailable", "field": "shipping_method",
                                       "message": "Tracked 48 cannot take Celebration cake (cakes)"}


def test_an_unknown_option_or_a_bad_country_is_a_named_400(zoned):
    with zoned.client("beta") as client:
        token = cart(client, ("RYE", 1))
        bad = client.get(f"/api/carts/{token}", params={"shipping_method": "uk/teleport", "country": "GB"})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "shipping_method"
        bad = client.get(f"/api/carts/{token}/shipping-options", params={"country": "Scotland"})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "country"


def test_checkout_charges_the_chosen_option_and_the_order_keeps_it(zoned):
    with zoned.client("beta") as client:
        token = cart(client, ("RYE", 3))
        view = client.get(f"/api/carts/{token}", params={"shipping_method": "local/van", "country": "GB",
                                                        "postal_code": "EH6 5DT"}).json()
        assert (view["shipping_option"], view["shipping"], view["total"]) == ("local/van", 350, 2510)
        placed = client.post("/api/checkout", json={
            "cart_token": token, "email": "ada@example.test", "shipping_method": "local/van",
            "shipping_address": {"name": "Ada", "line1": "1 Shore", "city": "Leith", "postal_code": "eh65dt",
                                 "country": "GB"}})
    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    assert order["shipping_option"] == {"id": "local/van", "kind": "local", "name": "Bakery van",
                                        "estimate": "Next morning"}
    assert (order["shipping"], order["total"], order["shipping_method"]) == (350, view["total"], "delivery")
    assert order["tax_lines"] == [{"jurisdiction": "GB", "category": "standard", "rate": "20", "base": 2092,
                                   "amount": 418, "note": ""}]
    assert order["tax"] == 418


def test_an_address_outside_the_local_area_cannot_use_the_van(zoned):
    with zoned.client("beta") as client:
        token = cart(client, ("RYE", 3))
        refused = client.post("/api/checkout", json={
            "cart_token": token, "email": "ada@example.test", "shipping_method": "local/van",
            "shipping_address": {"name": "Ada", "line1": "1 Road", "city": "London", "postal_code": "SW1A 1AA",
                                 "country": "GB"}})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "shipping_unavailable"
    assert refused.json()["error"]["message"] == "Bakery van does not deliver to SW1A 1AA"


def test_before_an_address_the_cart_estimates_with_the_first_method_or_else_pickup(zoned):
    with zoned.client("beta") as client:
        bread = client.get(f"/api/carts/{cart(client, ('RYE', 1))}").json()
        assert (bread["shipping_option"], bread["shipping"], bread["shipping_estimated"]) == ("uk/tracked-48", 395, True)
        cake = client.get(f"/api/carts/{cart(client, ('CAKE', 1))}").json()
    # The cake cannot be posted and this shop has no pickup point: the cart says so.
    assert cake["shipping_option"] is None and cake["shipping_problem"] == "Tracked 48 cannot take Celebration cake (cakes)"


def test_nowhere_to_send_says_so_before_why_pickup_will_not_do(world):
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, {**ZONED, "version": "zoned-no-world", "shipping": {
        **CONFIG, "zones": CONFIG["zones"][:4], "pickup": [{
            "id": "pickup/leith", "name": "Leith", "address": "1 Shore", "country": "GB", "price": 0, "hours": {},
            "exclude_products": [], "exclude_categories": ["bread"]}]}})
    try:
        with world.client("beta") as client:
            token = cart(client, ("RYE", 1))
            answer = client.get(f"/api/carts/{token}/shipping-options", params={"country": "US"}).json()
    finally:
        import_snapshot(conn, ZONED)
        conn.close()
    assert answer["options"] == []
    assert answer["reason"] == "we do not deliver to US; Leith cannot take Dark Rye (bread)"


def test_an_address_no_zone_covers_says_so_even_when_pickup_is_left(world):
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, {**ZONED, "version": "zoned-pickup", "shipping": {
        **CONFIG, "zones": CONFIG["zones"][:4], "pickup": [{
            "id": "pickup/leith", "name": "Leith", "address": "1 Shore", "country": "GB", "price": 0, "hours": {},
            "exclude_products": [], "exclude_categories": []}]}})
    try:
        with world.client("beta") as client:
            answer = client.get(f"/api/carts/{cart(client, ('RYE', 1))}/shipping-options",
                                params={"country": "US"}).json()
    finally:
        import_snapshot(conn, ZONED)
        conn.close()
    assert [o["id"] for o in answer["options"]] == ["pickup/leith"] and answer["reason"] is None
    assert answer["unavailable"][0] == {"id": None, "name": "Delivery", "reason": "we do not deliver to US"}
