"""Review of issue 15 (shipping zones, pickup slots, tax by region): each test shows one defect and
fails until it is fixed. Run alone: .venv/bin/python -m pytest tests/api/test_review15_findings.py"""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from commerce_api.shop import pickup
from commerce_api.shop.carts import valid_method
from commerce_api.shop.orders import Orders
from content.errors import ContentErrors
from content.parse import parse_site
from content.shipping import slugify
from content.source import DirSource
from publish.catalog import import_snapshot
from tessera.settings import ROOT
from tests.api.shopping import cart

# A German shop with OSS, a worldwide zone and, as a legacy flat-rate shop has, a pickup point
# without a country ("Collect from the shop").
SHOP = {
    "version": "r15", "currency": "EUR", "timezone": "Europe/Berlin",
    "shipping": {"zones": [{"id": "de", "name": "Germany", "countries": ["DE"], "postcodes": [],
                            "exclude_postcodes": [], "methods": [{"id": "de/dhl", "name": "DHL", "price": 490}]},
                           {"id": "world", "name": "World", "countries": ["*"], "postcodes": [],
                            "exclude_postcodes": [], "methods": [{"id": "world/air", "name": "Air", "price": 490}]}],
                 "local_delivery": [],
                 "pickup": [{"id": "pickup/shop", "name": "Collect from the shop", "address": "", "country": None,
                             "price": 0, "hours": {}, "slot_minutes": 60, "capacity": None,
                             "preparation_minutes": 0, "cutoff": None, "closed": [], "days_ahead": 7,
                             "exclude_products": [], "exclude_categories": []},
                            {"id": "pickup/berlin", "name": "Berlin", "address": "Torstr. 1, Berlin", "country": "DE",
                             "price": 0, "hours": {d: [["08:00", "20:00"]] for d in pickup.DAYS},
                             "slot_minutes": 60, "capacity": 1, "preparation_minutes": 0, "cutoff": None,
                             "closed": [], "days_ahead": 7, "exclude_products": [], "exclude_categories": []}]},
    "tax": {"label": "MwSt", "inclusive": True, "origin": "DE", "oss": True, "shipping": True},
    "products": [{"slug": "print", "name": "Print", "url": "/products/print/",
                  "variants": [{"sku": "PRINT", "title": "A3", "price": 11900, "currency": "EUR", "weight": 300}]}],
}
BERLIN = {"name": "Kim", "line1": "Torstr. 2", "city": "Berlin", "postal_code": "10119"}


@pytest.fixture(name="shop", scope="module")
def fx_shop(world):
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, SHOP)
    Orders(conn).set_stock("PRINT", 500)
    yield world, conn
    conn.close()


def _checkout(client, token, **body):
    return client.post("/api/checkout", json={"cart_token": token, "email": "kim@example.test", **body})


# -- 1. any two letters are a country: a German address written "ZZ" or "ＤＥ" is an export, no VAT --

@pytest.mark.parametrize("country", ["ZZ", "\uff24\uff25"])  # "ＤＥ": fullwidth letters pass str.isalpha()
def test_checkout_refuses_a_country_code_that_is_not_a_country(shop, country):
    world, _ = shop
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1))
        placed = _checkout(client, token, shipping_method="world/air",
                           shipping_address={**BERLIN, "country": country})
    assert placed.status_code == 400, (placed.status_code, placed.json().get("order", {}).get("tax_note"),
                                       placed.json().get("order", {}).get("total"))
    assert placed.json()["error"]["field"] == "shipping_address.country"


def test_shipping_options_refuse_a_country_code_that_is_not_a_country(shop):
    world, _ = shop
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1))
        listed = client.get(f"/api/carts/{token}/shipping-options", params={"country": "ZZ"})
    assert listed.status_code == 400, [o["quote"]["tax_note"] for o in listed.json()["options"]]


# -- 2. a pickup point without a country is taxed at the billing address -------------------------

def test_collecting_from_the_shop_is_never_an_export(shop):
    world, _ = shop
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1))
        placed = _checkout(client, token, shipping_method="pickup/shop", shipping_address={"name": "Kim"},
                           billing_address={**BERLIN, "city": "New York", "postal_code": "10001", "country": "US"})
    order = placed.json()["order"]
    # Handed over in the shop in Germany: German VAT, the listed price.
    assert (order["tax_note"], order["total"]) == ("", 11900), order["tax_lines"]


# -- 3. a refunded pickup order keeps its place in the slot ----------------------------------------

