"""``POST /api/billing/webhook``: the operator's own Stripe events about tenants' subscriptions.

Not a tenant's route (tenants' shop webhooks are ``/api/webhooks/stripe/{slug}``): it answers on the
platform's API host, is verified with the operator's signing secret, and is 404 while billing is off.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.params import RawBody

from ..billing import events
from ..billing.service import Billing
from ..errors import NotFound
from ..openapi import errors
from ..security import services_of


@post("/api/billing/webhook", responses=errors(409, body=True), status_code=200,
      opt={"tenant": False}, sync_to_thread=True, tags=["billing"],
      summary="The platform operator's Stripe Billing events (subscriptions and invoices of tenants' plans)")
def billing_webhook(request: Request, body: RawBody) -> dict[str, Any]:
    services = services_of(request)
    billing = Billing.from_config(services.config, services.db)
    if billing is None:
        raise NotFound("billing is off on this platform (TESSERA_BILLING_STRIPE_KEY and "
                       "TESSERA_BILLING_WEBHOOK_SECRET are not set)", code="billing_off")
    event = billing.stripe.verify(body, request.headers.get("stripe-signature"))
    return events.handle(billing, event)
