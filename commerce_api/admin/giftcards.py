"""Gift cards in the admin: the list (last four symbols of each code, balance, state, expiry, the
order that bought it), issuing a card (its whole code shown once, on the answer page), disabling and
enabling, and each card's ledger."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from content.money import Money, parse_price

from ..errors import ApiError, BadRequest
from ..routes.auth import _address
from ..routes.giftcards import expiry
from ..routes.params import Id
from ..security import services_of
from ..shop import giftcards
from ..shop.pricing import Rules
from . import once
from .common import Form, back, page, text, who

SHOP = {"feature": "ecommerce"}


def _money(card: dict) -> dict:
    return {**card, "balance_text": str(Money(card["balance"], card["currency"])),
            "initial_text": str(Money(card["initial"], card["currency"]))}


@get("/admin/gift-cards", opt={"action": "orders:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def cards(request: Request, q: FromQuery[str] = "") -> Response:
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        listed = [_money(c) for c in giftcards.all_cards(conn, last4=q[:20], limit=500)]
        currency = Rules.load(conn).currency
    return page(request, "giftcards.html", title="Gift cards", section="gift-cards", cards=listed, q=q[:20],
                currency=currency, can_write=member.can("orders:write"))


@post("/admin/gift-cards/new", opt={"action": "orders:write", **SHOP}, sync_to_thread=True, include_in_schema=False)
def issue(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    try:
        with services.databases.connection(member.tenant.slug) as conn:
            rules = Rules.load(conn)
            try:
                amount = parse_price(text(data, "amount"), rules.currency).amount
            except ValueError as exc:
                raise BadRequest(f"amount: {exc}", field="amount") from None
            card, code = giftcards.create(conn, amount, rules.currency, member.user.email,
                                          recipient=text(data, "recipient"), note=text(data, "note"),
                                          expires_at=expiry(text(data, "expires_at"), rules.timezone),
                                          secret_key=services.config.secret_key)
            token = once.stash(conn, services.config.secret_key, code)
    except ApiError as exc:
        return back(request, "/gift-cards", error=exc.message)
    services.audit.record("gift_card.issued", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), card=card["id"], last4=card["last4"], amount=card["initial"])
    # A redirect (reloading never issues a second card); the page shows the code once (admin/once.py).
    return back(request, f"/gift-cards/{card['id']}?shown={token}",
                saved="Gift card issued. Copy its code now and give it to its recipient: it is not shown again.")


def _card_page(request: Request, card_id: int, *, code: str = "", **context) -> Response:
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        card = _money(giftcards.get(conn, card_id))
        ledger = giftcards.ledger(conn, card_id)
    for entry in ledger:
        entry["amount_text"] = str(Money(entry["amount"], card["currency"]))
        entry["balance_text"] = str(Money(entry["balance"], card["currency"]))
    return page(request, "giftcard.html", title=f"Gift card …{card['last4']}", section="gift-cards", card=card,
                ledger=ledger, code=code, can_write=member.can("orders:write"), **context)


@get("/admin/gift-cards/{card_id:int}", opt={"action": "orders:read", **SHOP}, sync_to_thread=True,
     include_in_schema=False)
def card(request: Request, card_id: Id, shown: FromQuery[str] = "") -> Response:
    return _card_page(request, card_id, code=once.shown(request, shown))


@post("/admin/gift-cards/{card_id:int}/status", opt={"action": "orders:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def set_status(request: Request, card_id: Id, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    status = text(data, "status")
    try:
        with services.databases.connection(member.tenant.slug) as conn:
            giftcards.set_status(conn, card_id, status, member.user.email)
    except ApiError as exc:
        return back(request, f"/gift-cards/{card_id}", error=exc.message)
    services.audit.record("gift_card.status", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), card=card_id, status=status)
    return back(request, f"/gift-cards/{card_id}",
                saved="Gift card enabled." if status == "active" else "Gift card disabled: it cannot pay until enabled.")


ROUTES = [cards, issue, card, set_status]
