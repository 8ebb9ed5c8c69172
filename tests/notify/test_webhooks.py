"""Outgoing webhooks through the real notify job: a real HTTP receiver on loopback (allowed the way an
operator allows a network), retries on the outbox's schedule, signatures checked as a receiver would,
addresses inside the network refused after DNS, and endpoints that keep failing turned off once."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from commerce_api.errors import BadRequest, Conflict
from commerce_api.notify import outbox, webhooks
from commerce_api.notify.deliver import Notifier
from content.tenants import Tenants
from tessera.settings import ROOT
from tests.notify.receiver import Receiver

LOOPBACK = ("127.0.0.0/8", "::1/128")
KEY = "k" * 48
PAID = {"order": {"number": 7, "provider": "stripe", "payment_status": "paid", "total": 1250, "currency": "EUR"}}


@pytest.fixture(name="receiver")
def fx_receiver():
    made: list[Receiver] = []

    def make(statuses: list[int], headers: dict[str, str] | None = None) -> Receiver:
        made.append(Receiver(statuses, headers))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture(name="site")
def fx_site(tmp_path):
    tenants = Tenants(tmp_path, ROOT / "sites")
    tenants.create("bakery", "Bakery", frozenset({"cms"}), starter=None)
    conn = tenants.open_db("bakery")
    yield tmp_path, conn
    conn.close()
    tenants.close()


def notifier(data_dir, allow=LOOPBACK) -> Notifier:
    return Notifier(data_dir=data_dir, themes_dir=ROOT / "themes", secret_key=KEY,
                    admin_origin="http://admin.localhost", site_url=lambda slug: f"http://{slug}.localhost",
                    webhook_allow=allow)


def raw_endpoint(conn, url: str, events=("order.paid",)) -> int:
    """An endpoint written straight to the table: what a saved name that later resolves elsewhere gives."""
    with conn:
        return conn.execute("INSERT INTO webhook_endpoints (url, events, secret, created_at) VALUES (?, ?, ?, ?)",
                            (url, json.dumps(list(events)), "whsec_test", "2026-01-01T00:00:00+00:00")).lastrowid


def record(conn, kind="order.paid", data=PAID) -> int:
    with conn:
        return outbox.record(conn, kind, data)


def run_until(notify: Notifier, conn, start: datetime, stop, limit: int = 40) -> datetime:
    """Run the job at each retry's due time (the job runner's schedule, without the waiting)."""
    moment = start
    for _ in range(limit):
        report = notify.run("bakery", now=moment)
        if stop() or report.retry_at is None:
            return moment
        moment = max(report.retry_at, moment + timedelta(seconds=1))
    raise AssertionError("never stopped")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try_signed(site, receiver):
    data_dir, conn = site
    hook = receiver([500, 502, 200])
    endpoint, secret = webhooks.add(conn, hook.url, ["order.paid"], "books", "owner@shop.test", secret_key=KEY,
                                    allow=LOOPBACK)
    stored = conn.execute("SELECT secret FROM webhook_endpoints WHERE id = ?", (endpoint["id"],)).fetchone()[0]
    assert secret not in stored and secret[-4:] in endpoint["secret_hint"]  # sealed in the database
    record(conn)
    notify, start = notifier(data_dir), now()
    assert notify.run("bakery", now=start).sent == 0
    assert notify.run("bakery", now=start + timedelta(seconds=15)).sent == 0  # not due yet: backoff
    assert len(hook.requests) == 1
    assert notify.run("bakery", now=start + timedelta(seconds=31)).sent == 0
    assert notify.run("bakery", now=start + timedelta(seconds=31 + 121)).sent == 1
    assert notify.run("bakery", now=start + timedelta(hours=1)).sent == 0  # delivered once, never again

    assert len(hook.requests) == 3
    last = hook.requests[-1]
    headers = last["headers"]
    assert webhooks.verify(secret, headers["Tessera-Signature"], last["body"])
    assert headers["Tessera-Event"] == "order.paid" and headers["User-Agent"] == "Tessera-Webhooks/1"
    assert headers["Content-Type"] == "application/json" and last["path"] == "/hooks/tessera"
    assert {r["headers"]["Tessera-Delivery"] for r in hook.requests} == {headers["Tessera-Delivery"]}
    body = json.loads(last["body"])
    assert body["id"] == headers["Tessera-Delivery"] and body["type"] == "order.paid" and body["tenant"] == "bakery"
    assert body["data"] == PAID and body["created_at"]
    assert secret not in last["body"].decode() and secret.startswith("whsec_")

    log = webhooks.deliveries(conn, endpoint["id"])
    assert [(d["status"], d["attempts"], d["status_code"]) for d in log] == [("sent", 3, 200)]
    assert log[0]["delivery"] == headers["Tessera-Delivery"] and log[0]["duration_ms"] >= 0
    tries = outbox.attempts(conn, outbox.listing(conn, channel="webhook")[0].id)
    assert [(t["ok"], t["status_code"]) for t in tries] == [(False, 500), (False, 502), (True, 200)]
    assert "answered 500" in tries[0]["error"]
    assert webhooks.get(conn, endpoint["id"])["failures"] == 0


def test_forged_tampered_and_late_signatures_fail_the_documented_check():
    body = b'{"id":"dlv_1","type":"order.paid"}'
    stamp = int(time.time())
    good = webhooks.sign("whsec_right", stamp, body)
    assert good.startswith(f"t={stamp},v1=") and len(good.partition("v1=")[2]) == 64
    assert webhooks.verify("whsec_right", good, body)
    assert webhooks.verify("whsec_right", good, body.decode())  # a str body is its UTF-8 bytes
    assert not webhooks.verify("whsec_wrong", good, body)  # forged with another key
    assert not webhooks.verify("whsec_right", good, body.replace(b"paid", b"refunded"))  # tampered
    assert not webhooks.verify("whsec_right", good.replace(f"t={stamp}", f"t={stamp + 1}"), body)
    late = webhooks.sign("whsec_right", stamp - 301, body)
    assert not webhooks.verify("whsec_right", late, body)  # replayed after the tolerance
    assert webhooks.verify("whsec_right", late, body, tolerance=600)
    assert not webhooks.verify("whsec_right", webhooks.sign("whsec_right", stamp + 3600, body), body)
    for garbage in ("", "v1=abc", f"t={stamp}", "t=x,v1=" + "0" * 64, None):
        assert not webhooks.verify("whsec_right", garbage, body)  # type: ignore[arg-type]
    rotated = f"t={stamp},v1={'0' * 64},{good.partition(',')[2]}"
    assert webhooks.verify("whsec_right", rotated, body)  # any one matching v1 will do


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.0.1", "169.254.169.254",
                                  "100.64.0.1", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]", "[fd00::1]", "[fe80::1]",
                                  "2130706433", "localhost", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[fec0::1]"])
def test_an_endpoint_inside_the_network_is_refused_at_delivery(site, host):
    data_dir, conn = site
    endpoint = raw_endpoint(conn, f"https://{host}:9/hook")
    record(conn)
    started = time.monotonic()
    notifier(data_dir, allow=()).run("bakery", now=now())
    assert time.monotonic() - started < 5  # refused before any connection was tried
    [delivery] = webhooks.deliveries(conn, endpoint)
    assert delivery["status"] == "pending" and delivery["status_code"] is None
    assert delivery["error"].startswith("refused:") and "TESSERA_WEBHOOK_ALLOW" in delivery["error"]


def test_a_name_resolving_inside_the_network_is_delivered_only_where_the_operator_allows(site, receiver):
    data_dir, conn = site
    hook = receiver([204])
    endpoint = raw_endpoint(conn, f"http://localhost:{hook.port}/in")  # localhost: ::1 and 127.0.0.1
    record(conn)
    notifier(data_dir, allow=("10.0.0.0/8",)).run("bakery", now=now())
    assert hook.requests == [] and "localhost resolves to" in webhooks.deliveries(conn, endpoint)[0]["error"]
    notifier(data_dir).run("bakery", now=now() + timedelta(minutes=1))
    assert len(hook.requests) == 1 and hook.requests[0]["headers"]["Host"] == f"localhost:{hook.port}"
    assert webhooks.deliveries(conn, endpoint)[0]["status"] == "sent"


def test_a_redirect_is_not_followed(site, receiver):
    data_dir, conn = site
    elsewhere = receiver([200])
    hook = receiver([302], {"Location": elsewhere.url})
    endpoint = raw_endpoint(conn, hook.url)
    record(conn)
    notifier(data_dir).run("bakery", now=now())
    assert len(hook.requests) == 1 and elsewhere.requests == []
    [delivery] = webhooks.deliveries(conn, endpoint)
    assert delivery["status_code"] == 302 and "redirects are not followed" in delivery["error"]
    assert elsewhere.url in delivery["error"]


def test_plain_http_to_a_public_address_is_refused(site):
    data_dir, conn = site
    endpoint = raw_endpoint(conn, "http://93.184.215.14/hook")  # public, but the signature would travel in clear
    record(conn)
    notifier(data_dir).run("bakery", now=now())
    assert webhooks.deliveries(conn, endpoint)[0]["error"].startswith("refused: plain http")


def disabled_events(conn) -> list[dict]:
    return [json.loads(r["data"]) for r in conn.execute("SELECT data FROM events WHERE kind = 'webhook.disabled'")]


def test_an_endpoint_failing_for_a_day_is_turned_off_once_and_its_owners_told(site, receiver):
    data_dir, conn = site
    hook = receiver([500])
    endpoint, _ = webhooks.add(conn, hook.url, ["*"], secret_key=KEY, allow=LOOPBACK)
    record(conn)
    notify = notifier(data_dir)
    start = now()
    run_until(notify, conn, start, lambda: outbox.listing(conn, channel="webhook")[0].attempts == 11)
    assert webhooks.get(conn, endpoint["id"])["enabled"] and webhooks.get(conn, endpoint["id"])["failures"] == 11
    record(conn, "stock.low", {"sku": "RYE-1", "available": 1})  # due with the first one's last try
    last_try = datetime.fromisoformat(outbox.listing(conn, channel="webhook")[0].next_attempt_at)
    notify.run("bakery", now=last_try)
    state = webhooks.get(conn, endpoint["id"])
    assert not state["enabled"] and "for a day" in state["disabled_reason"] and "answered 500" in state["disabled_reason"]
    run_until(notify, conn, start + timedelta(days=2), lambda: False)
    log = webhooks.deliveries(conn, endpoint["id"])
    assert [(d["event"], d["status"]) for d in log] == [("stock.low", "failed"), ("order.paid", "failed")]
    assert "turned off" in log[0]["error"]  # given up at once, quietly
    assert len(hook.requests) == 12  # a day of retries on the outbox's schedule
    assert disabled_events(conn) == [{"webhook": {"id": endpoint["id"], "url": hook.url,
                                                  "reason": state["disabled_reason"]}}]
    tried = len(hook.requests)
    record(conn)
    notify.run("bakery", now=start + timedelta(days=3))
    assert len(hook.requests) == tried  # nothing more goes to an endpoint that is off

    webhooks.send_test(conn, endpoint["id"])  # a test still reaches it: is it back?
    hook.statuses = [200]
    notify.run("bakery", now=start + timedelta(days=3, seconds=1))
    assert json.loads(hook.requests[-1]["body"])["type"] == "webhook.test"
    assert json.loads(hook.requests[-1]["body"])["data"] == {"endpoint_id": endpoint["id"]}
    assert not webhooks.get(conn, endpoint["id"])["enabled"]  # turning it on is the owner's choice
    assert webhooks.enable(conn, endpoint["id"])["enabled"] and len(disabled_events(conn)) == 1


def test_many_failures_in_a_row_for_an_hour_turn_an_endpoint_off_sooner(site, receiver):
    data_dir, conn = site
    hook = receiver([503])
    endpoint, _ = webhooks.add(conn, hook.url, ["order.paid"], secret_key=KEY, allow=LOOPBACK)
    for _ in range(webhooks.FAILURE_LIMIT):
        record(conn)
    notify, start = notifier(data_dir), now()
    notify.run("bakery", now=start)
    assert webhooks.get(conn, endpoint["id"])["enabled"]  # many failures, but only just now: a blip
    # One try per run while the endpoint fails (its other deliveries wait): many short runs.
    stopped = run_until(notify, conn, start, lambda: not webhooks.get(conn, endpoint["id"])["enabled"], limit=400)
    assert timedelta(hours=1) <= stopped - start < timedelta(hours=3)
    assert "in a row" in webhooks.get(conn, endpoint["id"])["disabled_reason"] and len(disabled_events(conn)) == 1


def test_a_removed_endpoint_gets_nothing_more(site, receiver):
    data_dir, conn = site
    hook = receiver([500])
    endpoint, _ = webhooks.add(conn, hook.url, ["order.paid"], secret_key=KEY, allow=LOOPBACK)
    record(conn)
    notify, start = notifier(data_dir), now()
    notify.run("bakery", now=start)
    webhooks.remove(conn, endpoint["id"])
    notify.run("bakery", now=start + timedelta(minutes=5))
    assert len(hook.requests) == 1
    [delivery] = outbox.listing(conn, channel="webhook")
    assert delivery.status == "failed" and "removed" in delivery.last_error


def test_removing_an_endpoint_gives_up_its_waiting_deliveries_and_its_id_is_never_used_again(site, receiver):
    data_dir, conn = site
    old = receiver([500])
    first, _ = webhooks.add(conn, old.url, ["order.paid"], secret_key=KEY, allow=LOOPBACK)
    record(conn)
    notify, start = notifier(data_dir), now()
    notify.run("bakery", now=start)  # one failed try, a retry waiting
    webhooks.remove(conn, first["id"])
    assert outbox.listing(conn, channel="webhook")[0].status == "failed"  # at once, not at its next turn
    new = receiver([200])
    second, _ = webhooks.add(conn, new.url, ["stock.low"], secret_key=KEY, allow=LOOPBACK)
    assert second["id"] > first["id"]
    notify.run("bakery", now=start + timedelta(hours=1))
    assert new.requests == [] and webhooks.deliveries(conn, second["id"]) == []


def test_one_test_event_at_a_time_and_an_endpoints_answer_is_shown_without_control_characters(site, receiver):
    data_dir, conn = site
    hook = receiver([302], headers={"Location": "https://evil.example/\x1b]8;;https://x/\x1b\\CLICK"})
    endpoint, _ = webhooks.add(conn, hook.url, ["order.paid"], secret_key=KEY, allow=LOOPBACK)
    webhooks.send_test(conn, endpoint["id"])
    with pytest.raises(Conflict):
        webhooks.send_test(conn, endpoint["id"])  # still on its way
    notifier(data_dir).run("bakery", now=now())
    [delivery] = webhooks.deliveries(conn, endpoint["id"])
    assert "redirect" in delivery["error"] and "\x1b" not in delivery["error"]
    assert webhooks.printable("a\x1b[31mb\nc\x07") == "a [31mb c "


def test_an_endpoint_that_fails_waits_while_its_other_deliveries_are_left_for_later(site, receiver):
    data_dir, conn = site
    hook = receiver([500])
    webhooks.add(conn, hook.url, ["order.paid"], secret_key=KEY, allow=LOOPBACK)
    for _ in range(5):
        record(conn)
    notifier(data_dir).run("bakery", now=now())
    assert len(hook.requests) == 1  # one failure, and the other four wait for the back-off
    waiting = outbox.listing(conn, channel="webhook")
    assert sorted(d.attempts for d in waiting) == [0, 0, 0, 0, 1] and all(d.status == "pending" for d in waiting)


@pytest.mark.parametrize("url,message", [
    ("ftp://example.com/x", "https://"),
    ("http://example.com/hook", "https://"),
    ("https://user:pw@example.com/hook", "user name or password"),
    ("https://127.0.0.1/hook", "loopback"),
    ("https://10.0.0.8/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "metadata"),
    ("https://[::1]/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
    ("https://shop.localhost/hook", "loopback"),
    ("https://0x7f.1/hook", "loopback"),
    ("https://example.com/" + "a" * 2000, "2000"),
    ("https://exa mple.com/", "spaces"),
    ("", "address"),
    ("https://example.com/#frag", "fragment"),
])
def test_a_bad_url_is_refused_when_saved(site, url, message):
    _, conn = site
    with pytest.raises(BadRequest) as refused:
        webhooks.add(conn, url, ["order.paid"], secret_key=KEY)
    assert refused.value.field == "url" and message in refused.value.message


def test_events_and_limits_when_saved(site):
    _, conn = site
    with pytest.raises(BadRequest, match="events"):
        webhooks.add(conn, "https://example.com/h", [], secret_key=KEY)
    with pytest.raises(BadRequest, match="webhook.disabled"):
        webhooks.add(conn, "https://example.com/h", ["webhook.disabled"], secret_key=KEY)
    endpoint, secret = webhooks.add(conn, "https://example.com/h", ["order.paid", "order.placed", "order.paid"],
                                    secret_key=KEY)
    assert endpoint["events"] == ["order.placed", "order.paid"]
    assert webhooks.add(conn, "https://example.com/h", ["order.paid", "*"], secret_key=KEY)[0]["events"] == ["*"]
    assert webhooks.add(conn, "http://127.0.0.1:9/h", ["*"], secret_key=KEY, allow=LOOPBACK)[0]["url"] == "http://127.0.0.1:9/h"
    listed = json.dumps(webhooks.list_endpoints(conn), ensure_ascii=False)
    assert secret not in listed and f"whsec_…{secret[-4:]}" in listed
    for _ in range(webhooks.MAX_ENDPOINTS - 3):
        webhooks.add(conn, "https://example.com/h", ["*"], secret_key=KEY)
    with pytest.raises(Conflict, match="at most 10"):
        webhooks.add(conn, "https://example.com/h", ["*"], secret_key=KEY)


def test_the_documented_check_accepts_our_signatures_and_refuses_forgeries():
    import re

    text = (ROOT / "docs" / "webhooks.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 (the documentation's own code, run as a receiver would)
    documented = namespace["verify"]
    body = b'{"id":"dlv_1","type":"order.paid","data":{}}'
    header = webhooks.sign("whsec_abc", int(time.time()), body)
    assert documented("whsec_abc", header, body)
    assert not documented("whsec_other", header, body)
    assert not documented("whsec_abc", webhooks.sign("whsec_abc", int(time.time()) - 301, body), body)
    for name in ("Tessera-Signature", "Tessera-Delivery", "Tessera-Event", webhooks.USER_AGENT):
        assert name in text


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_deadline():
    import socket

    from commerce_api.notify import safe_http

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def drip() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.2):  # a header byte now and then: each read alone would never time out
                conn.sendall(b"X")
        except OSError:
            pass
        finally:
            conn.close()

    threading.Thread(target=drip, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            safe_http.post(f"http://127.0.0.1:{server.getsockname()[1]}/", b"{}", {}, allow=LOOPBACK, timeout=1.0)
        assert time.monotonic() - started < 3
    finally:
        stop.set()
        server.close()


def test_a_secret_sealed_under_another_platform_key_is_not_sent_and_says_why(site, receiver):
    data_dir, conn = site
    hook = receiver([200])
    endpoint, _ = webhooks.add(conn, hook.url, ["order.paid"], secret_key="another key" * 4, allow=LOOPBACK)
    record(conn)
    notifier(data_dir).run("bakery")
    [delivery] = webhooks.deliveries(conn, endpoint["id"])
    assert hook.requests == [] and "sealed with another TESSERA_SECRET_KEY" in delivery["error"]


def test_a_plan_without_webhooks_sends_nothing_and_keeps_the_endpoint(site, receiver):
    from content import plans
    from content.registry import Registry

    data_dir, conn = site
    hook = receiver([200, 200])
    webhooks.add(conn, hook.url, ["order.paid"], secret_key=KEY, allow=LOOPBACK)
    registry = Registry(data_dir / "platform.db")
    starter = plans.get_plan(registry, "starter")
    plans.update_plan(registry, "starter", title=starter.title, features=starter.features - {"webhooks"},
                      limits=starter.limits, actor=None)
    record(conn)
    notify, start = notifier(data_dir), now()
    notify.run("bakery", now=start)
    notify.run("bakery", now=start + timedelta(minutes=5))
    assert hook.requests == [] and outbox.listing(conn, channel="webhook") == []
    assert len(webhooks.list_endpoints(conn)) == 1  # the endpoint is kept
    plans.update_plan(registry, "starter", title=starter.title, features=starter.features,
                      limits=starter.limits, actor=None)
    record(conn)
    notify.run("bakery", now=start + timedelta(minutes=6))
    assert len(hook.requests) == 1  # back in the plan: the next event is delivered
    registry.close()
