"""Refunds of part of an order through real HTTP: chosen lines with or without restocking, the
shipping, an amount; exact sums over many orders (tax on top or included, with a percentage code);
what is left never exceeded; the gift-card share back on the card; the events that tell people."""

from __future__ import annotations

import json
import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from commerce_api.shop import discounts
from commerce_api.shop.orders import Orders
from tests.api.shopping import cart, checkout, fx_shop  # noqa: F401 (the shop fixture)


def staff(world):
    return world.client("alpha", headers={"Authorization": f"Bearer {world.token('alpha', 'shop_manager')}"})


def paid_order(world, *items, codes=()) -> dict:
    with world.client("alpha") as client:
        token = cart(client, *items)
        for code in codes:
            assert client.post(f"/api/carts/{token}/discount", json={"code": code}).status_code == 200
        placed = checkout(client, token)
        assert placed.status_code == 201, placed.text
    number = placed.json()["order"]["number"]
    with staff(world) as admin:
        assert admin.post(f"/api/admin/orders/{number}/paid").status_code == 200
    return placed.json()["order"]


def refund(world, number, body=None, key=None):
    with staff(world) as admin:
        headers = {"Idempotency-Key": key} if key else {}
        return admin.post(f"/api/admin/orders/{number}/refund", json=body, headers=headers) if body is not None \
            else admin.post(f"/api/admin/orders/{number}/refund", headers=headers)


def set_rules(conn, *, inclusive: bool) -> None:
    rules = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()[0])
    rules["tax"] = {"rate": "20", "inclusive": inclusive, "label": "VAT"}
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'shop_rules'", (json.dumps(rules),))


@pytest.fixture(name="stocked", scope="module")
def fx_stocked(shop):
    world, conn = shop
    for sku in ("RYE", "BUN-4", "BUN-8"):
        Orders(conn).set_stock(sku, 100000)
    discounts.create(conn, code="TAKE15", kind="percent", value=1500)
    discounts.create(conn, code="THIRD", kind="percent", value=3333)
    return world, conn


def test_one_line_of_two_comes_back_with_its_exact_worth_and_into_stock(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=False)
    order = paid_order(world, ("RYE", 2), ("BUN-4", 1))  # 14.40 + 10.00 + 4.95 shipping, 20 % VAT on top
    assert order["total"] == 3522 and order["tax"] == 587
    on_hand = Orders(conn).stock("RYE")["on_hand"]
    response = refund(world, order["number"], {"lines": [{"sku": "RYE", "quantity": 1, "restock": True}],
                                               "reason": "stale"})
    assert response.status_code == 200, response.text
    after = response.json()
    # One loaf at 7.20 and its share of the VAT: 587 × 720 / 2935 = 144.
    assert [r["amount"] for r in after["refunds"]] == [864] and after["refunded"] == 864
    assert after["refunds"][0]["lines"] == [{"sku": "RYE", "name": "Dark Rye", "title": "Dark Rye", "quantity": 1,
                                             "restock": True, "amount": 720}]
    assert after["refunds"][0]["reason"] == "stale" and after["refunds"][0]["provider_amount"] == 864
    assert after["payment_status"] == "partially_refunded" and after["status"] == "processing"
    assert Orders(conn).stock("RYE")["on_hand"] == on_hand + 1
    # Without restocking, the buns stay off the shelf.
    buns = Orders(conn).stock("BUN-4")["on_hand"]
    assert refund(world, order["number"], {"lines": [{"sku": "BUN-4", "quantity": 1}]}).status_code == 200
    assert Orders(conn).stock("BUN-4")["on_hand"] == buns


def test_nothing_chosen_refunds_everything_left_and_ends_the_order(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=False)
    order = paid_order(world, ("RYE", 1), ("BUN-8", 1))
    assert refund(world, order["number"], {"amount": 500, "reason": "late"}).status_code == 200
    done = refund(world, order["number"])  # no body: the rest, as the full refund always did
    assert done.status_code == 200, done.text
    final = done.json()
    assert [r["amount"] for r in final["refunds"]] == [500, order["total"] - 500]
    assert final["refunded"] == order["total"] and final["status"] == "refunded"
    assert final["payment_status"] == "refunded"
    again = refund(world, order["number"])
    assert again.status_code == 409 and "nothing" in again.json()["error"]["message"]


