"""Payment providers, chosen per tenant: ``manual`` (the default, no keys) or ``stripe``.

A provider turns a new order into what the shopper does next: instructions to pay by hand, or a
redirect to a hosted checkout page. Tenant keys live in the tenant's settings and never leave the
server: no API response, log line or build ever contains them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from content.registry import Tenant

from ..errors import BadRequest


@dataclass(frozen=True)
class PaymentStart:
    provider: str
    redirect_url: str | None = None
    instructions: str | None = None
    reference: str | None = None

    def public(self) -> dict:
        data = {"provider": self.provider}
        if self.redirect_url:
            data["redirect_url"] = self.redirect_url
        if self.instructions is not None:
            data["instructions"] = self.instructions
        return data


class Provider(Protocol):
    name: str

    def start(self, order: dict, site_url: str) -> PaymentStart: ...


class Manual:
    name = "manual"

    def __init__(self, instructions: str) -> None:
        self.instructions = instructions

    def start(self, order: dict, site_url: str) -> PaymentStart:
        text = self.instructions or "We will contact you about payment."
        return PaymentStart("manual", instructions=text)


@dataclass(frozen=True)
class StripeKeys:
    secret_key: str
    webhook_secret: str

    def __repr__(self) -> str:
        return "StripeKeys(****)"


def payment_settings(tenant: Tenant) -> tuple[str, StripeKeys | None]:
    payments = (tenant.settings or {}).get("payments") or {}
    provider = payments.get("provider", "manual")
    if provider == "stripe":
        secret, webhook = payments.get("stripe_secret_key"), payments.get("stripe_webhook_secret")
        if not secret or not webhook:
            raise BadRequest("this shop's card payments are not set up yet", code="payments_not_configured")
        return "stripe", StripeKeys(secret, webhook)
    return "manual", None
