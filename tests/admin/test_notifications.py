"""Notifications end to end on the demo installation: the job runner sends the outbox on its own, the
admin lists it, previews each email with a real order, and each person chooses their staff emails."""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy

import httpx

from commerce_api.notify import outbox
from commerce_api.shop.orders import Orders
from content.migrations import connect

ADDRESS = {"name": "Iona Reid", "line1": "4 Shore", "city": "Leith", "postal_code": "EH6 6QW", "country": "GB"}


def read(message):
    """The message as a mail client reads it (parts and decoded headers)."""
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def wait_for(mailbox, to: str, subject: str, timeout: float = 60) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [read(m) for m in mailbox.messages if m["To"] == to and subject in str(read(m)["Subject"])]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no email to {to} about {subject!r}; got {[str(m['Subject']) for m in mailbox.messages]}")


def order(site, email: str = "iona@example.test") -> int:
    with httpx.Client(base_url=f"http://127.0.0.1:{site['port']}", headers={"Host": "bakery.localhost"},
                      timeout=30) as shop:
        token = shop.post("/api/carts").json()["token"]
        assert shop.post(f"/api/carts/{token}/items", json={"sku": "BG-1", "quantity": 1}).status_code == 201
        placed = shop.post("/api/checkout", json={"cart_token": token, "email": email, "shipping_address": ADDRESS})
        assert placed.status_code == 201, placed.text
        return placed.json()["order"]["number"]


def test_an_order_reaches_the_shopper_and_the_shop_by_email_on_its_own(site, mailbox):
    number = order(site)
    confirmation = wait_for(mailbox, "iona@example.test", f"Order {number} confirmed")
    assert len(confirmation) == 1
    text = confirmation[0].get_body(preferencelist=("plain",)).get_content()
    assert "Pay by bank transfer to Rye & Crumb Ltd" in text  # the site's manual payment instructions
    assert str(confirmation[0]["From"]).startswith("Rye & Crumb Bakery <")
    for staff in ("owner@bakery.test", "shop@bakery.test"):
        assert len(wait_for(mailbox, staff, f"New order {number}")) == 1
    time.sleep(1.5)  # a second job run (if one was queued) must not repeat any of them
    assert len([m for m in mailbox.messages if m["To"] == "iona@example.test" and str(number) in m["Subject"]]) == 1


def test_the_outbox_lists_deliveries_and_sends_a_held_one_again(admin, site, mailbox):
    number = order(site, "held@example.test")
    wait_for(mailbox, "held@example.test", f"Order {number} confirmed")
    owner = admin()
    listed = owner.get("/notifications")
    assert listed.status_code == 200 and "held@example.test" in listed.text and "order.placed" in listed.text

    # A delivery held while there was no mail server: "Send again" sends it now.
    conn = connect(site["data"] / "tenants" / "bakery" / "tenant.db")
    try:
        placed = {k: v for k, v in Orders(conn).get(number).items() if k not in ("notes", "history")}
        with conn:
            event_id = outbox.record(conn, "order.refunded", {"order": {**placed, "email": "late@example.test"}},
                                     subject=number)
        event = next(e for e in outbox.new_events(conn) if e.id == event_id)
        outbox.expand(conn, event, [outbox.Planned("email", "late@example.test", "order_refunded")], held={"email"})
        held = next(d for d in outbox.listing(conn, status="held") if d.recipient == "late@example.test")
    finally:
        conn.close()
    assert "held" in owner.get("/notifications?status=held").text
    resent = owner.post("/notifications/resend", {"id": str(held.id)})
    assert resent.status_code == 303 and "will%20be%20sent%20again" in resent.headers["location"]
    assert len(wait_for(mailbox, "late@example.test", f"Refund for order {number}")) == 1
    assert owner.post("/notifications/resend", {"id": str(held.id)}).headers["location"].count("error=") == 1

    editor = admin("bakery", "editor@agency.test")
    assert editor.get("/notifications").status_code == 403