def test_more_than_is_left_is_refused_naming_the_field(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=False)
    order = paid_order(world, ("RYE", 2))
    number = order["number"]
    too_much = refund(world, number, {"amount": order["total"] + 1})
    assert too_much.status_code == 409 and too_much.json()["error"]["field"] == "amount"
    assert refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]}).status_code == 200
    too_many = refund(world, number, {"lines": [{"sku": "RYE", "quantity": 2}]})
    assert too_many.status_code == 409 and too_many.json()["error"]["field"] == "lines[0].quantity"
    assert "only 1 of RYE" in too_many.json()["error"]["message"]
    unknown = refund(world, number, {"lines": [{"sku": "NOPE", "quantity": 1}]})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "lines[0].sku"
    left = order["total"] - 864
    assert refund(world, number, {"amount": left + 1}).json()["error"]["field"] == "amount"
    assert refund(world, number, {"amount": left}).status_code == 200
    # Everything has gone back: a line's units are still unrefunded, but no money is left for them.
    spent = refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}]})
    assert spent.status_code == 409
    assert sum(r["amount"] for r in Orders(conn).get(number)["refunds"]) == order["total"]
    unpaid = checkout_only(world, ("RYE", 1))
    refused = refund(world, unpaid)
    assert refused.status_code == 409 and "nothing to refund" in refused.json()["error"]["message"]


def checkout_only(world, *items) -> int:
    with world.client("alpha") as client:
        return checkout(client, cart(client, *items)).json()["order"]["number"]


def test_shipping_is_refunded_once(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=True)
    order = paid_order(world, ("RYE", 1))
    first = refund(world, order["number"], {"shipping": True})
    assert first.status_code == 200 and first.json()["refunds"][0]["amount"] == 495  # tax included: as charged
    second = refund(world, order["number"], {"shipping": True})
    assert second.status_code == 409 and second.json()["error"]["field"] == "shipping"


def test_cancelling_after_a_restocking_refund_does_not_restock_twice(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=False)
    before = Orders(conn).stock("BUN-4")["on_hand"]
    order = paid_order(world, ("BUN-4", 3))
    assert Orders(conn).stock("BUN-4")["on_hand"] == before - 3
    refund(world, order["number"], {"lines": [{"sku": "BUN-4", "quantity": 1, "restock": True}]})
    with staff(world) as admin:
        assert admin.post(f"/api/admin/orders/{order['number']}/status", json={"status": "cancelled"}).status_code == 200
    assert Orders(conn).stock("BUN-4")["on_hand"] == before
    restock = refund(world, order["number"], {"lines": [{"sku": "BUN-4", "quantity": 1, "restock": True}]})
    assert restock.status_code == 409 and restock.json()["error"]["field"] == "lines[0].restock"


ITEMS = st.lists(st.tuples(st.sampled_from(["RYE", "BUN-4", "BUN-8", "GIFT"]), st.integers(1, 5)), min_size=1,
                 max_size=4, unique_by=lambda item: item[0])


