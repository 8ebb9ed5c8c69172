"""shipping.yaml: zones, local delivery and pickup parsed into the model, every problem named with
its line, and site.yaml's legacy shipping block still working on its own."""

from __future__ import annotations

from datetime import date

import pytest

from content.errors import ContentErrors
from content.money import Money
from content.parse import parse_site
from content.shipping import snapshot
from content.source import DirSource

CAKE = """
    ---
    name: Celebration cake
    sku: CAKE-1
    price: "32.00"
    categories: [cakes]
    ---
    """

SHIPPING = """
    zones:
      - name: United Kingdom
        id: uk
        countries: [GB]
        exclude_postcodes: ["BT*"]
        methods:
          - name: Royal Mail Tracked 48
            id: tracked-48
            free_over: "50.00"
            estimate: "2–3 working days"
            weight_bands:
              - {up_to: 1000, price: "3.95"}
              - {up_to: 5000, price: "7.95"}
            excludes: {products: [celebration-cake], categories: [cakes]}
          - name: Courier
            subtotal_bands:
              - {from: "0", price: "4.95"}
              - {from: "25.00", price: "2.95"}
      - name: Everywhere else
        countries: ["*"]
        methods:
          - name: Airmail
            price: "12"
            min_order: "20.00"
    local_delivery:
      - name: Bakery van
        id: van
        countries: [GB]
        postcodes: ["eh1", "EH6", "EH7   4*"]
        price: "3.50"
        min_order: "15.00"
        free_over: "40.00"
        estimate: Next morning
    pickup:
      - name: Rye & Crumb, Leith Walk
        id: leith-walk
        address: "112 Leith Walk, Edinburgh EH6 5DT"
        country: GB
        hours:
          mon: "08:00-16:00"
          sat: ["08:00-12:00", "13:00-15:00"]
        slot_minutes: 30
        capacity: 5
        preparation_minutes: 120
        cutoff: "14:00"
        closed: [2026-12-25, "2026-12-26"]
    """


def _errors(scratch_site, files: dict) -> list[str]:
    with pytest.raises(ContentErrors) as info:
        parse_site(DirSource(scratch_site({"products/celebration-cake.md": CAKE, **files})))
    return [str(e) for e in info.value.errors]


def test_the_contracts_example_parses_and_normalises(scratch_site):
    content = parse_site(DirSource(scratch_site({"products/celebration-cake.md": CAKE, "shipping.yaml": SHIPPING,
                                                 "site.yaml": "name: S\ncurrency: GBP\n"})))
    rules = content.shipping
    uk, rest = rules.zones
    assert (uk.id, rest.id, rest.countries) == ("uk", "everywhere-else", ("*",))
    tracked, courier = uk.methods
    assert tracked.price is None and tracked.weight_bands[1].limit == 5000
    assert courier.id == "courier" and courier.subtotal_bands[1].limit == 2500
    assert rules.local_delivery[0].postcodes == ("EH1", "EH6", "EH7 4*")
    leith = rules.pickup[0]
    assert leith.closed == (date(2026, 12, 25), date(2026, 12, 26)) and leith.price == Money(0, "GBP")
    assert content.site.shipping is None

    normal = snapshot(rules)
    assert normal["zones"][0]["methods"][0] == {
        "id": "uk/tracked-48", "name": "Royal Mail Tracked 48", "price": None, "free_over": 5000, "min_order": None,
        "estimate": "2–3 working days", "weight_bands": [{"up_to": 1000, "price": 395}, {"up_to": 5000, "price": 795}],
        "subtotal_bands": [], "exclude_products": ["celebration-cake"], "exclude_categories": ["cakes"]}
    assert normal["zones"][0]["methods"][1]["subtotal_bands"] == [{"from": 0, "price": 495}, {"from": 2500, "price": 295}]
    assert normal["zones"][1]["methods"][0]["id"] == "everywhere-else/airmail"
    assert normal["zones"][1]["methods"][0]["price"] == 1200 and normal["zones"][1]["methods"][0]["min_order"] == 2000
    assert normal["local_delivery"][0] == {
        "id": "local/van", "name": "Bakery van", "countries": ["GB"], "postcodes": ["EH1", "EH6", "EH7 4*"],
        "exclude_postcodes": [], "price": 350, "min_order": 1500, "free_over": 4000, "estimate": "Next morning",
        "exclude_products": [], "exclude_categories": []}
    assert normal["pickup"][0] == {
        "id": "pickup/leith-walk", "name": "Rye & Crumb, Leith Walk", "address": "112 Leith Walk, Edinburgh EH6 5DT",
        "country": "GB", "price": 0, "hours": {"mon": [["08:00", "16:00"]], "sat": [["08:00", "12:00"], ["13:00", "15:00"]]},
        "slot_minutes": 30, "capacity": 5, "preparation_minutes": 120, "cutoff": "14:00",
        "closed": ["2026-12-25", "2026-12-26"], "days_ahead": 7, "exclude_products": [], "exclude_categories": []}


