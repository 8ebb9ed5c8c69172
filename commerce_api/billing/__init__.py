"""Billing the tenants for their plans with the operator's own Stripe account (optional, off by default).

- ``stripe_billing``: the package's only ``stripe`` importer (customers, subscriptions, signatures);
- ``states``: Stripe's subscription status → our state and the site's status, pure functions;
- ``events``: the operator's webhook events, stored once by id, then the subscription re-read and applied;
- ``changes``: plan changes with billing on (subscribe, upgrade now, downgrade at the period's end);
- ``store``: the ``subscriptions`` rows.

Nothing here runs unless both TESSERA_BILLING_STRIPE_KEY and TESSERA_BILLING_WEBHOOK_SECRET are set.
"""
