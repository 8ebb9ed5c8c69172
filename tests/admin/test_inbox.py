"""The demo studio's contact form, posted without JavaScript: the message lands in the admin's inbox
and reaches the owner through the real SMTP server; read, archive, export; who may see it."""

from __future__ import annotations

import csv
import io
import re
import time

import httpx

FORM = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "=1+1 is not a formula\nSecond line.",
        "budget": "Over €5,000", "website": "", "_form": "contact"}


def send(site: dict, data: dict, tenant: str = "studio", form: str = "contact") -> httpx.Response:
    """The form as a browser without JavaScript posts it from the site's own page."""
    host = f"{tenant}.localhost:{site['port']}"
    with httpx.Client(base_url=f"http://127.0.0.1:{site['port']}", timeout=30) as client:
        return client.post(f"/api/forms/{form}", data=data, headers={
            "Host": host, "Origin": f"http://{host}", "Accept": "text/html,application/xhtml+xml"})


def mail_to(mailbox, address: str, subject: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in mailbox.messages if m["To"] == address and subject in m["Subject"]]
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no email to {address} about {subject!r}: {[m['Subject'] for m in mailbox.messages]}")


def message_id(response: httpx.Response, name: str) -> int:
    return int(re.search(rf'href="/sites/\w+/inbox/(\d+)">{re.escape(name)}</a>', response.text).group(1))


def test_a_form_post_lands_in_the_inbox_and_mails_the_owner(admin, site, mailbox):
    published = httpx.get(f"http://127.0.0.1:{site['port']}/contact/",
                          headers={"Host": f"studio.localhost:{site['port']}"}).text
    assert 'action="/api/forms/contact"' in published and 'name="budget"' in published
    response = send(site, FORM)
    assert response.status_code == 303 and response.headers["location"] == "/contact/#contact-sent"

    mail = mail_to(mailbox, "owner@studio.test", "Tell me about your project from Ada Lovelace")
    assert mail["Reply-To"] == "ada@example.com"
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Second line." in text and "Over €5,000" in text and "/sites/studio/inbox" in text

    owner = admin("studio", "owner@studio.test")
    listing = owner.get("/inbox")
    assert listing.status_code == 200
    assert re.search(r'<tr class="unread">\s*<td>[^<]*</td>\s*<td><a href="/sites/studio/inbox/\d+">Ada Lovelace</a>',
                     listing.text)
    assert re.search(r'Inbox <span class="badge">\d+', listing.text)
    number = message_id(listing, "Ada Lovelace")
    shown = owner.get(f"/inbox/{number}")
    assert "=1+1 is not a formula\nSecond line." in shown.text and 'href="mailto:ada@example.com"' in shown.text
    assert not re.search(rf'<tr class="unread">\s*<td>[^<]*</td>\s*<td><a href="/sites/studio/inbox/{number}"',
                         owner.get("/inbox").text)  # opened: read, no longer bold

    archived = owner.post(f"/inbox/{number}/archive", follow_redirects=False)
    assert archived.status_code == 303
    assert f"/inbox/{number}\"" not in owner.get("/inbox").text
    assert f"/inbox/{number}\"" in owner.get("/inbox?status=archived").text
    assert owner.post(f"/inbox/{number}/unarchive").status_code == 303
    assert f"/inbox/{number}\"" in owner.get("/inbox").text


def test_the_csv_export_quotes_formulas(admin, site):
    assert send(site, {**FORM, "name": "@Formula Fan"}).status_code == 303
    response = admin("studio", "owner@studio.test").get("/inbox.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    mine = next(r for r in rows if r["name"] == "'@Formula Fan")
    assert mine["message"].startswith("'=1+1") and mine["budget"] == "Over €5,000" and mine["email"] == "ada@example.com"


def test_robots_never_reach_the_inbox(admin, site):
    assert send(site, {**FORM, "name": "Robot One", "website": "http://spam.example"}).status_code == 303
    assert "Robot One" not in admin("studio", "owner@studio.test").get("/inbox?status=all").text


def test_who_sees_the_inbox(admin, site):
    assert send(site, {**FORM, "name": "For The Editor"}).status_code == 303
    editor = admin("studio", "editor@agency.test")
    listing = editor.get("/inbox")
    assert listing.status_code == 200 and "For The Editor" in listing.text
    assert editor.post(f"/inbox/{message_id(listing, 'For The Editor')}/archive", follow_redirects=False).status_code == 303

    wholesale = {"name": "Café Owner", "email": "cafe@example.com", "message": "Forty loaves?", "company": "Café Nord",
                 "quantity": "40"}
    assert send(site, wholesale, "bakery", "wholesale").status_code == 303
    shop = admin("bakery", "shop@bakery.test")
    assert "Café Owner" in shop.get("/inbox").text and "Inbox" in shop.get("/").text
    # A member of the bakery only: the studio's messages are not theirs to read.
    other = admin("bakery", "owner@bakery.test")
    assert other.get("/sites/studio/inbox", follow_redirects=False).status_code in (303, 401, 403)
