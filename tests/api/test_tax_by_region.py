"""Tax by where the goods go: domestic and EU buyers before and after OSS, prices with and without
tax, reverse charge for business buyers, exports, tax on delivery, and the tax lines an order keeps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from commerce_api.shop.orders import Orders
from commerce_api.shop.tax import EXPORT, REVERSE_CHARGE, TaxRules, charge, place, rates_for
from content import eu_vat
from publish.catalog import import_snapshot
from tests.api.shopping import cart

DE = TaxRules(label="MwSt", inclusive=True, origin="DE")
DE_OSS = TaxRules(label="MwSt", inclusive=True, origin="DE", oss=True)
DE_NET = TaxRules(label="MwSt", inclusive=False, origin="DE", oss=True)


def lines(taxed):
    return [(l.jurisdiction, l.category, str(l.rate), l.base, l.amount, l.note) for l in taxed.lines]


def test_a_domestic_sale_pays_the_origin_rates_inclusive():
    taxed = charge(DE, place(DE, "DE"), [("standard", 11900), ("reduced", 1070)], 0)
    assert lines(taxed) == [("DE", "reduced", "7", 1000, 70, ""), ("DE", "standard", "19", 10000, 1900, "")]
    assert (taxed.tax, taxed.total) == (1970, 12970)


def test_prices_without_tax_add_it():
    taxed = charge(DE_NET, place(DE_NET, "DE"), [("standard", 10000)], 0)
    assert (taxed.tax, taxed.total) == (1900, 11900)


def test_an_eu_buyer_pays_the_origin_rate_before_oss_and_their_own_after():
    before = charge(DE, place(DE, "FR"), [("standard", 12000)], 0)
    assert lines(before) == [("DE", "standard", "19", 10084, 1916, "")]
    after = charge(DE_OSS, place(DE_OSS, "FR"), [("standard", 12000)], 0)
    assert lines(after) == [("FR", "standard", "20", 10000, 2000, "")]
    assert before.total == after.total == 12000  # inclusive prices: the shopper pays what the page says
    net = charge(DE_NET, place(DE_NET, "FR"), [("standard", 10000)], 0)
    assert (net.tax, net.total) == (2000, 12000)


def test_reverse_charge_for_a_business_buyer_in_another_member_state():
    where = place(DE_OSS, "FR", vat_country=eu_vat.vat_number_country("FR 12 345678901"))
    assert (where.rates, where.note) == (None, REVERSE_CHARGE)
    taxed = charge(DE_OSS, where, [("standard", 11900)], 0)
    assert lines(taxed) == [("FR", "standard", "0", 10000, 0, REVERSE_CHARGE)]
    assert (taxed.tax, taxed.total, taxed.removed) == (0, 10000, 1900)  # the German VAT comes out of the price
    # A number from another country than the destination, or a buyer at home: VAT as usual.
    assert place(DE_OSS, "FR", vat_country="NL").note == ""
    assert place(DE_OSS, "DE", vat_country="DE").rates == rates_for(DE_OSS, "DE")


def test_vat_numbers_are_checked_for_their_shape_only():
    assert eu_vat.vat_number_country("de123456789") == "DE"
    assert eu_vat.vat_number_country("EL 123 456 789") == "GR"
    assert eu_vat.vat_number_country("NL123456789B01") == "NL"
    assert eu_vat.vat_number_country("DE12345678") is None  # one digit short
    assert eu_vat.vat_number_country("GB123456789") is None  # not an EU number
    assert eu_vat.vat_number_country("") is None


def test_exports_are_zero_rated_and_take_the_origin_tax_out():
    where = place(DE_OSS, "US")
    assert (where.jurisdiction, where.rates, where.note) == ("US", None, EXPORT)
    taxed = charge(DE_OSS, where, [("standard", 11900), ("reduced", 1070)], 0)
    assert (taxed.tax, taxed.total) == (0, 11000)


def test_own_rates_for_a_region_apply_to_addresses_there():
    rules = TaxRules(label="Sales tax", inclusive=False, origin="US",
                     rates=(("US", (("standard", Decimal("0")),)), ("US-NY", (("standard", Decimal("8.875")),))))
    ny = place(rules, "US", "ny")
    assert ny.jurisdiction == "US-NY"
    assert charge(rules, ny, [("standard", 10000)], 0).tax == 888
    assert charge(rules, place(rules, "US", "CA"), [("standard", 10000)], 0).tax == 0


def test_tax_on_delivery_follows_the_goods_pro_rata():
    taxed = charge(DE_NET, place(DE_NET, "DE"), [("standard", 3000), ("reduced", 1000)], 400)
    # 400 delivery: 300 with the standard goods, 100 with the reduced.
    assert lines(taxed) == [("DE", "reduced", "7", 1100, 77, ""), ("DE", "standard", "19", 3300, 627, "")]
    untaxed = charge(TaxRules(inclusive=False, origin="DE", shipping=False), place(DE_NET, "DE"),
                     [("standard", 3000)], 400)
    assert untaxed.tax == 570 and untaxed.total == 3970


def test_a_shop_without_an_origin_keeps_its_one_rate_everywhere():
    legacy = TaxRules.from_raw({"rate": "20", "inclusive": False, "label": "VAT"})
    taxed = charge(legacy, place(legacy, "US"), [("standard", 1000), ("zero", 500)], 0)
    assert (taxed.tax, taxed.total) == (200, 1700)


def test_the_starter_table_is_dated_and_overridable():
    assert eu_vat.AS_OF == "2026-01-01"
    assert rates_for(DE, "DK") == {"standard": Decimal(25), "reduced": Decimal(25), "zero": Decimal(0)}
    own = TaxRules(origin="DE", rates=(("FR", (("reduced", Decimal("10")),)),))
    assert rates_for(own, "FR")["reduced"] == Decimal(10) and rates_for(own, "FR")["standard"] == Decimal(20)


# -- through checkout ------------------------------------------------------------------------------

EU_SHOP = {
    "version": "eu", "currency": "EUR", "timezone": "Europe/Berlin",
    "shipping": {"zones": [{"id": "eu", "name": "EU", "countries": ["DE", "FR", "NL"], "postcodes": [],
                            "exclude_postcodes": [], "methods": [{"id": "eu/post", "name": "Post", "price": 1190}]},
                           {"id": "world", "name": "World", "countries": ["*"], "postcodes": [],
                            "exclude_postcodes": [], "methods": [{"id": "world/air", "name": "Air", "price": 2380}]}],
                 "local_delivery": [], "pickup": []},
    "tax": {"label": "MwSt", "inclusive": True, "origin": "DE", "oss": True, "shipping": True},
    "products": [
        {"slug": "print", "name": "Print", "url": "/products/print/",
         "variants": [{"sku": "PRINT", "title": "A3", "price": 11900, "currency": "EUR", "weight": 300}]},
        {"slug": "book", "name": "Photo book", "url": "/products/book/",
         "variants": [{"sku": "BOOK", "title": "Book", "price": 5350, "currency": "EUR", "tax_category": "reduced"}]},
    ],
}
ADDRESS = {"name": "Camille", "line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"}


@pytest.fixture(name="eu", scope="module")
def fx_eu(world):
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, EU_SHOP)
    for sku in ("PRINT", "BOOK"):
        Orders(conn).set_stock(sku, 500)
    yield world, conn
    conn.close()


def _checkout(client, token, **body):
    return client.post("/api/checkout", json={"cart_token": token, "email": "camille@example.test",
                                              "shipping_method": "eu/post", **body})


def test_an_order_to_france_keeps_french_tax_lines_with_delivery_pro_rata(eu):
    world, conn = eu
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1), ("BOOK", 1))
        placed = _checkout(client, token, shipping_address=ADDRESS)
    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    # Post 11.90 split 119:53.5 → 8.21 with the print, 3.69 with the book.
    assert order["tax_lines"] == [
        {"jurisdiction": "FR", "category": "reduced", "rate": "5.5", "base": 5421, "amount": 298, "note": ""},
        {"jurisdiction": "FR", "category": "standard", "rate": "20", "base": 10601, "amount": 2120, "note": ""}]
    assert order["tax"] == 298 + 2120 and order["total"] == 11900 + 5350 + 1190
    stored = conn.execute("SELECT SUM(amount) FROM order_tax_lines t JOIN orders o ON o.id = t.order_id "
                          "WHERE o.number = ?", (order["number"],)).fetchone()[0]
    assert stored == order["tax"]


def test_a_business_buyer_with_a_vat_number_pays_no_vat(eu):
    world, _ = eu
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1))
        view = client.get(f"/api/carts/{token}", params={"shipping_method": "eu/post", "country": "FR",
                                                         "vat_number": "FR12345678901"}).json()
        assert (view["tax"], view["tax_note"], view["total"]) == (0, "reverse charge", 10000 + 1000)
        placed = _checkout(client, token, shipping_address=ADDRESS, vat_number="fr 12345678901")
    order = placed.json()["order"]
    assert (order["vat_number"], order["tax_note"], order["tax"], order["total"]) == \
        ("FR12345678901", "reverse charge", 0, 11000)


def test_a_malformed_vat_number_is_a_named_400(eu):
    world, _ = eu
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1))
        refused = _checkout(client, token, shipping_address=ADDRESS, vat_number="FR123")
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "vat_number"
    assert refused.json()["error"]["code"] == "invalid_vat_number"


def test_an_export_outside_the_eu_pays_the_price_without_german_vat(eu):
    world, _ = eu
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1))
        placed = _checkout(client, token, shipping_method="world/air", shipping_address={
            **ADDRESS, "city": "New York", "postal_code": "10001", "country": "US", "region": "NY"})
    order = placed.json()["order"]
    assert (order["tax"], order["tax_note"], order["total"]) == (0, "export", 10000 + 2000)
    assert order["shipping_address"]["region"] == "NY"


def test_refunding_a_whole_export_order_returns_what_was_paid(eu):
    from commerce_api.shop import refunds

    world, conn = eu
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1), ("BOOK", 1))
        placed = _checkout(client, token, shipping_method="world/air", shipping_address={**ADDRESS, "country": "CH"})
    order = placed.json()["order"]
    assert order["total"] < 11900 + 5350 + 2380  # German VAT taken out of the prices
    Orders(conn).mark_paid(order["number"], actor="staff@example.test")
    half = refunds.preview(conn, order["number"], [refunds.Wanted("PRINT", 1)])
    whole = refunds.preview(conn, order["number"], [refunds.Wanted("PRINT", 1), refunds.Wanted("BOOK", 1)],
                            shipping=True)
    assert half.amount == order["total"] * 11900 // (11900 + 5350 + 2380)
    assert whole.amount == order["total"]
