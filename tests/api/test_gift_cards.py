"""Gift cards through real HTTP: sold as products and issued on payment, issued by staff, spent at
checkout as a tender (in part or whole, with no payment provider when they cover it all), refused
alike when not valid, given back when an unpaid order is cancelled, and never overdrawn by checkouts
racing for one card: the ledger always sums to the balance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from commerce_api.shop import giftcards
from commerce_api.shop.orders import Orders
from publish.catalog import import_snapshot
from tests.api.shopping import ADDRESS, CATALOG, cart, checkout

GIFT_CATALOG = {**CATALOG, "version": "gift", "products": [*CATALOG["products"], {
    "slug": "voucher", "name": "Bakery gift card", "url": "/products/voucher/", "description": "For a friend",
    "gift_card": {"valid_months": 12},
    "variants": [{"sku": "VOUCHER-10", "title": "£10", "price": 1000, "currency": "GBP", "track_stock": False},
                 {"sku": "VOUCHER-25", "title": "£25", "price": 2500, "currency": "GBP", "track_stock": False}]}]}
KEY = "s" * 48  # the test platform's key (tests/api/conftest.py)


@pytest.fixture(name="shop", scope="module")
def fx_gift_shop(world):
    conn = world.tenants.open_db("alpha")
    import_snapshot(conn, GIFT_CATALOG)
    for sku in ("RYE", "BUN-4", "BUN-8"):
        Orders(conn).set_stock(sku, 500)
    yield world, conn


@pytest.fixture(name="staff")
def fx_staff(shop):
    world, _ = shop
    with world.client("alpha", headers={"Authorization": f"Bearer {world.token('alpha', 'shop_manager')}"}) as client:
        yield client


def issue(staff, amount: int, **extra) -> dict:
    response = staff.post("/api/admin/gift-cards", json={"amount": amount, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def add_card(client, token: str, code: str):
    return client.post(f"/api/carts/{token}/gift-cards", json={"code": code})


def ledger_sums(conn) -> None:
    """Every card's ledger sums to its balance, and no balance is negative."""
    rows = conn.execute("SELECT c.id, c.balance, COALESCE(SUM(l.amount), 0) AS total FROM gift_cards c "
                        "LEFT JOIN gift_card_ledger l ON l.card_id = c.id GROUP BY c.id").fetchall()
    wrong = [dict(r) for r in rows if r["balance"] != r["total"] or r["balance"] < 0]
    assert not wrong


def test_codes_are_long_random_and_forgiving_to_type():
    code = giftcards.new_code()
    assert len(code) == 19 and code.count("-") == 3
    assert len(giftcards.ALPHABET) ** giftcards.LENGTH >= 2 ** 80
    assert not set("01OI") & set(giftcards.ALPHABET)
    assert giftcards.normalise(code.lower().replace("-", " ")) == code.replace("-", "")
    assert giftcards.normalise("ABCD-EFGH") is None and giftcards.normalise("") is None
    assert len({giftcards.new_code() for _ in range(2000)}) == 2000


def test_staff_issue_a_card_and_see_its_code_once(shop, staff):
    world, conn = shop
    card = issue(staff, 3000, recipient="fay@example.test", note="Raffle prize", expires_at="2099-12-31")
    assert card["code"].replace("-", "")[-4:] == card["last4"] and card["balance"] == card["initial"] == 3000
    assert card["status"] == "active" and card["expires_at"].startswith("2099-12-31")
    listed = staff.get("/api/admin/gift-cards").json()
    assert card["id"] in [c["id"] for c in listed] and "code" not in listed[0]
    assert card["code"] not in staff.get("/api/admin/gift-cards").text
    detail = staff.get(f"/api/admin/gift-cards/{card['id']}").json()
    assert "code" not in detail and [(l["kind"], l["amount"], l["balance"]) for l in detail["ledger"]] == \
        [("issue", 3000, 3000)]
    row = conn.execute("SELECT code_hash, code_sealed FROM gift_cards WHERE id = ?", (card["id"],)).fetchone()
    assert card["code"] not in row["code_hash"] + row["code_sealed"]  # stored hashed and sealed, never in clear


@pytest.mark.parametrize("body, field", [({"amount": 0}, "amount"), ({"amount": "10.00"}, "amount"),
                                          ({"amount": 500, "recipient": "not an address"}, "recipient"),
                                          ({"amount": 500, "expires_at": "soon"}, "expires_at"),
                                          ({"amount": 500, "expires_at": "2001-01-01"}, "expires_at")])
