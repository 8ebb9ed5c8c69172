"""A tenant's webhook endpoints, and sending them events: signed JSON POSTs, retried by the outbox.

Each endpoint has a secret (shown once when it is added) that signs every delivery, so a receiver
can tell a request really came from this site and is not a replay (``verify``, docs/webhooks.md).
An endpoint that keeps failing is turned off, and its owners are told (a ``webhook.disabled``
event). Nothing here may put an endpoint's secret in a log, an error or a listing.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import sqlite3
import ssl
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from content.migrations import immediate

from ..errors import BadRequest, Conflict, NotFound
from ..sealing import InvalidToken, seal, unseal
from . import outbox, safe_http

log = logging.getLogger("tessera.webhooks")

MAX_ENDPOINTS = 10
MAX_URL = 2000
TIMEOUT = 10.0  # seconds, for the whole exchange
TOLERANCE = 300  # seconds a receiver should accept a signature's timestamp from its own clock
# An endpoint is turned off when one delivery has failed for outbox.RETRY_FOR (a day), or sooner
# when it has failed this many attempts in a row for at least this long (a busy shop, a dead URL).
FAILURE_LIMIT = 20
FAILING_FOR = timedelta(hours=1)
USER_AGENT = "Tessera-Webhooks/1"


# -- endpoints ------------------------------------------------------------------------------------


SEALED = b"tessera webhook secrets"


def _stored(secret_key: str, secret: str) -> str:
    """What the database keeps: the secret sealed with the platform's key, after its last four
    characters (the hint listings show)."""
    return f"sealed:{secret[-4:]}:{seal(secret_key, SEALED, secret)}"


def _secret(secret_key: str, stored: str) -> str:
    """The signing secret back from the database; raises ``InvalidToken`` under another platform key."""
    return unseal(secret_key, SEALED, stored.split(":", 2)[2]) if stored.startswith("sealed:") else stored


def _hint(stored: str) -> str:
    return stored.split(":", 2)[1] if stored.startswith("sealed:") else stored[-4:]


def _public(row: sqlite3.Row) -> dict[str, Any]:
    """An endpoint as listings show it: the secret only as a hint to tell two apart."""
    return {"id": row["id"], "url": row["url"], "events": json.loads(row["events"]), "description": row["description"],
            "enabled": bool(row["enabled"]), "disabled_reason": row["disabled_reason"], "failures": row["failures"],
            "created_at": row["created_at"], "created_by": row["created_by"],
            "secret_hint": f"whsec_…{_hint(row['secret'])}"}


def _row(conn: sqlite3.Connection, endpoint_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM webhook_endpoints WHERE id = ?", (endpoint_id,)).fetchone()


def list_endpoints(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [_public(r) for r in conn.execute("SELECT * FROM webhook_endpoints ORDER BY id")]


def get(conn: sqlite3.Connection, endpoint_id: int) -> dict[str, Any]:
    row = _row(conn, endpoint_id)
    if row is None:
        raise NotFound(f"there is no webhook endpoint {endpoint_id} on this site", field="id")
    return _public(row)


def add(conn: sqlite3.Connection, url: str, events: list[str], description: str = "", actor: str = "", *,
        secret_key: str, allow: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """Add an endpoint; returns it and its signing secret, which is never shown again (the database
    keeps it sealed with ``secret_key``, the platform's)."""
    url, events, description = valid_url(url, allow), valid_events(events), valid_description(description)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with immediate(conn):
        count = conn.execute("SELECT COUNT(*) FROM webhook_endpoints").fetchone()[0]
        if count >= MAX_ENDPOINTS:
            raise Conflict(f"a site has at most {MAX_ENDPOINTS} webhook endpoints: remove one first",
                           code="too_many_endpoints")
        # Ids only ever grow (a counter in meta, past every id used): deliveries name their endpoint
        # by id, so a removed endpoint's id must never be given to a new one.
        last = conn.execute("SELECT value FROM meta WHERE key = 'webhook_endpoint_id'").fetchone()
        used = conn.execute("SELECT MAX(CAST(substr(recipient, 10) AS INTEGER)) FROM deliveries "
                            "WHERE channel = 'webhook'").fetchone()[0]
        new_id = max(int(last[0]) if last else 0, used or 0,
                     conn.execute("SELECT COALESCE(MAX(id), 0) FROM webhook_endpoints").fetchone()[0]) + 1
        conn.execute("INSERT INTO meta (key, value) VALUES ('webhook_endpoint_id', ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(new_id),))
        cursor = conn.execute("INSERT INTO webhook_endpoints (id, url, events, secret, description, created_at, "
                              "created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (new_id, url, json.dumps(events), _stored(secret_key, secret), description,
                               _iso(_now()), actor))
    return get(conn, cursor.lastrowid), secret  # type: ignore[arg-type]


def remove(conn: sqlite3.Connection, endpoint_id: int) -> dict[str, Any]:
    """Remove an endpoint and give up its deliveries still waiting, at once. Endpoint ids are never
    used again (see ``add``), so nothing meant for this one can ever reach another."""
    endpoint = get(conn, endpoint_id)
    with immediate(conn):
        conn.execute("DELETE FROM webhook_endpoints WHERE id = ?", (endpoint_id,))
        conn.execute("UPDATE deliveries SET status = 'failed', last_error = 'not sent: the endpoint was removed', "
                     "claimed_at = NULL WHERE channel = 'webhook' AND recipient = ? AND status IN ('pending', 'held')",
                     (f"endpoint:{endpoint_id}",))
    return endpoint


def enable(conn: sqlite3.Connection, endpoint_id: int) -> dict[str, Any]:
    """Turn an endpoint on again, with a clean failure count."""
    get(conn, endpoint_id)
    with conn:
        conn.execute("UPDATE webhook_endpoints SET enabled = 1, disabled_reason = '', failures = 0 WHERE id = ?",
                     (endpoint_id,))
    return get(conn, endpoint_id)


def send_test(conn: sqlite3.Connection, endpoint_id: int) -> int:
    """Queue a ``webhook.test`` event for one endpoint (on or off); returns the event's id. One at a
    time: a test still on its way is a 409, so test events cannot pile up in the notify lane."""
    get(conn, endpoint_id)
    with immediate(conn):
        waiting = conn.execute(
            "SELECT 1 FROM events e WHERE e.kind = 'webhook.test' AND e.subject = ? AND (e.expanded_at IS NULL OR "
            "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'sending')))",
            (str(endpoint_id),)).fetchone()
        if waiting:
            raise Conflict("a test event for this endpoint is still on its way; see its delivery log",
                           code="test_waiting")
        return outbox.record(conn, "webhook.test", {"endpoint_id": endpoint_id}, subject=str(endpoint_id))


def deliveries(conn: sqlite3.Connection, endpoint_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The endpoint's latest deliveries, newest first, with their last attempt's answer and time."""
    row = _row(conn, endpoint_id)
    if row is None:
        raise NotFound(f"there is no webhook endpoint {endpoint_id} on this site", field="id")
    rows = conn.execute(
        "SELECT d.id, d.status, d.attempts, d.last_error, d.created_at, d.sent_at, d.next_attempt_at, e.kind, "
        "a.status_code, a.duration_ms, a.at AS last_attempt_at FROM deliveries d JOIN events e ON e.id = d.event_id "
        "LEFT JOIN delivery_attempts a ON a.id = (SELECT MAX(id) FROM delivery_attempts WHERE delivery_id = d.id) "
        "WHERE d.channel = 'webhook' AND d.recipient = ? ORDER BY d.id DESC LIMIT ?",
        (f"endpoint:{endpoint_id}", limit))
    return [{"delivery": delivery_id(row["secret"], r["id"]), "event": r["kind"], "status": r["status"],
             "attempts": r["attempts"], "status_code": r["status_code"], "duration_ms": r["duration_ms"],
             "error": r["last_error"], "created_at": r["created_at"], "last_attempt_at": r["last_attempt_at"],
             "next_attempt_at": r["next_attempt_at"] if r["status"] == "pending" else None}
            for r in rows]


# -- what an endpoint may be ----------------------------------------------------------------------


def valid_url(url: object, allow: tuple[str, ...] = ()) -> str:
    """An https address on the public internet (plain http only into a network the operator allowed).

    The real check happens at every delivery, after DNS; this one refuses what is plainly wrong."""
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("url: give the address that should receive the events (https://...)", field="url")
    url = url.strip()
    if len(url) > MAX_URL:
        raise BadRequest(f"url: at most {MAX_URL} characters", field="url")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise BadRequest("url: no spaces or control characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest("url: not a valid address", field="url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadRequest("url: must start with https:// and name a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("url: must not hold a user name or password; the signature proves who is calling",
                         field="url")
    if parts.fragment:
        raise BadRequest("url: must not have a #fragment (it is never sent)", field="url")
    host = parts.hostname
    literal = _literal(host)
    if literal is not None or host == "localhost" or host.endswith(".localhost"):
        # An address typed in (or a name that always means this machine): judged now, not only at delivery.
        try:
            addresses = [literal] if literal is not None else safe_http.resolve(host, port or 443)
        except OSError:
            addresses = [ipaddress.ip_address("127.0.0.1")]
        for ip in addresses:
            reason = safe_http.why_not(ip, allow)  # type: ignore[arg-type]
            if reason:
                raise BadRequest(f"url: {host} is {reason}; endpoints must be on the public internet", field="url")
    if parts.scheme == "http":
        try:
            inside = all(safe_http.allowed(ip, allow) for ip in safe_http.resolve(host, port or 80)) if allow else False
        except OSError:
            inside = False
        if not inside:
            raise BadRequest("url: must start with https:// (plain http only reaches networks the operator allowed)",
                             field="url")
    return url


def _literal(host: str) -> safe_http.IPAddress | None:
    """The address a host names by itself, including forms resolvers also read as addresses
    (``2130706433``, ``0x7f.1``, ``127.1``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if re.fullmatch(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", host, re.IGNORECASE):
        try:
            return ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def valid_events(events: object) -> list[str]:
    """A non-empty list of public event kinds, or ``["*"]`` for all of them (those added later too)."""
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, (list, tuple)) or not events or not all(isinstance(e, str) for e in events):
        raise BadRequest("events: choose at least one event (or \"*\" for every event)", field="events")
    if "*" in events:
        return ["*"]
    unknown = [e for e in events if e not in outbox.PUBLIC_EVENTS]
    if unknown:
        raise BadRequest(f"events: unknown event {unknown[0]!r}; choose from {', '.join(outbox.PUBLIC_EVENTS)} or *",
                         field="events")
    return [e for e in outbox.PUBLIC_EVENTS if e in events]


def valid_description(description: object) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > 200 or any(ord(c) < 32 for c in description):
        raise BadRequest("description: one line of at most 200 characters", field="description")
    return description.strip()


# -- signing --------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """The ``Tessera-Signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={int(timestamp)},v1={mac}"


def verify(secret: str, header: str, body: bytes | str, tolerance: int = TOLERANCE, now: float | None = None) -> bool:
    """What a receiver checks: a ``v1`` signature of this body and timestamp, and a timestamp within
    ``tolerance`` seconds of ``now`` (an old request replayed later fails)."""
    timestamp, signatures = None, []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, s) for s in signatures)


def delivery_id(key: str, delivery: int) -> str:
    """The id a receiver dedupes on: the same on every retry, unique across sites (it is keyed by the
    endpoint's stored secret, so two sites' deliveries number 7 differ), and it reveals nothing."""
    return "dlv_" + hmac.new(key.encode(), f"delivery:{delivery}".encode(), hashlib.sha256).hexdigest()[:24]


def payload(slug: str, delivery: outbox.Delivery, public_id: str) -> dict[str, Any]:
    return {"id": public_id, "type": delivery.event.kind, "created_at": delivery.event.created_at, "tenant": slug,
            "data": delivery.event.data}


# -- delivering -----------------------------------------------------------------------------------


def deliver(conn: sqlite3.Connection, slug: str, delivery: outbox.Delivery, *, secret_key: str,
            allow: tuple[str, ...] = (), now: datetime | None = None) -> outbox.Attempt:
    """POST one delivery to its endpoint; never raises. The signature's timestamp is the real time of
    sending (what a receiver compares with its clock), whatever ``now`` the outbox schedules by."""
    row = _row(conn, delivery.endpoint_id or 0)
    if row is None:
        return outbox.Attempt(False, 0, "not sent: the endpoint was removed")
    if not row["enabled"] and delivery.event.kind != "webhook.test":
        return outbox.Attempt(False, 0, "not sent: the endpoint is turned off")
    try:
        secret = _secret(secret_key, row["secret"])
    except InvalidToken:
        return outbox.Attempt(False, 0, "not sent: the endpoint's secret was sealed with another TESSERA_SECRET_KEY; "
                                        "remove the endpoint and add it again")
    public_id = delivery_id(row["secret"], delivery.id)
    body = json.dumps(payload(slug, delivery, public_id), separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Tessera-Event": delivery.event.kind,
               "Tessera-Delivery": public_id, "Tessera-Signature": sign(secret, int(time.time()), body)}
    started = time.monotonic()
    try:
        answer = safe_http.post(row["url"], body, headers, allow=allow, timeout=TIMEOUT)
    except safe_http.Refused as exc:
        return outbox.Attempt(False, _ms(started), str(exc))
    except TimeoutError:
        return outbox.Attempt(False, _ms(started), f"no answer within {TIMEOUT:g} s")
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return outbox.Attempt(False, _ms(started), f"could not reach {urlsplit(row['url']).hostname}: "
                                                   f"{printable(str(exc))[:300] or type(exc).__name__}")
    except Exception as exc:  # a bug must not stop the other deliveries; the log has the traceback
        log.exception("webhook delivery %s of %s failed", delivery.id, slug)
        return outbox.Attempt(False, _ms(started), f"a problem on the server ({type(exc).__name__})")
    duration = _ms(started)
    if 200 <= answer.status < 300:
        return outbox.Attempt(True, duration, status_code=answer.status)
    if 300 <= answer.status < 400:
        location = printable(answer.location or "")[:200]
        return outbox.Attempt(False, duration, f"the endpoint answered {answer.status}, a redirect"
                                               f"{' to ' + location if location else ''}; redirects "
                                               f"are not followed: give the final address", answer.status)
    snippet = " ".join(printable(answer.body[:300].decode("utf-8", errors="replace")).split())
    return outbox.Attempt(False, duration, f"the endpoint answered {answer.status}{': ' + snippet if snippet else ''}",
                          answer.status)


def after_attempt(conn: sqlite3.Connection, delivery: outbox.Delivery, attempt: outbox.Attempt, *, final: bool,
                  now: datetime | None = None) -> None:
    """Count the endpoint's failures in a row, and turn it off (telling its owners, once) when it has
    failed too long. Deliveries to an endpoint that is gone or off are given up."""
    endpoint_id = delivery.endpoint_id or 0
    row = _row(conn, endpoint_id)
    if row is None:
        outbox.give_up(conn, delivery, "not sent: the endpoint was removed")
        return
    if not row["enabled"] and delivery.event.kind != "webhook.test":
        outbox.give_up(conn, delivery, f"not sent: the endpoint is turned off ({row['disabled_reason'] or 'by hand'})")
        return
    moment = now or _now()
    with immediate(conn):
        if attempt.ok:
            conn.execute("UPDATE webhook_endpoints SET failures = 0 WHERE id = ?", (endpoint_id,))
            return
        conn.execute("UPDATE webhook_endpoints SET failures = failures + 1 WHERE id = ? AND enabled = 1", (endpoint_id,))
        failures = conn.execute("SELECT failures FROM webhook_endpoints WHERE id = ?", (endpoint_id,)).fetchone()[0]
        reason = ""
        if final:
            reason = f"a delivery kept failing for {_span(outbox.RETRY_FOR)} (last: {attempt.error[:300]})"
        elif failures >= FAILURE_LIMIT:
            since = _failing_since(conn, endpoint_id)
            if since is not None and moment - since >= FAILING_FOR:
                reason = f"{failures} attempts in a row failed since {_iso(since)} (last: {attempt.error[:300]})"
        if reason and conn.execute("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ? "
                                   "WHERE id = ? AND enabled = 1", (reason, endpoint_id)).rowcount == 1:
            outbox.record(conn, "webhook.disabled", {"webhook": {"id": endpoint_id, "url": row["url"], "reason": reason}},
                          subject=str(endpoint_id))


def _failing_since(conn: sqlite3.Connection, endpoint_id: int) -> datetime | None:
    """When the endpoint's current run of failures began: its first failed attempt after its last success."""
    recipient = f"endpoint:{endpoint_id}"
    row = conn.execute(
        "SELECT MIN(a.at) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id "
        "WHERE d.channel = 'webhook' AND d.recipient = ? AND a.ok = 0 AND a.at > COALESCE("
        "(SELECT MAX(b.at) FROM delivery_attempts b JOIN deliveries c ON c.id = b.delivery_id "
        " WHERE c.channel = 'webhook' AND c.recipient = ? AND b.ok = 1), '')", (recipient, recipient)).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def printable(text: str) -> str:
    """An endpoint's words as we show them (admin, CLI, logs): no control characters, so no
    terminal escape sequences or forged lines."""
    return "".join(c if c.isprintable() else " " for c in text)


def _span(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return "a day" if hours == 24 else f"{hours} hours"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
