"""Billing's one service: a tenant's subscription row, applying Stripe's current view of a subscription
to it (the state machine's decision carried out), and the daily sweep.

Applying is idempotent: every step compares with what is already there, so the same subscription
applied twice (a replayed event, the sweep after an event) changes nothing the second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from content import plans
from content.registry import Registry, Tenant, now_iso

from ..audit import Audit
from ..platform import PlatformDB
from . import states
from .errors import BillingError
from .stripe_billing import StripeBilling

_PRICE = re.compile(r"^[A-Za-z0-9_]{3,200}$")


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else None


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def from_epoch(value: object) -> datetime | None:
    return datetime.fromtimestamp(int(value), timezone.utc) if isinstance(value, (int, float)) and value else None


def day(moment: datetime | str | None) -> str:
    """A date as people read it: 3 Dec 2026."""
    moment = from_iso(moment) if isinstance(moment, str) else moment
    return moment.astimezone(timezone.utc).strftime("%-d %b %Y") if moment else ""


def period_end(subscription: dict) -> datetime | None:
    """The end of the period paid for (on the subscription in our pinned API version, on its item in later ones)."""
    found = subscription.get("current_period_end")
    if not found:
        items = (subscription.get("items") or {}).get("data") or [{}]
        found = items[0].get("current_period_end")
    return from_epoch(found)


@dataclass
class Billing:
    db: PlatformDB
    stripe: StripeBilling
    grace_days: int = 7
    trial_days: int = 14
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    @classmethod
    def from_config(cls, config, db: PlatformDB) -> Billing | None:
        """The service, or None when the operator has not turned billing on."""
        if not config.billing:
            return None
        return cls(db, StripeBilling(config.billing_stripe_key, config.billing_webhook_secret, config.stripe_api_base),
                   config.billing_grace_days, config.billing_trial_days)

    @property
    def registry(self) -> Registry:
        return self.db.registry

    @property
    def audit(self) -> Audit:
        return Audit(self.db)

    # -- rows ----------------------------------------------------------------------------------

    def row(self, tenant: Tenant) -> dict | None:
        found = self.registry.conn.execute("SELECT * FROM subscriptions WHERE tenant_id = ?", (tenant.id,)).fetchone()
        return dict(found) if found else None

    def status(self, tenant: Tenant) -> dict | None:
        """What the admin and the CLI show: the row with dates people read and the date a past-due site
        will be suspended; None for a site never billed."""
        row = self.row(tenant)
        if row is None:
            return None
        since = from_iso(row["past_due_since"])
        pending = plans.get_plan(self.registry, row["pending_plan"]) if row["pending_plan"] else None
        return {**row, "suspend_on": iso(states.suspend_on(since, self.grace_days)) if since else None,
                "pending_title": pending.title if pending else None}

    def _save(self, tenant: Tenant, **values: object) -> None:
        values["updated_at"] = now_iso()
        with self.registry.conn as conn:
            if self.row(tenant) is None:
                columns = ["tenant_id", *values]
                conn.execute(f"INSERT INTO subscriptions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             (tenant.id, *values.values()))
            else:
                assignments = ", ".join(f"{column} = ?" for column in values)
                conn.execute(f"UPDATE subscriptions SET {assignments} WHERE tenant_id = ?", (*values.values(), tenant.id))

    def tenant_of(self, subscription: dict) -> Tenant | None:
        """The site a Stripe subscription bills: by our row, else by the slug in its metadata (an event can
        arrive before the row that our own create wrote, if that write was lost)."""
        found = self.registry.conn.execute("SELECT tenant_id FROM subscriptions WHERE subscription_id = ?",
                                           (subscription["id"],)).fetchone()
        if found:
            return self.registry.by_id(found["tenant_id"])
        slug = (subscription.get("metadata") or {}).get("tenant")
        return self.registry.find(slug) if slug else None

    # -- plans' prices -------------------------------------------------------------------------

    def set_price(self, plan: str, price: str, *, actor: int | None) -> plans.Plan:
        """The Stripe price (price_...) a plan is billed at; empty makes it free. Audited."""
        before = plans.get_plan(self.registry, plan)
        price = price.strip()
        if price and not _PRICE.match(price):
            raise BillingError(f"{price!r} is not a Stripe price id such as price_1Nf...: copy it from the product's "
                               "page in Stripe", field="stripe_price")
        if (price or None) != before.stripe_price:
            with self.registry.conn as conn:
                conn.execute("UPDATE plans SET stripe_price = ?, updated_at = ? WHERE name = ?", (price or None, now_iso(), plan))
            self.audit.record("plan.price_set", actor=actor, plan=plan, stripe_price=price or None,
                              before=before.stripe_price)
        return plans.get_plan(self.registry, plan)

    def free_plan(self) -> plans.Plan | None:
        return next((p for p in plans.all_plans(self.registry) if p.free), None)

    # -- applying Stripe's view ----------------------------------------------------------------

    def sync(self, subscription_id: str) -> str:
        """Read the subscription from Stripe now and apply it: whatever the event said, its current state."""
        return self.apply(self.stripe.retrieve(subscription_id))

    def apply(self, subscription: dict) -> str:
        now = self.clock()
        tenant = self.tenant_of(subscription)
        if tenant is None:
            return "no site for this subscription"
        row = self.row(tenant)
        if row is not None and row["subscription_id"] not in (None, subscription["id"]):
            return "not the site's current subscription"  # an old one, replaced since: nothing to do
        done = self._pending(tenant, row, now)
        try:
            decision = states.decide(subscription["status"], now, self.grace_days,
                                     past_due_since=from_iso(row["past_due_since"]) if row else None,
                                     suspended_by=_suspended_by(tenant))
        except ValueError as exc:
            return str(exc)
        done += self._carry_out(tenant, decision, row)
        ends = period_end(subscription)
        self._save(tenant, customer_id=subscription.get("customer") or (row or {}).get("customer_id") or "",
                   subscription_id=subscription["id"], state=decision.state, past_due_since=iso(decision.past_due_since),
                   current_period_end=iso(ends), trial_end=iso(from_epoch(subscription.get("trial_end"))),
                   pending_plan=None if decision.to_free else (self.row(tenant) or {}).get("pending_plan"))
        return ", ".join([decision.state, *done])

    def _pending(self, tenant: Tenant, row: dict | None, now: datetime) -> list[str]:
        """A downgrade waiting for the end of the period it was asked in: due now, the site moves. Read
        against the period end we stored when it was asked, before Stripe's next period replaces it."""
        if not row or not row["pending_plan"] or not row["current_period_end"] \
                or now < from_iso(row["current_period_end"]):
            return []
        target = plans.get_plan(self.registry, row["pending_plan"])
        if target.free:
            return []  # a move to a free plan waits for Stripe to end the subscription (to_free)
        self.registry.update(tenant.slug, plan=target.name, note="billing: the downgrade asked for took effect "
                             "at the end of the paid period", via="billing")
        self._save(tenant, pending_plan=None)
        return [f"moved to {target.name}"]

    def _carry_out(self, tenant: Tenant, decision: states.Decision, row: dict | None) -> list[str]:
        done = []
        if decision.resume:
            self.registry.resume(tenant.slug)
            self.audit.record("tenant.resumed", tenant_id=tenant.id, via="billing", reason="the invoice was paid")
            done.append("resumed")
        if decision.suspend:
            reason = f"Payment overdue since {day(decision.past_due_since)}"
            self.registry.suspend(tenant.slug, reason, by="billing")
            self.audit.record("tenant.suspended", tenant_id=tenant.id, via="billing", reason=reason)
            done.append("suspended")
        current = self.registry.get(tenant.slug)
        if decision.tenant_status and not current.suspended and current.status != decision.tenant_status:
            self.registry.update(tenant.slug, status=decision.tenant_status)
            done.append(decision.tenant_status)
        if decision.to_free:
            wanted = (row or {}).get("pending_plan")
            target = plans.get_plan(self.registry, wanted) if wanted else self.free_plan()
            if target is not None and target.free and not plans.get_plan(self.registry, current.plan).free:
                self.registry.update(tenant.slug, plan=target.name, note="billing: the subscription ended",
                                     via="billing")
                done.append(f"moved to {target.name}")
        return done

    def sweep(self) -> list[str]:
        """The daily pass over every subscription not ended: past-due sites beyond the grace are suspended,
        downgrades due are applied, and an event Stripe never delivered is caught up, even when no event
        comes. Stripe is asked first (one read a site a day); when it cannot be, what we stored decides."""
        report = []
        rows = self.registry.conn.execute("SELECT * FROM subscriptions WHERE state != 'canceled' "
                                          "ORDER BY tenant_id").fetchall()
        for row in rows:
            tenant = self.registry.by_id(row["tenant_id"])
            if tenant is None or not row["subscription_id"]:
                continue
            try:
                outcome = self.sync(row["subscription_id"])
            except BillingError:
                outcome = self.apply({"id": row["subscription_id"], "customer": row["customer_id"],
                                      "status": "past_due" if row["state"] == "suspended" else row["state"],
                                      "current_period_end": _epoch(row["current_period_end"]),
                                      "trial_end": _epoch(row["trial_end"])}) + " (Stripe unreachable: stored state)"
            report.append(f"{tenant.slug}: {outcome}")
        return report


def _epoch(value: str | None) -> int | None:
    return int(from_iso(value).timestamp()) if value else None


def _suspended_by(tenant: Tenant) -> str | None:
    """Who holds the site's suspension; one without a record (from before reasons) is the operator's."""
    if not tenant.suspended:
        return None
    return (tenant.suspension or {}).get("by", "operator")
