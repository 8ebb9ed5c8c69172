"""Order emails: exactly one per (event, recipient), whatever is retried, replayed or interrupted."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import httpx

from commerce_api.notify import outbox, recipients
from content.migrations import connect
from content.gitrepo import Author, Repository
from tests.api.shopping import cart, checkout

STAFF = Author("Owner", "owner@alpha.test")


def body(message, kind: str = "plain") -> str:
    part = message.get_body(preferencelist=(kind,))
    return part.get_content() if part is not None else ""


def place(shop, *items, key=None) -> dict:
    with shop.world.client("alpha") as client:
        token = cart(client, *(items or (("RYE", 1),)))
        response = checkout(client, token, key)
        assert response.status_code == 201, response.text
        return response.json()["order"]


def staff(shop, method: str, path: str, **kwargs) -> httpx.Response:
    with shop.world.client("alpha") as client:
        headers = {"Authorization": f"Bearer {shop.world.token('alpha', 'owner')}"}
        return client.request(method, path, headers=headers, **kwargs)


def subjects(shop, address: str, number: int) -> list[str]:
    return [m["Subject"] for m in shop.to(address) if str(number) in m["Subject"]]


def test_an_order_sends_one_confirmation_and_one_alert_per_staff_member(shop):
    order = place(shop, ("RYE", 2), key="order-one-key")
    number = order["number"]
    assert subjects(shop, "ada@example.test", number) == []  # nothing is sent on the shopper's request
    report = shop.run()
    assert report.sent >= 3

    confirmations = [m for m in shop.to("ada@example.test") if f"Order {number} confirmed" in m["Subject"]]
    assert len(confirmations) == 1
    mail = confirmations[0]
    text = body(mail)
    assert "2 x Dark Rye" in text and "Pay by bank transfer, quoting your order number." in text
    assert "1 Mill Lane" in text and "Total:" in text
    assert mail["From"] == "Rye & Crumb Bakery <no-reply@tessera.test>"
    assert mail["Reply-To"] == "hello@alpha.test"
    assert re.fullmatch(r"<alpha\.\d+\.\d+@tessera\.test>", mail["Message-ID"])
    assert mail["List-Unsubscribe"] is None  # a receipt is not a mailing
    html = body(mail, "html")
    assert 'style="' in html and "<style" not in html  # CSS inlined for mail clients
    assert "http://" not in re.sub(r'href="[^"]*"', "", html).replace("http://alpha.localhost", "")  # nothing remote

    # Staff: the owner and the shop manager, not the admin or the editor.
    for address in ("owner@alpha.test", "shop_manager@alpha.test"):
        alerts = [m for m in shop.to(address) if f"New order {number}" in m["Subject"]]
        assert len(alerts) == 1, address
        assert alerts[0]["Auto-Submitted"] == "auto-generated"
        assert alerts[0]["List-Unsubscribe"].startswith("<http://admin.localhost/unsubscribe?t=")
        # On the wire as a plain <URL> on one line, as mail clients need it (RFC 8058), not an encoded word.
        raw = next(r for r in shop.mailbox.raw if f"New order {number}".encode() in r and address.encode() in r)
        assert re.search(rb"\r\nList-Unsubscribe: <http://admin\.localhost/unsubscribe\?t=[^>\r\n]+>\r\n", raw)
        assert f"http://admin.localhost/sites/alpha/orders/{number}" in body(alerts[0])
    for address in ("admin@alpha.test", "editor@alpha.test"):
        assert subjects(shop, address, number) == []

    # The job again, twice: nothing new is sent.
    before = len(shop.mailbox.messages)
    shop.run()
    shop.run()
    assert len(shop.mailbox.messages) == before


def test_a_retried_checkout_with_the_same_key_sends_once(shop):
    with shop.world.client("alpha") as client:
        token = cart(client, ("BUN-4", 1))
        first = checkout(client, token, "retry-key-123")
        second = checkout(client, token, "retry-key-123")
    assert first.status_code == 201 and second.status_code in (200, 201)
    number = first.json()["order"]["number"]
    assert second.json()["order"]["number"] == number
    shop.run()
    shop.run()
    assert len([s for s in subjects(shop, "ada@example.test", number) if "confirmed" in s]) == 1


def test_a_crash_between_claim_and_send_sends_once_after_restart(shop):
    number = place(shop, ("RYE", 1))["number"]
    conn = shop.db()
    try:
        notifier = shop.notifier()
        # The job expands the event and claims the shopper's email, then the process dies.
        platform = connect(shop.data / "platform.db")
        for event in outbox.new_events(conn):
            outbox.expand(conn, event, recipients.plan(conn, platform, "alpha", event, shop=True))
        platform.close()
        mine = [d for d in outbox.due(conn) if d.recipient == "ada@example.test" and d.event.subject == str(number)]
        assert len(mine) == 1 and outbox.claim(conn, mine[0])
        # A new run right away leaves it alone (another process might still be sending it) ...
        notifier.run("alpha")
        assert not [s for s in subjects(shop, "ada@example.test", number) if "confirmed" in s]
        # ... and once it has been stuck long enough, it is handed back and sent, once.
        later = datetime.now(timezone.utc) + outbox.STUCK_AFTER + timedelta(seconds=5)
        notifier.run("alpha", now=later)
        notifier.run("alpha", now=later + timedelta(seconds=1))
        assert len([s for s in subjects(shop, "ada@example.test", number) if "confirmed" in s]) == 1
        assert outbox.get(conn, mine[0].id).status == "sent"
    finally:
        conn.close()


def test_shipping_with_tracking_sends_the_number_and_the_carrier_link(shop):
    number = place(shop, ("RYE", 1))["number"]
    assert staff(shop, "POST", f"/api/admin/orders/{number}/paid").status_code == 200
    shipped = staff(shop, "POST", f"/api/admin/orders/{number}/status",
                    json={"status": "shipped", "tracking_number": "AB 123456789GB", "carrier": "Royal Mail"})
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["tracking_url"] == \
        "https://www.royalmail.com/track-your-item#/tracking-results/AB%20123456789GB"
    shop.run()
    paid = [m for m in shop.to("ada@example.test") if f"Payment received for order {number}" in m["Subject"]]
    assert len(paid) == 1
    sent = [m for m in shop.to("ada@example.test") if f"order {number} is on its way" in m["Subject"]]
    assert len(sent) == 1
    text = body(sent[0])
    assert "Tracking number: AB 123456789GB" in text and "Carrier: Royal Mail" in text
    assert "https://www.royalmail.com/track-your-item#/tracking-results/AB%20123456789GB" in text

    # A corrected number later is news too (a new event), sent once.
    staff(shop, "POST", f"/api/admin/orders/{number}/status", json={"status": "shipped", "tracking_number": "CD9"})
    staff(shop, "POST", f"/api/admin/orders/{number}/status", json={"status": "shipped", "tracking_number": "CD9"})
    shop.run()
    updates = [m for m in shop.to("ada@example.test") if f"Tracking for order {number}" in m["Subject"]]
    assert len(updates) == 1 and "Tracking number: CD9" in body(updates[0])

    # Cancelled and refunded orders tell the shopper; delivered does not email anyone.
    staff(shop, "POST", f"/api/admin/orders/{number}/status", json={"status": "delivered"})
    assert staff(shop, "POST", f"/api/admin/orders/{number}/refund").status_code == 200
    shop.run()
    assert len([m for m in shop.to("ada@example.test") if f"Refund for order {number}" in m["Subject"]]) == 1


def test_cancelling_an_unpaid_manual_order_tells_the_shopper(shop):
    number = place(shop, ("RYE", 1))["number"]
    staff(shop, "POST", f"/api/admin/orders/{number}/status", json={"status": "cancelled"})
    shop.run()
    assert len([m for m in shop.to("ada@example.test") if f"Order {number} cancelled" in m["Subject"]]) == 1


def test_without_a_mail_server_emails_are_held_and_sent_once_there_is_one(shop):
    number = place(shop, ("RYE", 1))["number"]
    report = shop.notifier(mail=False).run("alpha")
    assert report.held >= 3 and report.sent == 0
    assert subjects(shop, "ada@example.test", number) == []
    conn = shop.db()
    try:
        held = [d for d in outbox.listing(conn, status="held") if d.event.subject == str(number)]
        assert {d.recipient for d in held} >= {"ada@example.test", "owner@alpha.test"}
        assert all(d.last_error == outbox.NO_MAIL_SERVER for d in held)
    finally:
        conn.close()
    shop.run()
    assert len([s for s in subjects(shop, "ada@example.test", number) if "confirmed" in s]) == 1


def test_a_staff_member_who_opted_out_gets_no_alert(shop):
    user = shop.services.users.find("shop_manager@alpha.test")
    tenant = shop.services.db.registry.get("alpha")
    recipients.set_opted_out(shop.services.db.conn, user.id, tenant.id, {"orders"})
    try:
        number = place(shop, ("RYE", 1))["number"]
        shop.run()
        assert subjects(shop, "shop_manager@alpha.test", number) == []
        assert len(subjects(shop, "owner@alpha.test", number)) == 1
    finally:
        recipients.set_opted_out(shop.services.db.conn, user.id, tenant.id, set())


def test_low_stock_alerts_once_when_an_order_takes_a_sku_to_the_threshold(shop):
    conn = shop.db()
    try:
        from commerce_api.shop.orders import Orders
        Orders(conn).set_stock("BUN-8", 5)
    finally:
        conn.close()
    place(shop, ("BUN-8", 1))  # 4 left: above the threshold (3)
    place(shop, ("BUN-8", 1))  # 3 left: at the threshold, alert
    place(shop, ("BUN-8", 1))  # 2 left: already alerted
    shop.run()
    alerts = [m for m in shop.to("owner@alpha.test") if m["Subject"].startswith("Low stock: Cinnamon Bun")]
    assert len(alerts) == 1
    assert "has 3 left to sell (your alert is at 3)" in body(alerts[0])


def test_a_sites_own_template_in_git_is_used_and_a_broken_one_falls_back(shop):
    repo = Repository(shop.data / "tenants" / "alpha" / "repo.git")
    repo.write({"theme/emails/order_confirmation.txt":
                b"Subject: Thanks from Alpha, order {{ order.number }}\n\nYour bread is coming. "
                b"{{ cycler.__init__.__globals__ }}{{ ''.__class__.__mro__ }}\n"}, STAFF, "Our own receipt")
    number = place(shop, ("RYE", 1))["number"]
    shop.run()
    own = [m for m in shop.to("ada@example.test") if m["Subject"] == f"Thanks from Alpha, order {number}"]
    assert len(own) == 1
    text = body(own[0])
    assert "Your bread is coming." in text and "__builtins__" not in text and "object" not in text  # sandboxed

    repo.write({"theme/emails/order_confirmation.txt": b"Subject: Broken {{ order.number \n"}, STAFF, "Oops")
    number = place(shop, ("RYE", 1))["number"]
    shop.run()
    assert len([m for m in shop.to("ada@example.test") if m["Subject"].startswith(f"Order {number} confirmed")]) == 1
    conn = shop.db()
    try:
        sent = next(d for d in outbox.listing(conn, status="sent") if d.event.subject == str(number)
                    and d.recipient == "ada@example.test")
        assert "theme/emails/order_confirmation could not be used" in outbox.attempts(conn, sent.id)[-1]["error"]
    finally:
        conn.close()
    repo.write({"theme/emails/order_confirmation.txt": None}, STAFF, "Back to the theme's")


def test_an_unreachable_mail_server_is_retried_with_backoff(shop):
    number = place(shop, ("RYE", 1))["number"]
    broken = shop.notifier()
    from dataclasses import replace
    from tests.api.conftest import free_port
    broken = replace(broken, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    report = broken.run("alpha")
    assert report.sent == 0 and report.retry_at is not None
    conn = shop.db()
    try:
        mine = next(d for d in outbox.listing(conn) if d.event.subject == str(number) and d.recipient == "ada@example.test")
        assert mine.status == "pending" and mine.attempts == 1 and "did not take the message" in mine.last_error
        assert datetime.fromisoformat(mine.next_attempt_at) > datetime.now(timezone.utc)
    finally:
        conn.close()
    shop.run(now=datetime.now(timezone.utc) + timedelta(minutes=1))
    assert len([s for s in subjects(shop, "ada@example.test", number) if "confirmed" in s]) == 1


def test_events_carry_the_order_as_it_was(shop):
    number = place(shop, ("RYE", 1))["number"]
    conn = shop.db()
    try:
        row = conn.execute("SELECT data FROM events WHERE kind = 'order.placed' AND subject = ?", (str(number),)).fetchone()
        order = json.loads(row["data"])["order"]
        assert order["number"] == number and order["status"] == "pending" and "notes" not in order
        assert "token_hash" not in json.dumps(order)
    finally:
        conn.close()