def test_staff_issue_refuses_bad_input_naming_the_field(staff, body, field):
    response = staff.post("/api/admin/gift-cards", json=body)
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_issuing_needs_orders_write(shop):
    world, _ = shop
    with world.client("alpha", headers={"Authorization": f"Bearer {world.token('alpha', 'editor')}"}) as editor:
        assert editor.post("/api/admin/gift-cards", json={"amount": 500}).status_code == 403
        assert editor.get("/api/admin/gift-cards").status_code == 403


def test_a_card_pays_part_of_an_order_and_the_rest_is_due(shop, staff):
    world, conn = shop
    card = issue(staff, 500)
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1))  # 7.20 + 4.95 delivery, 20 % VAT on top: 14.58
        view = add_card(client, token, card["code"].lower())  # any case
        assert view.status_code == 200, view.text
        view = view.json()
        assert view["total"] == 1458 and view["gift_card"] == 500 and view["amount_due"] == 958
        assert view["gift_cards"] == [{"last4": card["last4"], "balance": 500, "applied": 500, "expires_at": None,
                                       "problem": None}]
        placed = checkout(client, token)
    assert placed.status_code == 201, placed.text
    order, payment = placed.json()["order"], placed.json()["payment"]
    assert order["gift_card"] == 500 and order["amount_due"] == 958 and order["status"] == "pending"
    assert order["gift_cards_used"] == [{"last4": card["last4"], "amount": 500}]
    assert payment["provider"] == "manual" and "Amount due: £9.58" in payment["instructions"]
    detail = staff.get(f"/api/admin/gift-cards/{card['id']}").json()
    assert detail["balance"] == 0
    assert [(l["kind"], l["amount"], l["order_number"]) for l in detail["ledger"]] == \
        [("issue", 500, None), ("redeem", -500, order["number"])]
    ledger_sums(conn)


def test_an_order_paid_in_full_by_gift_card_needs_no_provider(shop, staff):
    world, conn = shop
    first, second = issue(staff, 1000), issue(staff, 5000)
    on_hand = Orders(conn).stock("BUN-4")["on_hand"]
    with world.client("alpha") as client:
        token = cart(client, ("BUN-4", 2))  # 20.00 + 4.95, VAT on top: 29.94
        add_card(client, token, first["code"])
        view = add_card(client, token, second["code"]).json()
        assert [c["applied"] for c in view["gift_cards"]] == [1000, 1994] and view["amount_due"] == 0
        placed = checkout(client, token).json()
    order = placed["order"]
    assert placed["payment"] == {"provider": "gift_card", "status": "paid"}
    assert order["provider"] == "gift_card" and order["status"] == "processing" and order["payment_status"] == "paid"
    assert order["gift_card"] == order["total"] == 2994 and order["amount_due"] == 0
    assert [h["to_status"] for h in order["history"]] == ["pending", "processing"]
    stock = Orders(conn).stock("BUN-4")
    assert stock["on_hand"] == on_hand - 2 and stock["reserved"] == 0  # sold at once, not held
    kinds = [r["kind"] for r in conn.execute("SELECT kind FROM events WHERE subject = ? ORDER BY id",
                                             (str(order["number"]),))]
    assert kinds == ["order.placed", "order.paid"]
    assert staff.get(f"/api/admin/gift-cards/{second['id']}").json()["balance"] == 5000 - 1994
    ledger_sums(conn)


def test_buying_a_gift_card_issues_it_when_the_order_is_paid(shop, staff):
    world, conn = shop
    with world.client("alpha") as client:
        token = cart(client, ("VOUCHER-25", 2), ("VOUCHER-10", 1))
        placed = checkout(client, token, shipping_method="pickup").json()
        number, link = placed["order"]["number"], placed["order"]["token"]
        unpaid = client.get(f"/api/orders/{number}", params={"token": link}).json()
        assert unpaid["gift_cards"] == []  # nothing to spend before the money arrives
        assert staff.post(f"/api/admin/orders/{number}/paid").status_code == 200
        assert staff.post(f"/api/admin/orders/{number}/paid").status_code == 200  # a replay issues nothing
        paid = client.get(f"/api/orders/{number}", params={"token": link}).json()
        cards = paid["gift_cards"]
        assert sorted(c["amount"] for c in cards) == [1000, 2500, 2500] and len({c["code"] for c in cards}) == 3
        expiry = datetime.fromisoformat(cards[0]["expires_at"])
        assert timedelta(days=360) < expiry - datetime.now(timezone.utc) < timedelta(days=370)  # valid_months: 12
        # Staff see the cards with the order's number, by their last four only.
        listed = [c for c in staff.get("/api/admin/gift-cards").json() if c["order_number"] == number]
        assert len(listed) == 3 and all(c["status"] == "active" for c in listed)
        assert not any(c["code"] in staff.get(f"/api/admin/orders/{number}").text for c in cards)
        # A bought card is spent like any other.
        other = cart(client, ("RYE", 1))
        assert add_card(client, other, cards[0]["code"]).json()["gift_card"] == cards[0]["amount"]
    ledger_sums(conn)