def test_webhook_deliveries_show_only_to_people_who_may_see_webhooks(admin, site):
    conn = connect(site["data"] / "tenants" / "bakery" / "tenant.db")
    try:
        with conn:
            endpoint = conn.execute("INSERT INTO webhook_endpoints (url, events, secret, created_at) VALUES "
                                    "('https://hooks.example.com/T0KEN-in-the-url', '[\"*\"]', 'x', '2026-01-01')").lastrowid
            event_id = outbox.record(conn, "stock.low", {"stock": {"sku": "BG-1", "name": "Bread", "available": 1,
                                                                   "threshold": 3}})
        event = next(e for e in outbox.new_events(conn) if e.id == event_id)
        outbox.expand(conn, event, [outbox.Planned("webhook", f"endpoint:{endpoint}")])
        delivery = next(d for d in outbox.listing(conn, channel="webhook") if d.event.id == event_id)
        with conn:
            conn.execute("UPDATE deliveries SET status = 'failed' WHERE id = ?", (delivery.id,))
    finally:
        conn.close()
    assert "T0KEN-in-the-url" in admin().get("/notifications").text
    manager = admin("bakery", "shop@bakery.test")
    page = manager.get("/notifications")
    assert page.status_code == 200 and "T0KEN-in-the-url" not in page.text
    refused = manager.post("/notifications/resend", {"id": str(delivery.id)})
    assert "error=" in refused.headers["location"]


def test_email_previews_show_a_real_order_in_a_sandboxed_frame(admin, site):
    number = order(site, "preview@example.test")
    owner = admin()
    page = owner.get(f"/emails?template=order_shipped&order={number}")
    assert page.status_code == 200
    assert re.search(r"<iframe[^>]*sandbox", page.text) and f"order {number}" in page.text
    frame = owner.get(f"/emails/preview?template=order_confirmation&order={number}")
    assert frame.status_code == 200 and "sandbox" in frame.headers["content-security-policy"]
    assert f"<strong>{number}</strong>" in frame.text and "Bakery" in frame.text
    staff = owner.get("/emails?template=staff_low_stock")
    assert staff.status_code == 200 and "Low stock" in staff.text


def test_each_person_chooses_their_staff_emails_and_can_unsubscribe_in_one_click(admin, site, mailbox):
    manager = admin("bakery", "shop@bakery.test")
    account = manager.get("/tokens")
    assert 'name="topics" value="orders" checked' in account.text
    assert 'value="publish"' not in account.text  # failed publishes go to owners and admins
    saved = manager.post("/account/notifications", {"topics": ["stock"]})
    assert saved.status_code == 303
    assert 'name="topics" value="orders" checked' not in manager.get("/tokens").text
    number = order(site, "nobody-tells-callum@example.test")
    wait_for(mailbox, "owner@bakery.test", f"New order {number}")
    time.sleep(1)
    assert not [m for m in mailbox.messages if m["To"] == "shop@bakery.test" and f"New order {number}" in m["Subject"]]
    manager.post("/account/notifications", {"topics": ["stock", "orders"]})

    # The owner's alert carries a one-click unsubscribe link (RFC 8058) on the admin's origin.
    number = order(site, "unsub@example.test")
    alert = wait_for(mailbox, "owner@bakery.test", f"New order {number}")[0]
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = httpx.URL(str(alert["List-Unsubscribe"]).strip("<>"))
    assert link.host == "admin.localhost" and link.path == "/unsubscribe"
    with httpx.Client(base_url=f"http://127.0.0.1:{site['port']}", headers={"Host": "admin.localhost"}) as mail_client:
        confirm = mail_client.get(link.raw_path.decode())
        assert confirm.status_code == 200 and "Stop emails about new orders" in confirm.text
        done = mail_client.post(link.raw_path.decode(), data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "gets no more emails about new orders" in done.text
        forged = mail_client.post(link.raw_path.decode()[:-3] + "abc", data={"List-Unsubscribe": "One-Click"})
        assert forged.status_code == 400
    owner = admin()
    assert 'name="topics" value="orders" checked' not in owner.get("/tokens").text
    owner.post("/account/notifications", {"topics": ["orders", "stock", "forms", "publish", "webhooks"]})
    assert 'name="topics" value="orders" checked' in owner.get("/tokens").text