def test_defaults_fill_in_what_a_small_file_leaves_out(scratch_site):
    content = parse_site(DirSource(scratch_site({"shipping.yaml": """
        pickup:
          - name: The shop
            address: 1 High St
            country: DE
            hours: {fri: "9:00-18:00"}
        """})))
    (shop,) = content.shipping.pickup
    assert (shop.id, shop.slot_minutes, shop.capacity, shop.preparation_minutes, shop.cutoff, shop.days_ahead) == \
        ("the-shop", 60, None, 0, None, 7)
    assert shop.hours == (("fri", (("09:00", "18:00"),)),)
    assert content.shipping.zones == ()


def _zone(method: str, extra: str = "") -> str:
    """A one-zone file whose method (from line 5) is ``method``."""
    return ("zones:\n  - name: Home\n    countries: [DE]\n" + extra + "    methods:\n" + method)


# Each broken file, with the message an editor sees (file:line: field: message).
BROKEN = [
    ("unknown key at the top", "zone:\n  - name: x\n", "shipping.yaml:1: zone: unknown field"),
    ("unknown key in a method", _zone("      - name: Post\n        price: '3'\n        cost: '4'\n"),
     "shipping.yaml:7: cost: unknown field"),
    ("UK is not a code", "zones:\n  - name: Home\n    countries: [UK]\n    methods:\n      - {name: Post, price: '1'}\n",
     "shipping.yaml:3: countries: 'UK' is not an ISO country code; write GB"),
    ("made-up code", "zones:\n  - name: Home\n    countries: [QQ]\n    methods:\n      - {name: Post, price: '1'}\n",
     "shipping.yaml:3: countries: 'QQ' is not a two-letter country code"),
    ("star with codes", "zones:\n  - name: Home\n    countries: ['*', DE]\n    methods:\n      - {name: P, price: '1'}\n",
     "shipping.yaml:3: countries: '*' means everywhere else and stands alone"),
    ("zone without methods", "zones:\n  - name: Home\n    countries: [DE]\n",
     "shipping.yaml:2: methods: is required"),
    ("zone without countries", "zones:\n  - name: Home\n    methods:\n      - {name: P, price: '1'}\n",
     "shipping.yaml:2: countries: is required"),
    ("method without price", _zone("      - name: Post\n"), "shipping.yaml:5: price: is required"),
    ("weight bands not ascending",
     _zone("      - name: Post\n        weight_bands:\n          - {up_to: 2000, price: '5'}\n"
           "          - {up_to: 1000, price: '3'}\n"),
     "shipping.yaml:8: up_to: 1000 g is not above the band before (2000 g)"),
    ("both band kinds",
     _zone("      - name: Post\n        weight_bands:\n          - {up_to: 2000, price: '5'}\n"
           "        subtotal_bands:\n          - {from: '0', price: '3'}\n"),
     "shipping.yaml:8: subtotal_bands: a method prices by weight_bands or by subtotal_bands, not both"),
    ("price and bands",
     _zone("      - name: Post\n        price: '2'\n        weight_bands:\n          - {up_to: 2000, price: '5'}\n"),
     "shipping.yaml:6: price: the bands give this method's price"),
    ("subtotal bands not from 0",
     _zone("      - name: Post\n        subtotal_bands:\n          - {from: '10', price: '3'}\n"),
     "shipping.yaml:7: from: the first band must start from 0"),
    ("subtotal bands not ascending",
     _zone("      - name: Post\n        subtotal_bands:\n          - {from: '0', price: '3'}\n"
           "          - {from: '0', price: '2'}\n"),
     "shipping.yaml:8: from: 0.00 is not above the band before (0.00)"),
    ("bad price", _zone("      - name: Post\n        price: '3,95'\n"), 'shipping.yaml:6: price: "3,95" is not a decimal'),
    ("excluded product that does not exist",
     _zone("      - name: Post\n        price: '3'\n        excludes: {products: [wedding-cake]}\n"),
     "shipping.yaml:7: products: no product has the slug 'wedding-cake'"),
    ("excluded category that does not exist",
     _zone("      - name: Post\n        price: '3'\n        excludes:\n          categories: [pies]\n"),
     "shipping.yaml:8: categories: no product is in the category 'pies' (categories in use: cakes)"),
    ("duplicate method names",
     _zone("      - name: Post\n        price: '3'\n      - name: Post\n        id: post-2\n        price: '4'\n"),
     "shipping.yaml:7: name: another method (line 5) has the name 'Post'"),
    ("duplicate zone ids",
     "zones:\n  - name: Home\n    id: de\n    countries: [DE]\n    methods: [{name: P, price: '1'}]\n"
     "  - name: Away\n    id: de\n    countries: [AT]\n    methods: [{name: P, price: '1'}]\n",
     "shipping.yaml:7: id: another zone (line 3) has the id 'de'"),
    ("a zone called local", "zones:\n  - name: Local\n    countries: [DE]\n    methods: [{name: P, price: '1'}]\n",
     "shipping.yaml:2: name: the id 'local' is reserved"),
    ("bad postcode pattern", _zone("      - {name: P, price: '1'}\n", "    postcodes: ['EH1;DROP']\n"),
     "shipping.yaml:4: postcodes: 'EH1;DROP' is not a postcode or pattern"),
    ("local delivery without postcodes", "local_delivery:\n  - name: Van\n    countries: [GB]\n    price: '3'\n",
     "shipping.yaml:2: postcodes: is required"),
    ("local delivery everywhere", "local_delivery:\n  - name: Van\n    countries: ['*']\n    postcodes: [EH1]\n"
                                  "    price: '3'\n",
     "shipping.yaml:3: countries: '*' (everywhere) is for zones"),
]


