"""Gift cards in order emails, through the notify job and a real SMTP server: the buyer's payment
email carries the codes (read and unsealed when it is sent), staff alerts and webhooks never do, and
a part paid by gift card shows with the amount left to pay."""

from __future__ import annotations

import json

from publish.catalog import import_snapshot
from tests.api.shopping import cart, checkout
from tests.api.test_gift_cards import GIFT_CATALOG
from tests.notify.test_order_emails import body, staff


def test_the_buyer_gets_the_codes_by_email_and_no_one_else_does(shop):
    conn = shop.db()
    import_snapshot(conn, {**GIFT_CATALOG, "email": "hello@alpha.test"})
    with shop.world.client("alpha") as client:
        placed = checkout(client, cart(client, ("VOUCHER-25", 1)), shipping_method="pickup").json()
        number, link = placed["order"]["number"], placed["order"]["token"]
        assert staff(shop, "POST", f"/api/admin/orders/{number}/paid").status_code == 200
        codes = [c["code"] for c in client.get(f"/api/orders/{number}", params={"token": link}).json()["gift_cards"]]
    assert len(codes) == 1
    shop.run()
    to_buyer = [m for m in shop.to("ada@example.test") if str(number) in m["Subject"]]
    paid = [m for m in to_buyer if "Payment received" in m["Subject"]]
    assert len(paid) == 1
    assert codes[0] in body(paid[0]) and codes[0] in body(paid[0], "html") and "£25.00" in body(paid[0])
    # The confirmation sent before the payment has no card yet; staff and the event never hold a code.
    assert not any(codes[0] in body(m) for m in to_buyer if m is not paid[0])
    assert not any(codes[0] in body(m) + body(m, "html") for m in shop.mailbox.messages if m["To"] != "ada@example.test")
    events = [json.loads(r["data"]) for r in conn.execute("SELECT data FROM events WHERE subject = ?", (str(number),))]
    assert events and not any(codes[0] in json.dumps(e) for e in events)
    conn.close()


def test_a_part_paid_by_gift_card_shows_with_the_amount_due(shop):
    with shop.world.client("alpha") as client:
        card = staff(shop, "POST", "/api/admin/gift-cards", json={"amount": 500}).json()
        token = cart(client, ("RYE", 1))
        client.post(f"/api/carts/{token}/gift-cards", json={"code": card["code"]})
        number = checkout(client, token).json()["order"]["number"]
    shop.run()
    mail = next(m for m in shop.to("ada@example.test") if f"Order {number} confirmed" in m["Subject"])
    assert "Paid by gift card: -£5.00" in body(mail) and "Amount due: £9.58" in body(mail)
    assert card["code"] not in body(mail)
