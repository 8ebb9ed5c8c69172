"""Staff shop routes under ``/api/admin``: orders (list, detail, status, payment, refund, CSV) and stock."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from content.gitrepo import Repository
from content.spreadsheet import cell

from ..errors import BadRequest
from ..security import Principal, principal_of, services_of
from ..openapi import errors
from ..shop import refunds
from ..shop.orders import Orders
from ..shop.pricing import MAX_QUANTITY
from ..shop.refunds import MAX_REASON, Wanted
from ..shop.payments import payment_settings
from .params import INT64_MAX, Count, Id, Int
from ..shop.stock import saved_skus


class StatusChange(msgspec.Struct):
    status: str
    note: str = ""
    tracking_number: str | None = None
    carrier: str | None = None  # a known carrier's key or name (royal-mail, DHL...) links the tracking


class StockLevel(msgspec.Struct):
    on_hand: Count


def _who(request: Request) -> Principal:
    return principal_of(request)  # type: ignore[return-value]


class RefundLine(msgspec.Struct):
    sku: str
    quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)]
    restock: bool = False  # put the units back in stock


class RefundRequest(msgspec.Struct):
    """Lines, the shipping, or an amount in minor units (goodwill; with lines, what they are refunded
    for). Nothing chosen refunds everything left."""
    lines: list[RefundLine] = msgspec.field(default_factory=list)
    amount: Annotated[int, msgspec.Meta(ge=1, le=INT64_MAX)] | None = None
    shipping: bool = False
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] = ""


def wanted(request: RefundRequest | None) -> list[Wanted]:
    return [Wanted(line.sku, line.quantity, line.restock) for line in (request.lines if request else [])]


def refund_order(conn, who: Principal, number: int, stripe_api_base: str | None, secret_key: str,
                 request: RefundRequest | None = None, key: str | None = None) -> dict[str, Any]:
    """Refund a paid order, in part or in full: through Stripe for card payments, as a record for
    manual ones (see ``shop.refunds``)."""
    order = Orders(conn).get(number)
    provider = None
    if order["provider"] == "stripe":
        from ..shop.stripe_gateway import StripeGateway

        _, keys = payment_settings(who.tenant, secret_key)
        if keys is not None:
            provider = StripeGateway(keys, who.tenant.slug, stripe_api_base)
    return refunds.refund(conn, number, lines=wanted(request), amount=request.amount if request else None,
                          shipping=request.shipping if request else False,
                          reason=request.reason if request else "", actor=who.user.email, provider=provider, key=key)


class StaffShopController(Controller):
    path = "/api/admin"
    tags = ["admin: shop"]
    opt = {"feature": "ecommerce"}

    @get("/orders", responses=errors(),
         opt={"action": "orders:read"}, sync_to_thread=True, summary="Orders, newest first, with filters")
    def orders(self, request: Request, status: FromQuery[str | None] = None, payment_status: FromQuery[str | None] = None,
               since: FromQuery[str | None] = None, until: FromQuery[str | None] = None,
               limit: Int = 100, offset: Int = 0) -> list[dict[str, Any]]:
        who = _who(request)
        with services_of(request).databases.connection(who.tenant.slug) as conn:
            return Orders(conn).list(status=status, payment_status=payment_status, since=since, until=until,
                                     limit=min(max(limit, 1), 500), offset=max(offset, 0))

    @get("/orders.csv", responses=errors(),
         media_type="text/csv", opt={"action": "orders:read"}, sync_to_thread=True, summary="Orders as CSV, with the same filters")
    def orders_csv(self, request: Request, status: FromQuery[str | None] = None,
                   payment_status: FromQuery[str | None] = None, since: FromQuery[str | None] = None,
                   until: FromQuery[str | None] = None) -> Response[str]:
        who = _who(request)
        with services_of(request).databases.connection(who.tenant.slug) as conn:
            rows = Orders(conn).list(status=status or None, payment_status=payment_status or None,
                                     since=since or None, until=until or None, limit=100000)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["number", "created_at", "email", "status", "payment_status",
                                                 "currency", "total"])
        writer.writeheader()
        for row in rows:
            # A leading =, +, - or @ would be a formula in a spreadsheet: quote it out.
            writer.writerow({k: cell(v) for k, v in row.items()})
        return Response(out.getvalue(), media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
                       
                        headers={"Content-Disposition": 'attachment; filename="orders.csv"'})

    @get("/orders/{number:int}", responses=errors(),
         opt={"action": "orders:read"}, sync_to_thread=True, summary="One order")
    def order(self, request: Request, number: Id) -> dict[str, Any]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return Orders(conn).get(number)

    @post("/orders/{number:int}/status", responses=errors(409, body=True),
          status_code=200, opt={"action": "orders:write"}, sync_to_thread=True,
          summary="Move an order through its allowed transitions; add tracking or a note")
    def change_status(self, request: Request, number: Id, data: JSONBody[StatusChange]) -> dict[str, Any]:
        who = _who(request)
        with services_of(request).databases.connection(who.tenant.slug) as conn:
            return Orders(conn).set_status(number, data.status, actor=who.user.email, note=data.note,
                                           tracking_number=data.tracking_number, carrier=data.carrier)

    @post("/orders/{number:int}/paid", responses=errors(409),
          status_code=200, opt={"action": "orders:write"}, sync_to_thread=True,
          summary="Record a manual payment")
    def mark_paid(self, request: Request, number: Id) -> dict[str, Any]:
        who = _who(request)
        with services_of(request).databases.connection(who.tenant.slug) as conn:
            return Orders(conn).mark_paid(number, actor=who.user.email)

    @post("/orders/{number:int}/refund", responses=errors(409, body=True),
          status_code=200, opt={"action": "orders:write"}, sync_to_thread=True,
          summary="Refund a paid order, in full or in part (lines, shipping or an amount)",
          description="Without a body, or with nothing chosen, refunds everything left. Card payments are refunded "
                      "through Stripe, in proportion to what gift cards paid. Send an Idempotency-Key header so "
                      "that a retried request never refunds twice.")
    def refund(self, request: Request, number: Id, data: JSONBody[RefundRequest | None] = None) -> dict[str, Any]:
        who = _who(request)
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and not 8 <= len(idempotency_key) <= 100:
            raise BadRequest("Idempotency-Key must be 8 to 100 characters", field="Idempotency-Key")
        with services_of(request).databases.connection(who.tenant.slug) as conn:
            config = services_of(request).config
            return refund_order(conn, who, number, config.stripe_api_base, config.secret_key, data, idempotency_key)

    @get("/stock", responses=errors(),
         opt={"action": "inventory:read"}, sync_to_thread=True, summary="Stock of every sku")
    def stock(self, request: Request) -> list[dict[str, Any]]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return Orders(conn).stock()  # type: ignore[return-value]

    @put("/stock/{sku:str}", responses=errors(409, body=True),
         opt={"action": "inventory:write"}, sync_to_thread=True, summary="Set a sku's stock on hand")
    def set_stock(self, request: Request, sku: FromPath[str], data: JSONBody[StockLevel]) -> dict[str, Any]:
        who = _who(request)
        services = services_of(request)
        with services.databases.connection(who.tenant.slug) as conn:
            repo = Repository(services.config.data_dir / "tenants" / who.tenant.slug / "repo.git")
            level = Orders(conn).set_stock(sku, data.on_hand, saved_skus=lambda: saved_skus(repo))
        services.audit.record("stock.changed", actor=who.user.id, tenant_id=who.tenant.id, sku=sku, on_hand=data.on_hand)
        return level
