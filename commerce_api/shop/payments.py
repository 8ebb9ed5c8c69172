"""Payment providers, chosen per tenant: ``manual`` (the default, no keys) or ``stripe``.

A provider turns a new order into what the shopper does next: instructions to pay by hand, or a
redirect to a hosted checkout page. Tenant keys live in the tenant's settings and never leave the
server: no API response, log line or build ever contains them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from content.money import Money, display
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
    local = True  # starts without the network: inside the checkout's own transaction

    def __init__(self, instructions: str) -> None:
        self.instructions = instructions

    def start(self, order: dict, site_url: str) -> PaymentStart:
        text = self.instructions or "We will contact you about payment."
        if order.get("gift_card"):  # part paid by gift card: say what is left to pay
            text = f"{text}\n\nAmount due: {display(Money(order['amount_due'], order['currency']))}"
        return PaymentStart("manual", instructions=text)


@dataclass(frozen=True)
class StripeKeys:
    secret_key: str
    webhook_secret: str

    def __repr__(self) -> str:
        return "StripeKeys(****)"


def _fernet(secret_key: str):
    """Payment keys are sealed with a key derived from TESSERA_SECRET_KEY, never stored in clear."""
    from ..sealing import fernet

    return fernet(secret_key, b"tessera payment keys")


def mask(secret: str) -> str:
    return f"{secret[:8]}…{secret[-4:]}" if len(secret) > 12 else "…"


def seal_payments(secret_key: str, provider: str, keys: StripeKeys | None = None) -> dict:
    """The ``payments`` settings to store: the provider, the Stripe keys sealed, and masks to show."""
    if provider != "stripe" or keys is None:
        return {"provider": "manual"}
    sealed = _fernet(secret_key).encrypt(f"{keys.secret_key}\n{keys.webhook_secret}".encode()).decode()
    return {"provider": "stripe", "stripe_keys": sealed,
            "masked": {"secret": mask(keys.secret_key), "webhook": mask(keys.webhook_secret)}}


def payment_settings(tenant: Tenant, secret_key: str) -> tuple[str, StripeKeys | None]:
    payments = (tenant.settings or {}).get("payments") or {}
    provider = payments.get("provider", "manual")
    if provider != "stripe":
        return "manual", None
    keys = stripe_keys(payments, secret_key)
    if keys is None:
        raise BadRequest("this shop's card payments are not set up yet", code="payments_not_configured")
    return "stripe", keys


def stripe_keys(payments: dict, secret_key: str) -> StripeKeys | None:
    from cryptography.fernet import InvalidToken

    if payments.get("stripe_keys"):
        try:
            secret, _, webhook = _fernet(secret_key).decrypt(payments["stripe_keys"].encode()).decode().partition("\n")
        except InvalidToken:  # TESSERA_SECRET_KEY changed since they were saved: enter them again
            return None
        return StripeKeys(secret, webhook)
    if payments.get("stripe_secret_key") and payments.get("stripe_webhook_secret"):  # saved before keys were sealed
        return StripeKeys(payments["stripe_secret_key"], payments["stripe_webhook_secret"])
    return None