@pytest.mark.parametrize("inclusive", [False, True])
def test_refunding_every_unit_in_random_steps_sums_to_the_total_exactly(stocked, inclusive):
    world, conn = stocked

    @given(items=ITEMS, code=st.sampled_from([None, "TAKE15", "THIRD"]), seed=st.integers(0, 2**32))
    @settings(max_examples=20, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def sums_exactly(items, code, seed):
        set_rules(conn, inclusive=inclusive)
        order = paid_order(world, *items, codes=[code] if code else [])
        assert order["tax_inclusive"] is inclusive and (order["discount"] > 0) is bool(code)
        rng = random.Random(seed)
        left = {line["sku"]: line["quantity"] for line in order["lines"]}
        shipping = bool(order["shipping"])
        amounts = []
        while any(left.values()) or shipping:
            lines = []
            for sku in sorted(left):
                if left[sku] and rng.random() < 0.6:
                    quantity = rng.randint(1, left[sku])
                    lines.append({"sku": sku, "quantity": quantity, "restock": rng.random() < 0.5})
                    left[sku] -= quantity
            with_shipping = shipping and rng.random() < 0.4
            shipping = shipping and not with_shipping
            if not lines and not with_shipping:
                continue
            response = refund(world, order["number"], {"lines": lines, "shipping": with_shipping})
            assert response.status_code == 200, response.text
            amounts.append(response.json()["refunds"][-1]["amount"])
            # Against the exact (rational) share of the total: off by rounding only, never by a tax share
            # or a discount left out.
            net = {l["sku"]: Fraction(l["line_total"] - l["discount"], l["quantity"]) for l in order["lines"]}
            part = sum(net[l["sku"]] * l["quantity"] for l in lines) + (order["shipping"] if with_shipping else 0)
            base = sum(l["line_total"] - l["discount"] for l in order["lines"]) + order["shipping"]
            assert abs(amounts[-1] - part * order["total"] / base) <= len(order["lines"]) + 1
        final = Orders(conn).get(order["number"])
        assert all(a >= 0 for a in amounts) and sum(amounts) == order["total"] == final["refunded"]
        assert final["payment_status"] == "refunded" and final["status"] == "refunded"

    sums_exactly()


def test_the_gift_card_share_goes_back_on_the_card(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=False)
    order = paid_order(world, ("BUN-4", 2))  # 20.00 + 4.95 + 20 % = 29.94
    total = order["total"]
    with conn:  # a card paid 10.00 of it (gift cards land separately: set up as their tables hold them)
        order_id = conn.execute("SELECT id FROM orders WHERE number = ?", (order["number"],)).fetchone()[0]
        card = conn.execute("INSERT INTO gift_cards (code_hash, code_sealed, last4, currency, initial, balance, "
                            "issued_by, created_at) VALUES ('h1', 's', '1234', 'GBP', 2500, 1500, 'staff', "
                            "'2026-01-01T00:00:00+00:00')").lastrowid
        conn.execute("INSERT INTO gift_card_ledger (card_id, order_id, kind, amount, balance, actor, created_at) "
                     "VALUES (?, ?, 'redeem', -1000, 1500, 'shopper', '2026-01-01T00:00:00+00:00')", (card, order_id))
        conn.execute("UPDATE orders SET gift_card = 1000 WHERE id = ?", (order_id,))
    first = refund(world, order["number"], {"lines": [{"sku": "BUN-4", "quantity": 1}]}).json()["refunds"][-1]
    assert first["gift_card_amount"] == 1000 * first["amount"] // total
    assert first["provider_amount"] == first["amount"] - first["gift_card_amount"]
    assert conn.execute("SELECT balance FROM gift_cards WHERE id = ?", (card,)).fetchone()[0] == \
        1500 + first["gift_card_amount"]
    rest = refund(world, order["number"]).json()
    assert sum(r["gift_card_amount"] for r in rest["refunds"]) == 1000  # exactly what the card paid, no more
    assert conn.execute("SELECT balance FROM gift_cards WHERE id = ?", (card,)).fetchone()[0] == 2500
    ledger = conn.execute("SELECT kind, amount, balance FROM gift_card_ledger WHERE card_id = ? ORDER BY id",
                          (card,)).fetchall()
    assert [tuple(r) for r in ledger][1:] == [("refund", first["gift_card_amount"], 1500 + first["gift_card_amount"]),
                                              ("refund", 1000 - first["gift_card_amount"], 2500)]


def test_a_partial_refund_is_an_event_and_the_last_one_ends_the_order(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=False)
    order = paid_order(world, ("RYE", 1), ("BUN-4", 1))
    number = order["number"]
    refund(world, number, {"lines": [{"sku": "RYE", "quantity": 1}], "reason": "crushed"})
    refund(world, number, {"lines": [{"sku": "BUN-4", "quantity": 1}], "shipping": True})
    rows = conn.execute("SELECT kind, data FROM events WHERE subject = ? ORDER BY id", (str(number),)).fetchall()
    kinds = [r["kind"] for r in rows]
    assert kinds == ["order.placed", "order.paid", "order.partially_refunded", "order.refunded"]
    partial, final = json.loads(rows[2]["data"]), json.loads(rows[3]["data"])
    assert partial["partial"] is True and partial["refund"]["amount"] == 864
    assert partial["refund"]["lines"][0]["sku"] == "RYE" and partial["order"]["payment_status"] == "partially_refunded"
    assert final["partial"] is False and final["refund"]["amount"] == order["total"] - 864
    assert final["order"]["refunded"] == order["total"] and final["from_status"] == "processing"
    assert len(final["order"]["refunds"]) == 2


def test_a_repeated_idempotency_key_refunds_once(stocked):
    world, conn = stocked
    set_rules(conn, inclusive=False)
    order = paid_order(world, ("RYE", 3))
    body = {"lines": [{"sku": "RYE", "quantity": 1}]}
    first = refund(world, order["number"], body, key="refund-key-0001")
    again = refund(world, order["number"], body, key="refund-key-0001")
    assert first.status_code == again.status_code == 200 and len(again.json()["refunds"]) == 1
    other = refund(world, order["number"], {"lines": [{"sku": "RYE", "quantity": 2}]}, key="refund-key-0001")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_mismatch"
