"""Moving a site between plans while the operator bills with Stripe. Stripe is changed first; only when
it confirmed is anything changed here, so a refusal (Stripe down, no one to bill) leaves both as they were.

- to a paid plan, no live subscription: a customer (the owner's email) and a subscription, with the
  trial for a site never billed before; the site moves at once;
- up (a plan further down the plans page, a higher ``position``): the price changes now, prorated;
- down to a paid plan: the price changes without proration; the site moves at the period's end;
- down to a free plan: the subscription ends at the period's end, and the site moves then.
"""

from __future__ import annotations

from content import plans
from content.registry import Tenant

from .errors import NoBillingContact
from .service import Billing, day, from_epoch, iso, period_end


def change_plan(billing: Billing, slug: str, plan: str, *, owner_email: str | None, actor: int | None,
                note: str = "", via: str = "admin") -> str:
    """Move the site (or schedule its move); returns what happened, in words for the operator."""
    registry = billing.registry
    tenant = registry.get(slug)
    target, current = plans.get_plan(registry, plan), plans.get_plan(registry, tenant.plan)
    row = billing.row(tenant)
    live = row is not None and row["subscription_id"] and row["state"] != "canceled"
    if target.name == current.name:
        if live and row["pending_plan"]:  # staying put calls off a scheduled move
            subscription = billing.stripe.retrieve(row["subscription_id"])
            if current.stripe_price:
                billing.stripe.change_price(subscription, current.stripe_price, prorate=False)
            billing._save(tenant, pending_plan=None)
            return f"{tenant.name} stays on {current.title}; the move planned for the end of the period is called off."
        return f"{tenant.name} stays on {current.title}."
    if not live:
        if target.free:
            _move(registry, tenant, target, actor, note, via)
            return f"{tenant.name} moved to {target.title} (free: no subscription)."
        return _subscribe(billing, tenant, target, owner_email, actor, note, via)
    subscription = billing.stripe.retrieve(row["subscription_id"])
    if target.free:
        updated = billing.stripe.cancel_at_period_end(subscription["id"])
        ends = period_end(updated)
        billing._save(tenant, pending_plan=target.name, current_period_end=iso(ends))
        _audit(billing, tenant, actor, "billing.downgrade_scheduled", target, ends)
        return f"{tenant.name} moves to {target.title} on {day(ends)}, when the paid period ends."
    if target.position > current.position:
        billing.stripe.change_price(subscription, target.stripe_price, prorate=True)
        billing._save(tenant, pending_plan=None)
        _move(registry, tenant, target, actor, note, via)
        return f"{tenant.name} moved up to {target.title} now; Stripe prorates the rest of the period."
    updated = billing.stripe.change_price(subscription, target.stripe_price, prorate=False)
    ends = period_end(updated)
    billing._save(tenant, pending_plan=target.name, current_period_end=iso(ends))
    _audit(billing, tenant, actor, "billing.downgrade_scheduled", target, ends)
    return f"{tenant.name} moves to {target.title} on {day(ends)}, when the paid period ends."


def _subscribe(billing: Billing, tenant: Tenant, target: plans.Plan, owner_email: str | None, actor: int | None,
               note: str, via: str) -> str:
    if not owner_email:
        raise NoBillingContact(f"{tenant.name} has no owner whose email Stripe could bill: give someone the owner "
                               "role first, then move the site to a paid plan", field="plan")
    row = billing.row(tenant)
    trial = billing.trial_days if row is None else 0  # a trial only for a site never billed before
    customer = row["customer_id"] if row and row["customer_id"] else billing.stripe.create_customer(owner_email, tenant.slug)
    subscription = billing.stripe.create_subscription(customer, target.stripe_price, tenant.slug, trial)
    billing._save(tenant, customer_id=customer, subscription_id=subscription["id"],
                  state="trialing" if subscription["status"] == "trialing" else "active", pending_plan=None,
                  past_due_since=None, current_period_end=iso(period_end(subscription)),
                  trial_end=iso(from_epoch(subscription.get("trial_end"))))
    _move(billing.registry, tenant, target, actor, note, via)
    billing.apply(subscription)  # the site's status (trial or active) as Stripe has it
    trial_words = f", on a {trial}-day trial" if subscription["status"] == "trialing" else ""
    return f"{tenant.name} moved to {target.title}; Stripe bills {owner_email}{trial_words}."


def _move(registry, tenant: Tenant, target: plans.Plan, actor: int | None, note: str, via: str) -> None:
    registry.update(tenant.slug, plan=target.name, actor=actor, note=note, via=via)


def _audit(billing: Billing, tenant: Tenant, actor: int | None, event: str, target: plans.Plan, ends) -> None:
    billing.audit.record(event, actor=actor, tenant_id=tenant.id, to=target.name, on=iso(ends))


def owner_email(users, tenant: Tenant) -> str | None:
    """Whom Stripe bills: the site's first owner (by email)."""
    return next((m.user.email for m in users.members(tenant.id) if m.role == "owner"), None)
