"""The admin's side of billing (when the operator bills with Stripe): plan changes made on the
operator's pages go through Stripe, the billing state shown to operators and to the site's people,
and the past-due warning on every page of the site's admin. With billing off, none of it shows."""

from __future__ import annotations

from litestar import Request

from content.registry import Tenant

from ..billing import changes
from ..billing.service import Billing, day
from ..security import services_of


def billing_of(request: Request) -> Billing | None:
    services = services_of(request)
    return Billing.from_config(services.config, services.db)


def change_plan(request: Request, slug: str, plan: str, *, actor: int | None, note: str = "") -> str | None:
    """Move the site with Stripe when billing is on (returns what happened); None: billing is off, the
    caller changes the registry as before."""
    billing = billing_of(request)
    if billing is None:
        return None
    tenant = services_of(request).db.registry.get(slug)
    return changes.change_plan(billing, slug, plan, owner_email=changes.owner_email(services_of(request).users, tenant),
                               actor=actor, note=note, via="admin")


def status(request: Request, tenant: Tenant) -> dict | None:
    """The site's subscription as pages show it; None with billing off or a site never billed."""
    billing = billing_of(request)
    return billing.status(tenant) if billing is not None else None


def states(request: Request) -> dict[str, str]:
    """Each billed site's state by slug (for the console); empty with billing off."""
    if billing_of(request) is None:
        return {}
    rows = services_of(request).db.registry.conn.execute(
        "SELECT tenants.slug, subscriptions.state FROM subscriptions JOIN tenants ON tenants.id = subscriptions.tenant_id")
    return {r["slug"]: r["state"] for r in rows}


def notice(request: Request, tenant: Tenant | None) -> str | None:
    """The warning on every admin page of a site whose payment is overdue (and not yet suspended for it)."""
    if tenant is None or not services_of(request).config.billing:
        return None
    row = services_of(request).db.registry.conn.execute(
        "SELECT state, past_due_since FROM subscriptions WHERE tenant_id = ?", (tenant.id,)).fetchone()
    if row is None or row["state"] != "past_due" or not row["past_due_since"]:
        return None
    found = status(request, tenant)
    return (f"Payment is overdue: the site will be suspended on {day(found['suspend_on'])} unless the invoice is paid."
            if found else None)