def test_a_gift_card_cannot_pay_for_gift_cards(shop, staff):
    world, _ = shop
    card = issue(staff, 10000)
    with world.client("alpha") as client:
        token = cart(client, ("VOUCHER-25", 1), ("RYE", 1))
        view = add_card(client, token, card["code"]).json()
    assert view["gift_card"] == view["total"] - 2500 and view["amount_due"] == 2500


def test_an_unpaid_order_that_is_cancelled_gives_the_balance_back(shop, staff):
    world, conn = shop
    card = issue(staff, 800)
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1))
        add_card(client, token, card["code"])
        number = checkout(client, token).json()["order"]["number"]
    assert staff.get(f"/api/admin/gift-cards/{card['id']}").json()["balance"] == 0
    cancelled = staff.post(f"/api/admin/orders/{number}/status", json={"status": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text
    detail = staff.get(f"/api/admin/gift-cards/{card['id']}").json()
    assert detail["balance"] == 800
    assert [(l["kind"], l["amount"]) for l in detail["ledger"]] == [("issue", 800), ("redeem", -800), ("refund", 800)]
    ledger_sums(conn)


def test_unpaid_gift_card_orders_that_expire_leave_no_cards(shop, staff):
    world, conn = shop
    with world.client("alpha") as client:
        placed = checkout(client, cart(client, ("VOUCHER-10", 1)), shipping_method="pickup").json()
    number = placed["order"]["number"]
    assert conn.execute("SELECT count(*) FROM gift_cards c JOIN orders o ON o.id = c.order_id WHERE o.number = ?",
                        (number,)).fetchone()[0] == 1  # made unborn with the order
    Orders(conn).expire_unpaid(datetime.now(timezone.utc) + timedelta(days=30))
    assert conn.execute("SELECT count(*) FROM gift_cards c JOIN orders o ON o.id = c.order_id WHERE o.number = ?",
                        (number,)).fetchone()[0] == 0


def test_refunds_go_back_to_the_cards_newest_first_and_never_more_than_spent(shop, staff):
    world, conn = shop
    older, newer = issue(staff, 700), issue(staff, 3000)
    with world.client("alpha") as client:
        token = cart(client, ("BUN-4", 1))  # 10.00 + 4.95, VAT on top: 17.94
        add_card(client, token, older["code"])
        add_card(client, token, newer["code"])
        order = checkout(client, token).json()["order"]
    assert order["amount_due"] == 0 and [u["amount"] for u in order["gift_cards_used"]] == [700, 1094]
    order_id = conn.execute("SELECT id FROM orders WHERE number = ?", (order["number"],)).fetchone()[0]
    with conn:
        assert giftcards.refund_to_cards(conn, order_id, 1000, "test") == 1000
    balances = {c: staff.get(f"/api/admin/gift-cards/{c}").json()["balance"] for c in (older["id"], newer["id"])}
    assert balances == {older["id"]: 0 + 0, newer["id"]: 3000 - 1094 + 1000}  # newest redemption first
    with conn:
        assert giftcards.refund_to_cards(conn, order_id, 5000, "test") == 1794 - 1000  # only what is left
    with conn:
        assert giftcards.refund_to_cards(conn, order_id, 100, "test") == 0
    assert staff.get(f"/api/admin/gift-cards/{older['id']}").json()["balance"] == 700
    # A full refund afterwards puts nothing back twice.
    assert staff.post(f"/api/admin/orders/{order['number']}/refund").status_code == 200
    assert staff.get(f"/api/admin/gift-cards/{newer['id']}").json()["balance"] == 3000
    ledger_sums(conn)


@pytest.mark.parametrize("problem", ["unknown", "empty", "malformed", "expired", "disabled", "spent"])
def test_cards_that_cannot_pay_are_refused_alike(shop, staff, problem):
    world, conn = shop
    card = issue(staff, 500)
    code = {"unknown": giftcards.new_code(), "empty": "", "malformed": "hello"}.get(problem, card["code"])
    if problem == "expired":
        with conn:
            conn.execute("UPDATE gift_cards SET expires_at = ? WHERE id = ?",
                         (giftcards.stamp(datetime.now(timezone.utc) - timedelta(seconds=1)), card["id"]))
    elif problem == "disabled":
        assert staff.post(f"/api/admin/gift-cards/{card['id']}/status", json={"status": "disabled"}).status_code == 200
    elif problem == "spent":
        with conn:
            conn.execute("UPDATE gift_cards SET balance = 0 WHERE id = ?", (card["id"],))
            conn.execute("INSERT INTO gift_card_ledger (card_id, kind, amount, balance, actor, created_at) "
                         "VALUES (?, 'adjust', -500, 0, 'test', '2026-01-01T00:00:00+00:00')", (card["id"],))
    with world.client("alpha") as client:
        response = add_card(client, cart(client, ("RYE", 1)), code)
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "invalid_gift_card", "field": "code",
                                        "message": "this is not a valid gift card code, or it has no balance left"}


def test_guessing_codes_is_rate_limited(shop):
    world, _ = shop
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1))
        answers = [add_card(client, token, giftcards.new_code()).status_code for _ in range(11)]
    assert answers[:10] == [422] * 10 and answers[10] == 429


