"""``tessera billing``: the operator's Stripe billing of tenants' plans (when billing is on)."""

from __future__ import annotations

import click

from .base import Context, console, handle_errors, main, pass_ctx
from .output import column, json_option, show_rows


def billing_of(ctx: Context):
    """The billing service, or a clear refusal while billing is off."""
    from commerce_api.billing.service import Billing

    billing = Billing.from_config(ctx.services.config, ctx.services.db)
    if billing is None:
        raise click.ClickException("billing is off: set TESSERA_BILLING_STRIPE_KEY and TESSERA_BILLING_WEBHOOK_SECRET "
                                   "(see docs/billing.md); plans are assigned by hand meanwhile")
    return billing


@main.group()
def billing() -> None:
    """Bill tenants for their plans with the operator's Stripe account (see docs/billing.md)."""


@billing.command("sweep")
@pass_ctx
@handle_errors
def billing_sweep(ctx: Context) -> None:
    """Suspend sites past due beyond the grace and apply downgrades whose period ended (the server runs
    this daily as a billing.sweep job; run it by hand after an outage)."""
    report = billing_of(ctx).sweep()
    for line in report:
        console.print(line, markup=False)
    console.print(f"Swept {len(report)} subscription(s) that were past due or had a move waiting.")


@billing.command("status")
@click.argument("slug", required=False)
@json_option
@pass_ctx
@handle_errors
def billing_status(ctx: Context, slug: str | None, as_json: bool) -> None:
    """Each site's subscription (or SLUG's alone): state, plan, trial and period end, pending move."""
    registry = ctx.services.db.registry
    tenants = [registry.get(slug)] if slug else registry.all()  # an unknown SLUG is named first
    service = billing_of(ctx)
    rows = []
    for tenant in tenants:
        status = service.status(tenant) or {}
        rows.append({"slug": tenant.slug, "plan": tenant.plan, "site": tenant.status,
                     "state": status.get("state", "not billed"), "trial_end": status.get("trial_end"),
                     "period_end": status.get("current_period_end"), "pending_plan": status.get("pending_plan"),
                     "past_due_since": status.get("past_due_since"), "suspend_on": status.get("suspend_on"),
                     "subscription": status.get("subscription_id")})
    show_rows([column("slug"), column("plan"), column("site"), column("state"), column("trial end", "trial_end", short=10),
               column("period end", "period_end", short=10), column("moves to", "pending_plan"),
               column("past due since", "past_due_since", short=10), column("suspended on", "suspend_on", short=10),
               column("subscription")], rows, as_json=as_json, empty="No tenants yet.")