def _pickup(lines: str) -> str:
    """A pickup location whose extra fields start on line 5."""
    return "pickup:\n  - name: Shop\n    address: 1 High St\n    country: GB\n" + lines


BROKEN += [
    ("pickup without hours", _pickup(""), "shipping.yaml:2: hours: is required"),
    ("bad time range", _pickup("    hours:\n      mon: '8am-4pm'\n"),
     "shipping.yaml:6: hours: mon: '8am-4pm' is not a range of times"),
    ("range backwards", _pickup("    hours:\n      mon: '16:00-08:00'\n"), "shipping.yaml:6: hours: mon: '16:00-08:00' ends before"),
    ("unknown day", _pickup("    hours:\n      monday: '08:00-16:00'\n"), "shipping.yaml:6: hours: unknown day 'monday'"),
    ("overlapping ranges", _pickup("    hours:\n      sat: ['08:00-12:00', '11:00-15:00']\n"),
     "shipping.yaml:6: hours: sat: 11:00-15:00 overlaps"),
    ("range shorter than a slot", _pickup("    hours: {mon: '08:00-08:20'}\n    slot_minutes: 30\n"),
     "shipping.yaml:5: hours: mon: 08:00-08:20 is shorter than one slot (30 minutes)"),
    ("slot too short", _pickup("    hours: {mon: '08:00-16:00'}\n    slot_minutes: 2\n"),
     "shipping.yaml:6: slot_minutes: must be a whole number from 5 to 480"),
    ("days ahead too far", _pickup("    hours: {mon: '08:00-16:00'}\n    days_ahead: 90\n"),
     "shipping.yaml:6: days_ahead: must be a whole number from 1 to 60"),
    ("unquoted cutoff", _pickup("    hours: {mon: '08:00-16:00'}\n    cutoff: 14:00\n"),
     'shipping.yaml:6: cutoff: write the time in quotes, such as "14:00"'),
    ("bad closed date", _pickup("    hours: {mon: '08:00-16:00'}\n    closed: [Christmas]\n"),
     "shipping.yaml:6: closed: 'Christmas' is not a date"),
    ("pickup country", "pickup:\n  - name: Shop\n    address: x\n    country: Scotland\n    hours: {mon: '08:00-16:00'}\n",
     "shipping.yaml:4: country: 'Scotland' is not a two-letter country code"),
    ("duplicate pickup ids", _pickup("    hours: {mon: '08:00-16:00'}\n  - name: Shop\n    address: y\n    country: GB\n"
                                     "    hours: {mon: '08:00-16:00'}\n"),
     "shipping.yaml:6: name: another pickup location (line 2) has the name 'Shop'"),
    ("empty file", "# nothing yet\n", "shipping.yaml:1: sets no way to get an order"),
    ("broken YAML", "zones:\n  - name: [\n", "shipping.yaml:3: invalid YAML"),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_a_broken_shipping_file_names_line_and_field(scratch_site, text, expected):
    messages = _errors(scratch_site, {"shipping.yaml": text})
    assert any(m.startswith(expected) for m in messages), messages


def test_shipping_yaml_with_the_legacy_block_names_both_files(scratch_site):
    messages = _errors(scratch_site, {
        "site.yaml": "name: S\ncurrency: GBP\nshipping:\n  flat_rate: '4.95'\n",
        "shipping.yaml": "zones:\n  - name: UK\n    countries: [GB]\n    methods: [{name: Post, price: '3'}]\n"})
    assert "shipping.yaml:1: site.yaml also has a shipping block (line 3); shipping.yaml replaces it, so remove " \
           "that block from site.yaml" in messages
    assert any(m.startswith("site.yaml:3: shipping: shipping.yaml replaces this block") for m in messages), messages


def test_the_legacy_block_alone_still_works(scratch_site):
    content = parse_site(DirSource(scratch_site({
        "site.yaml": "name: S\ncurrency: GBP\nshipping:\n  flat_rate: '4.95'\n  free_over: '40'\n  countries: [GB]\n"})))
    assert content.shipping is None
    assert content.site.shipping.flat_rate == Money(495, "GBP") and content.site.shipping.countries == ("GB",)


def test_an_empty_legacy_block_sets_nothing_and_does_not_clash(scratch_site):
    content = parse_site(DirSource(scratch_site({
        "site.yaml": "name: S\ncurrency: GBP\nshipping: {}\n",
        "shipping.yaml": "zones:\n  - name: UK\n    countries: [GB]\n    methods: [{name: Post, price: '3'}]\n"})))
    assert content.site.shipping is None and content.shipping.zones[0].id == "uk"