def test_a_refunded_pickup_order_frees_its_place(shop):
    from commerce_api.shop import refunds

    world, conn = shop
    with world.client("beta") as client:
        token = cart(client, ("PRINT", 1))
        listed = client.get(f"/api/carts/{token}/shipping-options").json()
        berlin = next(o for o in listed["options"] if o["id"] == "pickup/berlin")
        start = berlin["slots"][-1]["start"]
        placed = _checkout(client, token, shipping_method="pickup/berlin", shipping_address={"name": "Kim"},
                           pickup_slot=start)
        assert placed.status_code == 201, placed.text
        number = placed.json()["order"]["number"]
        Orders(conn).mark_paid(number, actor="staff@example.test")
        refunds.refund(conn, number, actor="staff@example.test")
        assert Orders(conn).get(number)["status"] == "refunded"
        again = cart(client, ("PRINT", 1))
        listed = client.get(f"/api/carts/{again}/shipping-options").json()
    berlin = next(o for o in listed["options"] if o["id"] == "pickup/berlin")
    assert start in [s["start"] for s in berlin["slots"]]  # capacity 1: the place is free again


# -- 4. option ids the content check accepts but the API refuses -----------------------------------

def test_every_option_id_the_check_accepts_can_be_chosen():
    zone = slugify("United Kingdom mainland excluding the Highlands and Islands and Northern Ireland")
    method = slugify("Royal Mail Tracked 48 signed for delivery to your door or safe place")
    option = f"{zone}/{method}"  # what the builder publishes (149 characters): names may be 200 each
    assert valid_method(option) == option


# -- 5. pickup slots on the night the clocks go forward --------------------------------------------

def test_slots_on_the_spring_forward_night_are_distinct_and_real():
    night = {"id": "pickup/locker", "name": "Locker", "hours": {"sun": [["00:00", "04:00"]]}, "slot_minutes": 60,
             "capacity": 1, "preparation_minutes": 0, "cutoff": None, "closed": [], "days_ahead": 3}
    found = pickup.slots(night, "Europe/London", datetime(2027, 3, 26, 12, tzinfo=timezone.utc))
    keys = [s.key for s in found]
    assert len(keys) == len(set(keys)), [(s.label, s.key) for s in found]  # two slots share 01:00Z
    assert all(s.end > s.start for s in found), [(s.label, s.key) for s in found]  # "01:00–02:00" lasts 0 s


# -- 6. shipping.yaml: what the content check lets through or how it answers -----------------------

def _site_with(tmp_path: Path, shipping: str) -> Path:
    site = tmp_path / "site"
    shutil.copytree(ROOT / "sites" / "bakery", site)
    (site / "shipping.yaml").write_text(shipping)
    return site


def _errors(site: Path) -> list[str]:
    try:
        parse_site(DirSource(site))
    except ContentErrors as exc:
        return [str(e) for e in exc.errors]
    return []


def test_an_alias_bomb_in_shipping_yaml_gives_a_short_error(tmp_path):
    anchors = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    anchors += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 5)]
    text = ("x-anchors:\n" + "".join(f"  {a}\n" for a in anchors) +
            "pickup:\n  - name: Shop\n    address: here\n    country: GB\n    hours: {mon: \"08:00-16:00\"}\n"
            "    closed: [*a4]\n")
    assert len(text) < 1000
    errors = _errors(_site_with(tmp_path, text))
    # 10^4 "x" here; every extra line of anchors multiplies the message by ten (8 levels: ~500 MB)
    assert sum(map(len, errors)) < 5000, sum(map(len, errors))


def test_an_unquoted_postcode_with_a_leading_zero_is_kept_or_refused(tmp_path):
    text = ("zones:\n  - name: Boston\n    countries: [US]\n    postcodes: [02134]\n"
            "    methods:\n      - name: Post\n        price: \"4.95\"\n")
    site = _site_with(tmp_path, text)
    errors = _errors(site)
    if not errors:  # accepted: then it must mean 02134, not the octal number 1116
        content = parse_site(DirSource(site))
        assert content.shipping.zones[0].postcodes == ("02134",)
    else:
        assert any("02134" in e or "quote" in e for e in errors), errors


def test_the_documented_shipping_yaml_example_passes_the_check(tmp_path):
    doc = (ROOT / "docs" / "shipping-and-tax.md").read_text()
    example = re.findall(r"```yaml\n(.*?)```", doc, re.S)[0]
    example = example.replace("celebration-cake", "dark-rye")  # a product the bakery has
    assert _errors(_site_with(tmp_path, example)) == []
