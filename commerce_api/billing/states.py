"""The subscription state machine as pure functions, no I/O: what Stripe says now (the subscription's
status), what we knew (when it first went past due, how the site is suspended) and the time in, our
state and what to do to the site out. Events may come in any order: only Stripe's *current* status is
read, so the same inputs always give the same answer, and a replay changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

STATES = ("trialing", "active", "past_due", "suspended", "canceled")
# Stripe's statuses by what they mean for the site. "incomplete" is a first invoice not yet paid and
# "unpaid"/"paused" are invoices left unpaid: all are past due; "incomplete_expired" never started.
PAST_DUE = ("past_due", "unpaid", "incomplete", "paused")
CANCELED = ("canceled", "incomplete_expired")


@dataclass(frozen=True)
class Decision:
    state: str  # one of STATES
    past_due_since: datetime | None
    tenant_status: str | None = None  # "trial" or "active" to set, None to leave as it is
    suspend: bool = False  # suspend the site (by billing): past due beyond the grace
    resume: bool = False  # lift the site's suspension (only ever one by billing)
    to_free: bool = False  # the subscription ended: move the site to a free plan


def suspend_on(past_due_since: datetime, grace_days: int) -> datetime:
    """When a site past due since then is suspended."""
    return past_due_since + timedelta(days=grace_days)


def decide(stripe_status: str, now: datetime, grace_days: int, *, past_due_since: datetime | None,
           suspended_by: str | None) -> Decision:
    """Our state for Stripe's ``stripe_status``. ``suspended_by``: "operator", "billing" or None (not
    suspended). An operator's suspension is never lifted here, nor its status touched."""
    billing_hold = suspended_by == "billing"
    operator_hold = suspended_by == "operator"
    if stripe_status in ("trialing", "active"):
        status = None if operator_hold else ("trial" if stripe_status == "trialing" else "active")
        return Decision(stripe_status, None, tenant_status=status, resume=billing_hold)
    if stripe_status in PAST_DUE:
        since = past_due_since or now
        if now >= suspend_on(since, grace_days):
            return Decision("suspended", since, suspend=suspended_by is None)
        return Decision("past_due", since)
    if stripe_status in CANCELED:
        # Nothing is owed any more: the site goes on, on a free plan.
        return Decision("canceled", None, resume=billing_hold, to_free=True)
    raise ValueError(f"unknown Stripe subscription status {stripe_status!r}")
