"""Order emails of a discounted order: a "Discount (CODE)" line, shipping at its price before the
discount so that the lines add up, and what the shopper saved; an order without one shows neither."""

from __future__ import annotations

from commerce_api.shop import discounts
from tests.api.shopping import cart, checkout
from tests.notify.test_order_emails import body


def test_the_confirmation_shows_the_discount_and_the_saving(shop):
    conn = shop.db()
    try:
        discounts.create(conn, code="CRUMB10", kind="percent", value=1000)
        discounts.create(conn, code="POSTFREE", kind="free_shipping", combines=True)
    finally:
        conn.close()
    with shop.world.client("alpha") as client:
        token = cart(client, ("RYE", 2))  # 14.40, shipping 4.95
        assert client.post(f"/api/carts/{token}/discount", json={"code": "crumb10"}).status_code == 200
        placed = checkout(client, token)
        assert placed.status_code == 201, placed.text
        order = placed.json()["order"]
        plain_token = cart(client, ("RYE", 1))
        plain = checkout(client, plain_token).json()["order"]
    assert order["discount"] == 144
    shop.run()
    [mail] = [m for m in shop.to("ada@example.test") if f"Order {order['number']} confirmed" in m["Subject"]]
    text = body(mail).replace("\r\n", "\n")
    assert "Subtotal: £14.40\nDiscount (CRUMB10): -£1.44\nDelivery: £4.95\n" in text
    assert "You save £1.44." in text
    html = body(mail, "html")
    assert "Discount (CRUMB10)" in html and "−£1.44" in html and "You save £1.44." in html
    [other] = [m for m in shop.to("ada@example.test") if f"Order {plain['number']} confirmed" in m["Subject"]]
    assert "Discount" not in body(other) and "You save" not in body(other)


def test_a_shipping_discount_shows_shipping_before_it(shop):
    with shop.world.client("alpha") as client:
        token = cart(client, ("BUN-4", 1))
        view = client.post(f"/api/carts/{token}/discount", json={"code": "POSTFREE"}).json()
        assert view["discount"] == 495 and view["shipping"] == 0
        order = checkout(client, token).json()["order"]
    shop.run()
    [mail] = [m for m in shop.to("ada@example.test") if f"Order {order['number']} confirmed" in m["Subject"]]
    text = body(mail).replace("\r\n", "\n")
    # 10.00 - 4.95 (the shipping discount) + 4.95 shipping + 2.00 VAT on 10.00 = 12.00: the lines add up.
    assert "Subtotal: £10.00\nDiscount (POSTFREE): -£4.95\nDelivery: £4.95\nTax: £2.00\nTotal: £12.00" in text
