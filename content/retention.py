"""How long the platform keeps what only matters for a while, and the pruning that enforces it.

Every table that grows with use and is not a record of the business has a retention, in days,
counted from when a row stopped mattering (a job finished, a session expired, a delivery was sent):

    jobs        finished publishes, rollbacks and notify runs (queued and running jobs are never pruned)
    sessions    expired or revoked sessions and refresh tokens, used or expired hand-off codes,
                password-reset links and invitations no longer open; known sign-in addresses past the
                30 days the sign-in limits trust them for
    outbox      events whose every email and webhook delivery is finished, with their attempts
    payments    payment providers' events already applied (a replay older than this is applied
                again only if the provider still sends it: Stripe stops retrying after 3 days)
    audit       the audit log: kept longest, and never shorter than any other retention

Never pruned: orders and everything they refer to, refunds, gift cards and their ledger, stock,
deploys, plan changes, form messages (their people delete them), traffic rollups, and carts
(the sales report counts carts started).

Set with ``TESSERA_RETENTION`` as ``name=days`` pairs, e.g. ``jobs=14,audit=1095``; the others keep
their defaults.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone

from .errors import InvalidValue


KNOWN_ADDRESS_DAYS = 30  # as long as the sign-in limits trust an address (``auth.ratelimit.KNOWN_FOR``)


@dataclass(frozen=True)
class Retention:
    jobs: int = 30
    sessions: int = 30
    outbox: int = 90
    payments: int = 90
    audit: int = 730

    @classmethod
    def parse(cls, text: str) -> Retention:
        """``jobs=14,audit=1095``; an empty text keeps every default."""
        chosen: dict[str, int] = {}
        names = [f.name for f in fields(cls)]
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, days = part.partition("=")
            name = name.strip()
            if name not in names:
                raise InvalidValue("TESSERA_RETENTION", f"{name!r} is not something kept for a while; "
                                                        f"choose from {', '.join(names)}")
            if not days.strip().isdigit() or not 1 <= int(days) <= 36500:
                raise InvalidValue("TESSERA_RETENTION", f"{name}: write a number of days from 1 to 36500, not {days!r}")
            chosen[name] = int(days)
        keep = replace(cls(), **chosen)
        longest = max(getattr(keep, n) for n in names if n != "audit")
        if keep.audit < longest:
            raise InvalidValue("TESSERA_RETENTION", f"the audit log is kept longest: audit={keep.audit} is shorter "
                                                    f"than {longest} days kept elsewhere")
        return keep


def _before(now: datetime, days: int) -> str:
    return (now - timedelta(days=days)).astimezone(timezone.utc).isoformat(timespec="seconds")


def prune_platform(conn: sqlite3.Connection, keep: Retention, now: datetime | None = None) -> dict[str, int]:
    """Delete what ``keep`` no longer covers from ``platform.db``; returns the rows deleted per table."""
    now = now or datetime.now(timezone.utc)
    jobs, sessions, audit = _before(now, keep.jobs), _before(now, keep.sessions), _before(now, keep.audit)
    statements = {
        "jobs": ("DELETE FROM jobs WHERE status IN ('done', 'failed') AND coalesce(finished_at, created_at) < ?", jobs),
        "sessions": ("DELETE FROM sessions WHERE coalesce(revoked_at, expires_at) < ?", sessions),
        "refresh_tokens": ("DELETE FROM refresh_tokens WHERE coalesce(revoked_at, expires_at) < ?", sessions),
        "handoffs": ("DELETE FROM handoffs WHERE coalesce(used_at, expires_at) < ?", sessions),
        "password_resets": ("DELETE FROM password_resets WHERE coalesce(used_at, expires_at) < ?", sessions),
        "invitations": ("DELETE FROM invitations WHERE coalesce(accepted_at, revoked_at, expires_at) < ?", sessions),
        "audit_log": ("DELETE FROM audit_log WHERE at < ?", audit),
    }
    deleted = {}
    with conn:
        for table, (sql, moment) in statements.items():
            deleted[table] = conn.execute(sql, (moment,)).rowcount
        deleted["login_known"] = conn.execute("DELETE FROM login_known WHERE at < ?",
                                              (now.timestamp() - KNOWN_ADDRESS_DAYS * 86400,)).rowcount
    return deleted


def prune_tenant(conn: sqlite3.Connection, keep: Retention, now: datetime | None = None) -> dict[str, int]:
    """Delete what ``keep`` no longer covers from one ``tenant.db``; returns the rows deleted per table."""
    now = now or datetime.now(timezone.utc)
    outbox, payments = _before(now, keep.outbox), _before(now, keep.payments)
    deleted = {}
    with conn:
        # An event goes when it is expanded, old, and none of its deliveries can still be sent.
        done = ("SELECT id FROM events e WHERE expanded_at IS NOT NULL AND created_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'sending'))")
        deleted["delivery_attempts"] = conn.execute(
            f"DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN ({done}))",
            (outbox,)).rowcount
        deleted["deliveries"] = conn.execute(f"DELETE FROM deliveries WHERE event_id IN ({done})", (outbox,)).rowcount
        deleted["events"] = conn.execute(f"DELETE FROM events WHERE id IN ({done})", (outbox,)).rowcount
        deleted["payment_events"] = conn.execute(
            "DELETE FROM payment_events WHERE processed_at IS NOT NULL AND received_at < ?", (payments,)).rowcount
    return deleted
