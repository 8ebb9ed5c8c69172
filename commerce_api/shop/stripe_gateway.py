"""Stripe, through the official library: the only module that imports ``stripe``.

Every call passes the tenant's own key and a pinned API version. Amounts are already integer minor
units; only the currency case changes here, because that is Stripe's format.
"""

from __future__ import annotations

import stripe

from ..errors import BadRequest, Conflict, ProviderUnavailable, Unauthorized
from .payments import PaymentStart, StripeKeys

API_VERSION = "2024-06-20"
SIGNATURE_TOLERANCE = 300  # seconds; older events are refused as replays


def _line_item(currency: str, line: dict) -> dict:
    """A line as Stripe's checkout shows it. A discounted line is one item at its discounted total
    ("2 × Croissants"), since a discount spread in whole cents need not divide by the quantity."""
    name = f"{line['name']} – {line['title']}" if line["title"] != line["name"] else line["name"]
    if line.get("discount"):
        return {"quantity": 1, "price_data": {"currency": currency.lower(),
                                              "unit_amount": line["line_total"] - line["discount"],
                                              "product_data": {"name": f"{line['quantity']} × {name} (discounted)"}}}
    return {"quantity": line["quantity"], "price_data": {"currency": currency.lower(), "unit_amount": line["unit_price"],
                                                         "product_data": {"name": name}}}


class StripeGateway:
    name = "stripe"

    def __init__(self, keys: StripeKeys, tenant: str, api_base: str | None = None) -> None:
        self.keys = keys
        self.tenant = tenant
        addresses = {"api": api_base} if api_base else None
        self.client = stripe.StripeClient(keys.secret_key, stripe_version=API_VERSION, base_addresses=addresses,
                                          max_network_retries=2)

    def start(self, order: dict, site_url: str) -> PaymentStart:
        line_items = [_line_item(order["currency"], line) for line in order["lines"]]
        if order["shipping"]:
            line_items.append({"quantity": 1, "price_data": {"currency": order["currency"].lower(),
                                                             "unit_amount": order["shipping"],
                                                             "product_data": {"name": "Shipping"}}})
        if order["tax"] and not order["tax_inclusive"]:
            line_items.append({"quantity": 1, "price_data": {"currency": order["currency"].lower(),
                                                             "unit_amount": order["tax"],
                                                             "product_data": {"name": "Tax"}}})
        charged = sum(item["quantity"] * item["price_data"]["unit_amount"] for item in line_items)
        # Gift cards paid part, or a zero-rated sale took tax out of prices that include it: Stripe
        # charges what is due, as one item.
        if order.get("gift_card") or charged != order["amount_due"]:
            line_items = [{"quantity": 1, "price_data": {
                "currency": order["currency"].lower(), "unit_amount": order["amount_due"],
                "product_data": {"name": f"Order {order['number']}, after gift card"}}}]
        metadata = {"tenant": self.tenant, "order_number": str(order["number"])}
        try:
            session = self.client.v1.checkout.sessions.create(params={
                "mode": "payment", "line_items": line_items, "customer_email": order["email"],
                "client_reference_id": str(order["number"]), "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "success_url": f"{site_url}/order/?number={order['number']}&session={{CHECKOUT_SESSION_ID}}",
                "cancel_url": f"{site_url}/cart/?cancelled={order['number']}",
            })
        except stripe.StripeError as exc:
            raise BadRequest(f"the card payment could not be started: {exc.user_message or 'try again'}",
                             code="payment_unavailable") from None
        return PaymentStart("stripe", redirect_url=session.url, reference=session.id)

    def verify(self, payload: bytes, signature: str | None) -> dict:
        """Check the signature (and its age) with the tenant's signing secret; return the event."""
        if not signature:
            raise Unauthorized("the webhook is not signed", code="invalid_signature")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.keys.webhook_secret,
                                                   tolerance=SIGNATURE_TOLERANCE)
        except (stripe.SignatureVerificationError, ValueError):
            raise Unauthorized("the webhook signature is not valid", code="invalid_signature") from None
        return event.to_dict()

    def session_state(self, session_id: str) -> str:
        """'paid', 'open' or 'expired', asked of Stripe (for reconciling missed webhooks)."""
        session = self.client.v1.checkout.sessions.retrieve(session_id)
        if session.payment_status == "paid":
            return "paid"
        return "expired" if session.status == "expired" else "open"

    def refund(self, payment_intent: str, amount: int | None = None, *, key: str | None = None,
               metadata: dict[str, str] | None = None) -> str:
        """Refund ``amount`` (None: all that is left) of a payment; returns Stripe's refund id.

        ``key`` names this one refund: sent as the idempotency key (with the tenant, since tenants
        may share a Stripe account) and kept in the refund's metadata, so a retry never refunds
        twice, even after Stripe has forgotten the key (24 hours), through ``find_refund``."""
        params: dict = {"payment_intent": self._payment_intent(payment_intent)}
        if amount is not None:
            params["amount"] = amount
        options: dict = {}
        if key:
            params["metadata"] = {**(metadata or {}), "tenant": self.tenant, "tessera_refund": key}
            options["idempotency_key"] = f"tessera-refund:{self.tenant}:{key}"
        try:
            refund = self.client.v1.refunds.create(params=params, options=options)  # type: ignore[arg-type]
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError, stripe.IdempotencyError) as exc:
            # No answer, or not a final one: the refund may or may not exist at Stripe. Asking
            # again with the same key is safe, so the caller keeps it pending and retries.
            raise ProviderUnavailable(f"Stripe did not confirm the refund ({type(exc).__name__}); it is kept "
                                      "pending and completes when you try again", code="refund_pending") from None
        except stripe.StripeError as exc:
            raise Conflict(f"Stripe refused the refund: {exc.user_message or 'see the payment in Stripe'}",
                           code="refund_refused") from None
        return refund.id

    def find_refund(self, payment_intent: str, key: str) -> str | None:
        """The id of the refund made for ``key`` on this payment, if Stripe has one."""
        try:
            found = self.client.v1.refunds.list(params={"payment_intent": self._payment_intent(payment_intent),
                                                        "limit": 100})
        except stripe.StripeError:
            raise ProviderUnavailable("Stripe could not be asked about a pending refund; it completes when you "
                                      "try again", code="refund_pending") from None
        for refund in (r.to_dict() for r in found.data):
            if (refund.get("metadata") or {}).get("tessera_refund") == key and refund.get("status") != "failed":
                return refund["id"]
        return None

    def _payment_intent(self, reference: str) -> str:
        """An order paid through reconciling keeps its Checkout Session's id: ask Stripe for its payment."""
        if not reference.startswith("cs_"):
            return reference
        try:
            return self.client.v1.checkout.sessions.retrieve(reference).payment_intent
        except stripe.StripeError:
            raise ProviderUnavailable("Stripe could not be asked which payment to refund; try again",
                                      code="refund_pending") from None
