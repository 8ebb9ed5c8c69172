"""The refund email: a partial refund tells the shopper what came back and how much; the last one
says the rest and what has been refunded in all."""

from __future__ import annotations

from tests.notify.test_order_emails import body, place, staff


def test_each_refund_sends_one_email_with_its_own_amount_and_lines(shop):
    order = place(shop, ("RYE", 2), ("BUN-4", 1))  # 24.40 + 4.95, 20 % VAT on top: 35.22
    number = order["number"]
    staff(shop, "POST", f"/api/admin/orders/{number}/paid")
    shop.run()
    partial = staff(shop, "POST", f"/api/admin/orders/{number}/refund",
                    json={"lines": [{"sku": "RYE", "quantity": 1, "restock": True}], "reason": "stale"})
    assert partial.status_code == 200, partial.text
    shop.run()
    mails = [m for m in shop.to("ada@example.test") if f"refund for order {number}" in m["Subject"].lower()]
    assert [m["Subject"].split(" — ")[0] for m in mails] == [f"Partial refund for order {number}"]
    text = body(mails[0]).replace("\r\n", "\n")
    assert "We have refunded £8.64 for order" in text and "part of what you paid" in text
    assert "Refunded:\n1 x Dark Rye\n\nYour order:" in text and "Total: £35.22" in text
    assert "£8.64" in body(mails[0], "html")

    assert staff(shop, "POST", f"/api/admin/orders/{number}/refund").status_code == 200  # the rest
    shop.run()
    mails = [m for m in shop.to("ada@example.test") if f"refund for order {number}" in m["Subject"].lower()]
    assert len(mails) == 2 and mails[1]["Subject"].startswith(f"Refund for order {number}")
    text = body(mails[1]).replace("\r\n", "\n")
    assert "We have refunded £26.58 for order" in text and "In all, £35.22 of £35.22 has been refunded." in text
    assert "1 x Dark Rye" in text and "Delivery: £4.95" in text
