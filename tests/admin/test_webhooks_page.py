"""Webhooks in the admin, on the demo installation with its job runner: add an endpoint (the secret
shown once), press "send test event", and see the delivery a real loopback receiver took in the log."""

from __future__ import annotations

import re
import time

import pytest

from commerce_api.notify import webhooks
from tests.admin.conftest import alert, status
from tests.conftest import demo_site
from tests.notify.receiver import Receiver


@pytest.fixture(name="site", scope="module")
def fx_site(tmp_path_factory, mailbox):
    # The operator allows loopback, as TESSERA_WEBHOOK_ALLOW documents, so a local receiver can be reached.
    with demo_site(tmp_path_factory, {"TESSERA_SMTP_URL": mailbox.url, "TESSERA_WEBHOOK_ALLOW": "127.0.0.0/8"}) as site:
        yield site


@pytest.fixture(name="hook")
def fx_hook():
    receiver = Receiver([200])
    yield receiver
    receiver.close()


def endpoint_id(response) -> str:
    """The endpoint a page shows, or the one an add's redirect leads to."""
    if response.status_code == 303:
        return re.search(r"/webhooks/(\d+)\?", response.headers["location"]).group(1)
    return re.search(r'/webhooks/(\d+)/test"', response.text).group(1)


def wait_until(check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError("not in time")


def test_an_owner_adds_an_endpoint_tests_it_and_reads_the_log(admin, hook):
    owner = admin()
    listing = owner.get("/webhooks")
    assert listing.status_code == 200 and "No endpoints yet." in listing.text
    assert 'href="/sites/bakery/webhooks" aria-current="page"' in listing.text

    added = owner.post("/webhooks/new", {"url": hook.url, "events": ["order.paid", "form.submitted"],
                                         "description": "bookkeeping"})
    assert added.status_code == 303, alert(added)  # a redirect: reloading the page adds nothing
    added = owner.get(added.headers["location"])
    secret = re.search(r'<code class="copy">(whsec_[^<]+)</code>', added.text).group(1)
    assert "not shown again" in status(added)
    number = endpoint_id(added)
    page = owner.get(f"/webhooks/{number}")
    assert secret not in page.text and secret not in owner.get("/webhooks").text and "bookkeeping" in page.text

    queued = owner.post(f"/webhooks/{number}/test")
    assert queued.status_code == 303 and "Test%20event%20queued" in queued.headers["location"]
    wait_until(lambda: hook.requests)
    request = hook.requests[0]
    assert webhooks.verify(secret, request["headers"]["Tessera-Signature"], request["body"])
    assert request["headers"]["Tessera-Event"] == "webhook.test"

    def sent() -> str | None:
        text = owner.get(f"/webhooks/{number}").text
        return text if ">sent<" in text else None

    log = wait_until(sent)
    assert request["headers"]["Tessera-Delivery"] in log and "<td>200</td>" in log and " ms</td>" in log

    asked = owner.post(f"/webhooks/{number}/remove")
    assert asked.status_code == 200 and "Remove this endpoint?" in alert(asked)
    assert f"/webhooks/{number}" in owner.get("/webhooks").text  # asking removed nothing
    removed = owner.post(f"/webhooks/{number}/remove", {"confirm": "yes"})
    assert removed.status_code == 303 and owner.get(f"/webhooks/{number}").status_code == 404


def test_a_bad_address_is_named_and_nothing_is_added(admin):
    owner = admin()
    refused = owner.post("/webhooks/new", {"url": "https://10.0.0.7/hook", "events": ["*"]})
    assert refused.status_code == 303 and "private" in alert(owner.get(refused.headers["location"]))
    no_events = owner.post("/webhooks/new", {"url": "https://hooks.example.com/x"})
    assert "events" in alert(owner.get(no_events.headers["location"]))
    assert "No endpoints yet." in owner.get("/webhooks").text


def test_an_endpoint_turned_off_can_be_turned_on_again(admin, site):
    owner = admin()
    number = endpoint_id(owner.post("/webhooks/new", {"url": "https://hooks.example.com/y", "events": ["*"]}))
    from content.migrations import connect
    from content.schema import TENANT

    conn = connect(site["data"] / "tenants" / "bakery" / "tenant.db", TENANT)
    with conn:
        conn.execute("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'a delivery kept failing', "
                     "failures = 12 WHERE id = ?", (number,))
    conn.close()
    page = owner.get(f"/webhooks/{number}").text
    assert "a delivery kept failing" in page and "Turn on again" in page
    owner.post(f"/webhooks/{number}/enable")
    page = owner.get(f"/webhooks/{number}").text
    assert "Turn on again" not in page and ">on<" in page
    owner.post(f"/webhooks/{number}/remove", {"confirm": "yes"})


def test_editors_see_no_webhooks(admin):
    editor = admin("bakery", "editor@agency.test")
    nav = re.search(r'<nav aria-label="Admin">(.*?)</nav>', editor.get("/").text, re.S).group(1)
    assert "Webhooks" not in nav
    assert editor.get("/webhooks").status_code == 403
    assert editor.post("/webhooks/new", {"url": "https://hooks.example.com/z", "events": ["*"]}).status_code == 403
