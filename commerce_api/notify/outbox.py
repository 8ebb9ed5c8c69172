"""The outbox in ``tenant.db``: what happened, who is to be told, and every attempt to tell them.

``record`` writes an event inside the transaction of the change that caused it, so an order and
its "order placed" event commit together or not at all. The notify job (``deliver.py``) later
expands each new event into deliveries, one per (event, channel, recipient, template), and sends
them. The unique key makes expansion idempotent, and a delivery is claimed before it is sent and
marked sent after, so a replayed webhook, a retried checkout or a second job never sends twice.

    pending ──claim──▶ sending ──▶ sent
       ▲                  │
       └──── retry ───────┤ (an attempt failed: back off, try again until RETRY_FOR has passed)
                          └──▶ failed (given up)
    held: an email with no mail server to send it; kept, listed, sent once a server is set up.

A process killed after claiming leaves a delivery ``sending``; ``recover`` hands it back after
``STUCK_AFTER``. That retry keeps the same Message-ID (email) or delivery id (webhook), so a
receiver that took the first try can tell the second one is the same message.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from content.migrations import immediate

ORDER_EVENTS = ("order.placed", "order.paid", "order.shipped", "order.delivered", "order.cancelled",
                "order.refunded", "order.partially_refunded")
# What a tenant's webhook endpoints may subscribe to.
PUBLIC_EVENTS = (*ORDER_EVENTS, "form.submitted", "stock.low", "publish.failed")
EVENTS = (*PUBLIC_EVENTS, "webhook.disabled", "webhook.test")
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30),
           timedelta(hours=1), timedelta(hours=2), timedelta(hours=4))
RETRY_FOR = timedelta(days=1)
STUCK_AFTER = timedelta(minutes=5)
HELD_FOR = timedelta(days=3)  # held emails older than this wait for someone to press "send"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    subject: str
    data: dict
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        return cls(row["id"], row["kind"], row["subject"], json.loads(row["data"]), row["created_at"])


@dataclass(frozen=True)
class Planned:
    """A delivery to create: an email (recipient is an address) or a webhook (``endpoint:<id>``)."""
    channel: str
    recipient: str
    template: str = ""


@dataclass(frozen=True)
class Delivery:
    id: int
    event: Event
    channel: str
    recipient: str
    template: str
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str
    created_at: str
    sent_at: str | None

    @property
    def endpoint_id(self) -> int | None:
        return int(self.recipient.partition(":")[2]) if self.channel == "webhook" else None


@dataclass(frozen=True)
class Attempt:
    ok: bool
    duration_ms: int
    error: str = ""
    status_code: int | None = None


def record(conn: sqlite3.Connection, kind: str, data: dict, *, subject: str = "") -> int:
    """Write an event; call it inside the transaction of the change it reports."""
    if kind not in EVENTS:
        raise ValueError(f"unknown event kind {kind!r}")
    cursor = conn.execute("INSERT INTO events (kind, subject, data, created_at) VALUES (?, ?, ?, ?)",
                          (kind, str(subject), json.dumps(data, sort_keys=True, default=str), _iso(_now())))
    return cursor.lastrowid  # type: ignore[return-value]


def has_new(conn: sqlite3.Connection) -> bool:
    """Whether some event still waits to be expanded (cheap: a partial index holds only those)."""
    return conn.execute("SELECT 1 FROM events WHERE expanded_at IS NULL LIMIT 1").fetchone() is not None


def new_events(conn: sqlite3.Connection, limit: int = 500) -> list[Event]:
    rows = conn.execute("SELECT * FROM events WHERE expanded_at IS NULL ORDER BY id LIMIT ?", (limit,))
    return [Event.from_row(r) for r in rows]


def expand(conn: sqlite3.Connection, event: Event, planned: list[Planned], *, held: set[str] = frozenset(),
           now: datetime | None = None) -> None:
    """Create the event's deliveries (once: repeats are ignored) and mark it expanded.
    Channels in ``held`` start held (no mail server) instead of pending."""
    stamp = _iso(now or _now())
    with immediate(conn):
        for p in planned:
            conn.execute("INSERT OR IGNORE INTO deliveries (event_id, channel, recipient, template, status, "
                         "next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (event.id, p.channel, p.recipient, p.template,
                          "held" if p.channel in held else "pending", stamp,
                          NO_MAIL_SERVER if p.channel in held else "", stamp))
        conn.execute("UPDATE events SET expanded_at = ? WHERE id = ? AND expanded_at IS NULL", (stamp, event.id))


NO_MAIL_SERVER = "not sent: no mail server (set TESSERA_SMTP_URL)"

_DELIVERY = ("SELECT d.*, e.kind, e.subject, e.data, e.created_at AS event_created_at FROM deliveries d "
             "JOIN events e ON e.id = d.event_id")


def _delivery(row: sqlite3.Row) -> Delivery:
    event = Event(row["event_id"], row["kind"], row["subject"], json.loads(row["data"]), row["event_created_at"])
    return Delivery(row["id"], event, row["channel"], row["recipient"], row["template"], row["status"],
                    row["attempts"], row["next_attempt_at"], row["last_error"], row["created_at"], row["sent_at"])


def due(conn: sqlite3.Connection, *, now: datetime | None = None, mail: bool = True, limit: int = 200) -> list[Delivery]:
    """Deliveries to try now; with a mail server (``mail``), recently held emails too."""
    moment = now or _now()
    sql = _DELIVERY + " WHERE (d.status = 'pending' AND d.next_attempt_at <= ?)"
    params: list = [_iso(moment)]
    if mail:
        sql += " OR (d.status = 'held' AND d.channel = 'email' AND d.created_at >= ?)"
        params.append(_iso(moment - HELD_FOR))
    return [_delivery(r) for r in conn.execute(sql + " ORDER BY d.id LIMIT ?", (*params, limit))]


def get(conn: sqlite3.Connection, delivery_id: int) -> Delivery | None:
    row = conn.execute(_DELIVERY + " WHERE d.id = ?", (delivery_id,)).fetchone()
    return _delivery(row) if row else None


def claim(conn: sqlite3.Connection, delivery: Delivery, *, now: datetime | None = None) -> bool:
    """Take a delivery for sending; False when another job took it first (or it is no longer due)."""
    stamp = _iso(now or _now())
    with immediate(conn):
        cursor = conn.execute("UPDATE deliveries SET status = 'sending', claimed_at = ?, attempts = attempts + 1 "
                              "WHERE id = ? AND status IN ('pending', 'held')", (stamp, delivery.id))
    return cursor.rowcount == 1


def finish(conn: sqlite3.Connection, delivery: Delivery, attempt: Attempt, *, now: datetime | None = None) -> str:
    """Record an attempt and the delivery's next state: sent, pending again (with back-off) or failed.
    Returns that state."""
    moment = now or _now()
    attempts = delivery.attempts + 1  # the claim counted this attempt
    if attempt.ok:
        status, next_at = "sent", moment
    else:
        first = datetime.fromisoformat(delivery.created_at)
        next_at = moment + BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
        status = "failed" if next_at - first > RETRY_FOR else "pending"
    with immediate(conn):
        conn.execute("INSERT INTO delivery_attempts (delivery_id, at, ok, status_code, duration_ms, error) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (delivery.id, _iso(moment), int(attempt.ok), attempt.status_code,
                                                   attempt.duration_ms, attempt.error[:1000]))
        conn.execute("UPDATE deliveries SET status = ?, next_attempt_at = ?, last_error = ?, claimed_at = NULL, "
                     "sent_at = CASE WHEN ? THEN ? ELSE sent_at END WHERE id = ?",
                     (status, _iso(next_at), "" if attempt.ok else attempt.error[:1000], int(attempt.ok),
                      _iso(moment), delivery.id))
    return status


def hold(conn: sqlite3.Connection, delivery: Delivery, reason: str = NO_MAIL_SERVER) -> None:
    """An email that cannot go yet (no mail server): kept, listed, and not counted as an attempt."""
    with conn:
        conn.execute("UPDATE deliveries SET status = 'held', last_error = ?, claimed_at = NULL, "
                     "attempts = MAX(attempts - 1, 0) WHERE id = ?", (reason, delivery.id))


def defer(conn: sqlite3.Connection, delivery: Delivery, wait: timedelta, *, now: datetime | None = None) -> None:
    """Leave a due delivery for later without trying it (its endpoint just failed in this run)."""
    with conn:
        conn.execute("UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND status = 'pending'",
                     (_iso((now or _now()) + wait), delivery.id))


def give_up(conn: sqlite3.Connection, delivery: Delivery, reason: str) -> None:
    """A delivery that can never succeed (its endpoint was removed, its order is gone)."""
    with conn:
        conn.execute("UPDATE deliveries SET status = 'failed', last_error = ?, claimed_at = NULL WHERE id = ?",
                     (reason, delivery.id))


def recover(conn: sqlite3.Connection, *, now: datetime | None = None) -> int:
    """Hand back deliveries a dead process left ``sending``; returns how many."""
    cutoff = _iso((now or _now()) - STUCK_AFTER)
    with immediate(conn):
        cursor = conn.execute("UPDATE deliveries SET status = 'pending', claimed_at = NULL "
                              "WHERE status = 'sending' AND claimed_at < ?", (cutoff,))
    return cursor.rowcount


def resend(conn: sqlite3.Connection, delivery_id: int, *, now: datetime | None = None) -> bool:
    """Someone pressed "send again" on a held or failed delivery: try it at the next run."""
    with immediate(conn):
        cursor = conn.execute("UPDATE deliveries SET status = 'pending', next_attempt_at = ?, created_at = ? "
                              "WHERE id = ? AND status IN ('held', 'failed')",
                              (_iso(now or _now()), _iso(now or _now()), delivery_id))
    return cursor.rowcount == 1


def next_due(conn: sqlite3.Connection) -> datetime | None:
    """When the next retry is due (None: nothing waits)."""
    row = conn.execute("SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'sending')").fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def listing(conn: sqlite3.Connection, *, status: str | None = None, channel: str | None = None,
            limit: int = 100, offset: int = 0) -> list[Delivery]:
    where, params = [], []
    if status:
        where.append("d.status = ?")
        params.append(status)
    if channel:
        where.append("d.channel = ?")
        params.append(channel)
    sql = _DELIVERY + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY d.id DESC LIMIT ? OFFSET ?"
    return [_delivery(r) for r in conn.execute(sql, (*params, limit, offset))]


def attempts(conn: sqlite3.Connection, delivery_id: int) -> list[dict]:
    rows = conn.execute("SELECT at, ok, status_code, duration_ms, error FROM delivery_attempts "
                        "WHERE delivery_id = ? ORDER BY id", (delivery_id,))
    return [{**dict(r), "ok": bool(r["ok"])} for r in rows]


def counts(conn: sqlite3.Connection, *, channel: str | None = None) -> dict[str, int]:
    rows = conn.execute("SELECT status, COUNT(*) AS n FROM deliveries WHERE ? IS NULL OR channel = ? GROUP BY status",
                        (channel, channel))
    return {r["status"]: r["n"] for r in rows}
