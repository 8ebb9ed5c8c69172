"""Pickup slots: opening hours, preparation time, cut-off and closed dates; a slot's capacity is
held in the checkout transaction like stock, so twenty shoppers racing for five places get five."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from commerce_api.shop import pickup
from commerce_api.shop.orders import Orders
from publish.catalog import import_snapshot
from tests.api.shopping import cart

LEITH = {"id": "pickup/leith", "name": "Leith Walk", "address": "112 Leith Walk, Edinburgh", "country": "GB",
         "price": 0, "hours": {"mon": [["08:00", "10:00"]], "tue": [["08:00", "10:00"]],
                               "sat": [["09:00", "10:00"], ["13:00", "14:00"]]},
         "slot_minutes": 30, "capacity": 2, "preparation_minutes": 60, "cutoff": "09:00",
         "closed": ["2026-12-08"], "days_ahead": 7, "exclude_products": [], "exclude_categories": []}
ZONE = "Europe/London"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def labels(found) -> list[str]:
    return [s.label for s in found]


def test_slots_start_after_the_preparation_time_in_the_shops_zone():
    found = pickup.slots(LEITH, ZONE, at("2026-11-30T07:10"))  # Monday 07:10 in London
    assert labels(found)[:3] == ["Mon 30 Nov, 08:30–09:00", "Mon 30 Nov, 09:00–09:30", "Mon 30 Nov, 09:30–10:00"]
    assert labels(found)[3:5] == ["Tue 1 Dec, 08:00–08:30", "Tue 1 Dec, 08:30–09:00"]
    assert "Sat 5 Dec, 13:00–13:30" in labels(found)  # a day with two opening ranges


def test_after_the_cut_off_nothing_is_left_that_day():
    found = pickup.slots(LEITH, ZONE, at("2026-11-30T09:00"))
    assert labels(found)[0] == "Tue 1 Dec, 08:00–08:30"


def test_closed_dates_and_days_without_hours_have_no_slots():
    found = labels(pickup.slots(LEITH, ZONE, at("2026-11-30T12:00")))
    assert not [label for label in found if label.startswith(("Tue 8 Dec", "Wed", "Thu", "Fri", "Sun"))]
    assert "Mon 7 Dec, 08:00–08:30" in found


def test_full_slots_are_left_out_and_partly_booked_ones_say_how_many_are_left():
    first = pickup.slots(LEITH, ZONE, at("2026-11-30T12:00"))[0]
    taken = {first.key: 2}
    found = pickup.slots(LEITH, ZONE, at("2026-11-30T12:00"), taken)
    assert found[0].key != first.key and found[0].left == 2
    assert pickup.slots(LEITH, ZONE, at("2026-11-30T12:00"), {first.key: 1})[0].left == 1


def test_summer_time_is_the_shops_local_time():
    found = pickup.slots({**LEITH, "closed": []}, ZONE, at("2026-06-29T05:00"))  # Monday, BST
    assert found[0].label == "Mon 29 Jun, 08:00–08:30" and found[0].key == "2026-06-29T07:00:00+00:00"


# -- through checkout ------------------------------------------------------------------------------

ALWAYS = {**LEITH, "hours": {day: [["00:00", "23:30"]] for day in pickup.DAYS}, "capacity": 5, "cutoff": None,
          "preparation_minutes": 0, "closed": [], "slot_minutes": 30}
SHOP = {
    "version": "pickup", "currency": "GBP", "timezone": "Europe/London",
    "shipping": {"zones": [], "local_delivery": [], "pickup": [ALWAYS]},
    "tax": {"label": "VAT", "inclusive": True, "origin": "GB", "rates": {"GB": {"standard": "20"}}},
    "products": [{"slug": "cake", "name": "Celebration cake", "url": "/products/cake/", "categories": ["cakes"],
                  "variants": [{"sku": "CAKE", "title": "Cake", "price": 3500, "currency": "GBP",
                                "track_stock": False}]}],
}


@pytest.fixture(name="counter", scope="module")
def fx_counter(world):
    conn = world.tenants.open_db("beta")
    import_snapshot(conn, SHOP)
    yield world, conn
    conn.close()


def _tomorrow_slot(client, token) -> dict:
    options = client.get(f"/api/carts/{token}/shipping-options").json()["options"]
    assert [o["id"] for o in options] == ["pickup/leith"]
    return options[0]["slots"][60]  # some way ahead, so the test never races the clock


def test_pickup_needs_no_address_and_the_order_keeps_its_slot(counter):
    world, _ = counter
    with world.client("beta") as client:
        token = cart(client, ("CAKE", 1))
        slot = _tomorrow_slot(client, token)
        placed = client.post("/api/checkout", json={
            "cart_token": token, "email": "ada@example.test", "shipping_method": "pickup/leith",
            "pickup_slot": slot["start"], "shipping_address": {"name": "Ada Baker"}})
    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    assert order["pickup"] == {"location": "pickup/leith", "name": "Leith Walk", "address": "112 Leith Walk, Edinburgh",
                               "start": slot["start"], "end": slot["end"], "label": slot["label"]}
    assert order["shipping_method"] == "pickup" and order["shipping"] == 0
    assert order["tax_lines"][0]["jurisdiction"] == "GB"  # taxed where it is collected


@pytest.mark.parametrize("slot,code,status", [(None, "invalid_slot", 400), ("2020-01-01T09:00:00+00:00", "invalid_slot", 400),
                                              ("tomorrow", "invalid_slot", 400)])
def test_a_missing_past_or_unknown_slot_is_refused(counter, slot, code, status):
    world, _ = counter
    with world.client("beta") as client:
        token = cart(client, ("CAKE", 1))
        refused = client.post("/api/checkout", json={
            "cart_token": token, "email": "ada@example.test", "shipping_method": "pickup/leith",
            "pickup_slot": slot, "shipping_address": {"name": "Ada Baker"}})
    assert refused.status_code == status
    assert (refused.json()["error"]["code"], refused.json()["error"]["field"]) == (code, "pickup_slot")


def test_twenty_shoppers_racing_for_five_places_get_exactly_five(counter):
    world, conn = counter
    with world.client("beta") as client:
        tokens = [cart(client, ("CAKE", 1)) for _ in range(20)]
        slot = client.get(f"/api/carts/{tokens[0]}/shipping-options").json()["options"][0]["slots"][100]

    def checkout(token: str):
        with world.client("beta") as own:
            return own.post("/api/checkout", json={
                "cart_token": token, "email": "ada@example.test", "shipping_method": "pickup/leith",
                "pickup_slot": slot["start"], "shipping_address": {"name": "Ada Baker"}})

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(checkout, tokens))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 5 + [409] * 15
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"slot_full"}
    booked = conn.execute("SELECT COUNT(*) FROM pickup_bookings WHERE slot_start = ?", (slot["start"],)).fetchone()[0]
    assert booked == 5
    with world.client("beta") as client:
        listed = client.get(f"/api/carts/{cart(client, ('CAKE', 1))}/shipping-options").json()["options"][0]["slots"]
    assert slot["start"] not in [s["start"] for s in listed]  # full: no longer offered
    # A cancelled order gives its place back.
    number = next(a.json()["order"]["number"] for a in answers if a.status_code == 201)
    Orders(conn).set_status(number, "cancelled", actor="staff@example.test")
    with world.client("beta") as client:
        listed = client.get(f"/api/carts/{cart(client, ('CAKE', 1))}/shipping-options").json()["options"][0]["slots"]
    assert next(s for s in listed if s["start"] == slot["start"])["left"] == 1


def test_an_unpaid_collection_holds_its_place_until_the_slot_begins_at_the_latest(counter):
    world, conn = counter
    with world.client("beta") as client:
        token = cart(client, ("CAKE", 1))
        slot = _tomorrow_slot(client, token)
        placed = client.post("/api/checkout", json={
            "cart_token": token, "email": "ada@example.test", "shipping_method": "pickup/leith",
            "pickup_slot": slot["start"], "shipping_address": {"name": "Ada Baker"}})
    order = placed.json()["order"]
    # Manual payment waits three days; this slot starts in about a day and a half.
    assert datetime.fromisoformat(order["expires_at"]) == datetime.fromisoformat(slot["start"])
