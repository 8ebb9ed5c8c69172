"""Staff gift-card routes under ``/api/admin/gift-cards``: list, issue, one card with its ledger, disable.

Staff see the last four symbols of a code; the whole code appears once, in the answer that issued it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody

from ..errors import BadRequest
from ..openapi import errors
from ..security import Principal, principal_of, services_of
from ..shop import giftcards
from ..shop.discounts import to_utc
from ..shop.pricing import Rules
from .params import Id, Int


class NewGiftCard(msgspec.Struct):
    amount: Any  # minor units, checked by the service
    recipient: str = ""
    note: str = ""
    expires_at: str | None = None  # a date (or date and time) in the shop's time zone; none: never expires


class GiftCardStatus(msgspec.Struct):
    status: str  # active or disabled


def expiry(text: str | None, zone: str) -> str | None:
    if text is None or not text.strip():
        return None
    try:
        return to_utc(text, zone)
    except BadRequest:
        raise BadRequest(f"{text[:40]!r} is not a date such as 2027-12-31", field="expires_at") from None


def _who(request: Request) -> Principal:
    return principal_of(request)  # type: ignore[return-value]


class GiftCardController(Controller):
    path = "/api/admin/gift-cards"
    tags = ["admin: shop"]
    opt = {"feature": "ecommerce"}

    @get("/", responses=errors(), opt={"action": "orders:read"}, sync_to_thread=True,
         summary="Gift cards, newest first (last four symbols of each code; last4= finds one)")
    def cards(self, request: Request, last4: FromQuery[str] = "", limit: Int = 100,
              offset: Int = 0) -> list[dict[str, Any]]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return giftcards.all_cards(conn, last4=last4[:20], limit=min(max(limit, 1), 500), offset=max(offset, 0))

    @post("/", responses=errors(body=True), status_code=201, opt={"action": "orders:write"}, sync_to_thread=True,
          summary="Issue a gift card; the answer holds its whole code, shown this once")
    def issue(self, request: Request, data: JSONBody[NewGiftCard]) -> dict[str, Any]:
        who = _who(request)
        services = services_of(request)
        with services.databases.connection(who.tenant.slug) as conn:
            rules = Rules.load(conn)
            card, code = giftcards.create(conn, data.amount, rules.currency, who.user.email, recipient=data.recipient,
                                          note=data.note, expires_at=expiry(data.expires_at, rules.timezone),
                                          secret_key=services.config.secret_key)
        services.audit.record("gift_card.issued", actor=who.user.id, tenant_id=who.tenant.id, card=card["id"],
                              last4=card["last4"], amount=card["initial"])
        return {**card, "code": code}

    @get("/{card_id:int}", responses=errors(), opt={"action": "orders:read"}, sync_to_thread=True,
         summary="One gift card with its ledger (every issue, use, refund and adjustment)")
    def card(self, request: Request, card_id: Id) -> dict[str, Any]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return {**giftcards.get(conn, card_id), "ledger": giftcards.ledger(conn, card_id)}

    @post("/{card_id:int}/status", responses=errors(409, body=True), status_code=200,
          opt={"action": "orders:write"}, sync_to_thread=True, summary="Disable a gift card, or enable it again")
    def status(self, request: Request, card_id: Id, data: JSONBody[GiftCardStatus]) -> dict[str, Any]:
        who = _who(request)
        services = services_of(request)
        with services.databases.connection(who.tenant.slug) as conn:
            card = giftcards.set_status(conn, card_id, data.status, who.user.email)
        services.audit.record("gift_card.status", actor=who.user.id, tenant_id=who.tenant.id, card=card_id,
                              status=data.status)
        return card
