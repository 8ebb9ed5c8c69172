"""The operator's Stripe account, through the official library: the only ``stripe`` importer of billing.

Every call passes the operator's key and a pinned API version (in which a subscription carries its own
``current_period_end``). Stripe's answers leave this module as plain dicts; its errors as
``BillingUnavailable``, so a caller never half-applies a change Stripe did not confirm.
"""

from __future__ import annotations

import json

import stripe

from .errors import BadSignature, BillingUnavailable

API_VERSION = "2024-06-20"
SIGNATURE_TOLERANCE = 300  # seconds; older signatures are refused as replays


class StripeBilling:
    def __init__(self, secret_key: str, webhook_secret: str, api_base: str | None = None) -> None:
        self.webhook_secret = webhook_secret
        addresses = {"api": api_base} if api_base else None
        self.client = stripe.StripeClient(secret_key, stripe_version=API_VERSION, base_addresses=addresses,
                                          max_network_retries=1)

    def __repr__(self) -> str:  # never print the keys
        return "StripeBilling()"

    def verify(self, payload: bytes, signature: str | None) -> dict:
        """The event, if Stripe signed it with the operator's signing secret within the tolerance."""
        if not signature:
            raise BadSignature("the Stripe-Signature header is missing: only Stripe may call this webhook",
                               field="Stripe-Signature")
        try:
            text = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(text, signature, self.webhook_secret, SIGNATURE_TOLERANCE)
        except (stripe.SignatureVerificationError, ValueError):
            raise BadSignature("the Stripe-Signature header does not match this webhook's signing secret "
                               "(or the event is too old)", field="Stripe-Signature") from None
        try:
            event = json.loads(text)
        except ValueError:
            return {}
        return event if isinstance(event, dict) else {}  # signed but no event: acknowledged, ignored

    def create_customer(self, email: str, tenant: str) -> str:
        found = self._call("create the customer", self.client.v1.customers.create,
                           params={"email": email, "metadata": {"tenant": tenant}},
                           options={"idempotency_key": f"tessera-billing-customer:{tenant}"})
        return found["id"]

    def create_subscription(self, customer: str, price: str, tenant: str, trial_days: int) -> dict:
        params: dict = {"customer": customer, "items": [{"price": price}], "metadata": {"tenant": tenant}}
        if trial_days:
            params["trial_period_days"] = trial_days
        return self._call("create the subscription", self.client.v1.subscriptions.create, params=params)

    def retrieve(self, subscription_id: str) -> dict:
        return self._call("read the subscription", self.client.v1.subscriptions.retrieve, subscription_id)

    def change_price(self, subscription: dict, price: str, *, prorate: bool) -> dict:
        """Move the subscription's one item to ``price``: prorated (an upgrade) or not (a downgrade)."""
        item = subscription["items"]["data"][0]["id"]
        return self._call("change the subscription", self.client.v1.subscriptions.update, subscription["id"],
                          params={"items": [{"id": item, "price": price}], "cancel_at_period_end": False,
                                  "proration_behavior": "create_prorations" if prorate else "none"})

    def cancel_at_period_end(self, subscription_id: str) -> dict:
        return self._call("cancel the subscription", self.client.v1.subscriptions.update, subscription_id,
                          params={"cancel_at_period_end": True})

    @staticmethod
    def _call(what: str, method, *args, **kwargs) -> dict:
        try:
            return method(*args, **kwargs).to_dict()
        except stripe.StripeError as exc:
            detail = exc.user_message or type(exc).__name__
            raise BillingUnavailable(f"Stripe could not {what} ({detail}); nothing was changed, try again later") \
                from None
