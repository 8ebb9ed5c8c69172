"""Errors of billing, as the API's tree places them (``commerce_api.errors``):

    Conflict (409)
    └── BillingError                 a plan change was refused; nothing changed, here or at Stripe
        ├── BillingUnavailable       Stripe did not answer or refused: try again later
        └── NoBillingContact         the site has no owner whose email Stripe can bill: add one first
    BadRequest (400)
    └── BadSignature                 the operator's webhook was not signed by Stripe (Stripe-Signature)
"""

from __future__ import annotations

from ..errors import BadRequest, Conflict


class BillingError(Conflict):
    code = "billing_refused"


class BillingUnavailable(BillingError):
    code = "billing_unavailable"


class NoBillingContact(BillingError):
    code = "no_billing_contact"


class BadSignature(BadRequest):
    code = "invalid_signature"