def test_a_card_disabled_after_it_was_added_refuses_the_checkout(shop, staff):
    world, _ = shop
    card = issue(staff, 500)
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1))
        add_card(client, token, card["code"])
        staff.post(f"/api/admin/gift-cards/{card['id']}/status", json={"status": "disabled"})
        refused = checkout(client, token)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "gift_card_unavailable"
        assert card["last4"] in refused.json()["error"]["message"]
        removed = client.delete(f"/api/carts/{token}/gift-cards/{card['last4']}")
        assert removed.status_code == 200 and removed.json()["gift_cards"] == []
        assert checkout(client, token).status_code == 201


def _race(world, code: str, carts: int, sku: str = "RYE") -> list:
    with world.client("alpha") as client:
        tokens = [cart(client, (sku, 1)) for _ in range(carts)]
        for token in tokens:
            assert add_card(client, token, code).status_code == 200

    def go(token):
        with world.client("alpha") as client:
            return checkout(client, token, shipping_method="pickup", shipping_address={"name": "Ada"})

    with ThreadPoolExecutor(max_workers=carts) as pool:
        return list(pool.map(go, tokens))


def test_two_checkouts_racing_for_one_card(shop, staff):
    world, conn = shop
    card = issue(staff, 864)  # one loaf collected: 7.20 + 20 % VAT
    answers = _race(world, card["code"], 2)
    assert sorted(a.status_code for a in answers) == [201, 409]
    won = next(a.json()["order"] for a in answers if a.status_code == 201)
    assert won["amount_due"] == 0 and won["payment_status"] == "paid"
    lost = next(a.json()["error"] for a in answers if a.status_code == 409)
    assert lost["code"] == "gift_card_unavailable" and lost["field"] == "gift_card"
    assert staff.get(f"/api/admin/gift-cards/{card['id']}").json()["balance"] == 0
    ledger_sums(conn)


def test_twenty_checkouts_spending_one_card_never_overdraw_it(shop, staff):
    world, conn = shop
    card = issue(staff, 10000)
    answers = _race(world, card["code"], 20)
    placed = [a.json()["order"] for a in answers if a.status_code == 201]
    refused = [a.json()["error"]["code"] for a in answers if a.status_code != 201]
    # 11 loaves at 8.64 fit in 100.00; the 12th gets the last 4.96 and pays the rest; 8 are refused.
    assert len(placed) == 12 and refused == ["gift_card_unavailable"] * 8
    assert sum(o["gift_card"] for o in placed) == 10000
    assert sorted(o["amount_due"] for o in placed) == [0] * 11 + [864 - 496]
    detail = staff.get(f"/api/admin/gift-cards/{card['id']}").json()
    assert detail["balance"] == 0 == sum(l["amount"] for l in detail["ledger"])
    assert len([l for l in detail["ledger"] if l["kind"] == "redeem"]) == 12
    ledger_sums(conn)


def test_gift_cards_are_money_not_goods_for_discounts_and_free_delivery(shop):
    from commerce_api.shop import discounts

    world, conn = shop
    discounts.create(conn, code="TENOFF", kind="percent", value=1000)
    discounts.create(conn, code="BIGBASKET", kind="amount", value=500, min_subtotal=3000)  # 57.20 with the cards
    with world.client("alpha") as client:
        token = cart(client, ("RYE", 1), ("VOUCHER-25", 2))  # 7.20 of bread and 50.00 of cards
        client.post(f"/api/carts/{token}/discount", json={"code": "TENOFF"})
        view = client.post(f"/api/carts/{token}/discount", json={"code": "BIGBASKET"}).json()
    lines = {l["sku"]: l["discount"] for l in view["lines"]}
    assert lines == {"RYE": 72, "VOUCHER-25": 0}  # 10 % of the bread only: the card stays worth 25.00
    assert {c["code"]: c["reason"] for c in view["codes"]}["BIGBASKET"] == "needs a basket of at least £30.00"
    assert view["shipping"] == 495  # 57.20 in the basket (free over 40.00), but only 7.20 of goods
