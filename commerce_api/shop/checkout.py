"""Checkout's answer: the order, the shopper's token and how to pay, the same on every retry.

``Orders.checkout`` commits the order, its stock and its idempotency record together; the payment
provider is called after that commit, because it is a network call that must not hold the write
lock. Whatever happens next (a provider that fails, a process that dies before answering), a retry
rebuilds the whole answer from the order and starts payment if it never started. A provider's
failure is never an error response: the order exists, so the shopper gets it, with a way to retry.
"""

from __future__ import annotations

from collections.abc import Callable

import logging
import sqlite3

from ..errors import ApiError
from . import webhooks
from .orders import CheckoutDetails, Orders
from .payments import Provider

log = logging.getLogger("tessera.shop")


def public(order: dict) -> dict:
    """An order as its shopper may see it (staff notes left out)."""
    return {k: v for k, v in order.items() if k != "notes"}


def place_order(conn: sqlite3.Connection, provider: Provider, cart_token: str, details: CheckoutDetails, *,
                idempotency_key: str | None, site_url: str, secret_key: str | None = None,
                within_plan: Callable[[Callable[[], int]], None] | None = None) -> tuple[dict, bool]:
    """Returns (the answer, created?): the order with its token, and the payment to make."""
    orders = Orders(conn)
    orders.expire_unpaid()
    local = getattr(provider, "local", False)
    order, token, created = orders.checkout(cart_token, details, provider=provider.name,
                                            idempotency_key=idempotency_key, secret_key=secret_key,
                                            within_plan=within_plan,
                                            local_start=(lambda placed: provider.start(placed, site_url)) if local else None)
    payment = start_payment(conn, provider, order["number"], site_url, order=order if created else None)
    answer = {"order": {**public(orders.get(order["number"])), "token": token}, "payment": payment}
    return (answer, True) if created else ({**answer, "replayed": True}, False)


def retry_payment(conn: sqlite3.Connection, provider: Provider, number: int, token: str, site_url: str) -> dict:
    """The shopper's "pay now" from their order link: the payment already started, or a new start."""
    orders = Orders(conn)
    orders.expire_unpaid()
    orders.for_shopper(number, token)  # 404 without the link's token
    return start_payment(conn, provider, number, site_url)


def start_payment(conn: sqlite3.Connection, provider: Provider, number: int, site_url: str, *,
                  order: dict | None = None) -> dict:
    """How to pay for the order: its recorded payment start, else a new one (recorded on success).

    An order that is no longer pending says so (``status``: paid, expired, cancelled ...); a provider
    that fails gives ``status: failed`` and a message, and the order keeps its short hold. ``order``: the
    order as the checkout that just committed it read it, so it is not read again.
    """
    orders = Orders(conn)
    recorded = orders.payment(number)
    if recorded is not None:
        return recorded
    order = order if order is not None else orders.get(number)
    if order["status"] != "pending" or order["payment_status"] != "pending":
        return {"provider": order["provider"], "status": order["payment_status"]}
    try:
        start = provider.start(order, site_url)
    except ApiError as exc:
        return _failed(provider.name, exc.message)
    except Exception:  # a provider's bug or network must not lose the shopper their order
        log.exception("payment provider %s could not start order %s", provider.name, number)
        return _failed(provider.name, "the payment could not be started")
    payment = orders.payment_started(number, provider.name, start.public(), start.reference)
    webhooks.apply_pending(conn, number)
    return payment


def _failed(provider: str, message: str) -> dict:
    return {"provider": provider, "status": "failed",
            "message": f"{message.rstrip('.')}. Your order is saved: try paying again in a moment."}
