"""Shopper routes: carts, checkout, an order's page, live availability, search, payment webhooks."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, RawBody

from content import plans
from content.registry import Tenant

from ..auth.ratelimit import Throttle, address_key, hit_all
from ..errors import BadRequest, NotFound, PlanLimit
from ..security import client_address, require_tenant, services_of
from ..services import public_origin
from ..openapi import errors
from ..shop import giftcards, stock, webhooks
from ..shop.carts import Carts, destination
from ..shop.checkout import place_order, public, retry_payment
from ..shop.orders import CheckoutDetails, Orders
from ..shop.payments import Manual, payment_settings
from ..shop.pricing import Rules
from .params import Id, Int

SHOP = {"feature": "ecommerce"}


class NewItem(msgspec.Struct):
    sku: str
    quantity: Any = 1  # checked strictly by the service: "2", 1.5 and true are refused, not coerced


class Quantity(msgspec.Struct):
    quantity: Any


class Address(msgspec.Struct):
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""
    region: str = ""  # a state or province, where tax depends on it


class CheckoutBody(msgspec.Struct):
    cart_token: str
    email: str
    shipping_address: Address | None = None  # pickup needs only shipping_address.name
    billing_address: Address | None = None
    # a shipping option's id from shipping-options; "delivery" or "pickup" take the first of that kind
    shipping_method: str = "delivery"
    pickup_slot: str | None = None  # the chosen slot's start, as shipping-options lists it
    vat_number: str | None = None  # a business buyer's EU VAT number: reverse charge when well-formed
    # true: if a code in the cart stopped applying (used up, expired), place the order at full price
    accept_without_discount: bool = False


class CodeBody(msgspec.Struct):
    code: Any


class AvailabilityBody(msgspec.Struct):
    skus: list[str]


def _within_plan(services, tenant: Tenant, count: Callable[[], int]) -> None:
    """Refuse an order past the plan's ``orders_per_month``: the shopper reads that the shop takes no
    more orders this month; the shop's people find the plan's own words in their audit log (once a month).
    ``count()`` reads the month's orders, which a shop without the limit is spared (it grows all month)."""
    limits = plans.limits_for(services.db.registry, tenant)
    if limits.get("orders_per_month") is None:
        return
    try:
        used = count()
        plans.check(services.db.registry, tenant, "orders_per_month", used, used + 1, limits)
    except plans.LimitReached as exc:
        month = datetime.now(timezone.utc).strftime("%Y-%m-01")
        seen = services.db.conn.execute("SELECT 1 FROM audit_log WHERE tenant_id = ? AND event = 'order.refused' "
                                        "AND at >= ?", (tenant.id, month)).fetchone()
        if seen is None:
            services.audit.record("order.refused", tenant_id=tenant.id, limit=exc.key, reason=str(exc))
        raise PlanLimit("This shop cannot take more orders this month. Nothing was charged or reserved; "
                        "please try again next month or contact the shop.", field=exc.key) from None


def site_url(request: Request, tenant: Tenant) -> str:
    services = services_of(request)
    return public_origin(services.config, services.db.registry, tenant.slug)


def provider_for(request: Request, tenant: Tenant, conn):
    name, keys = payment_settings(tenant, services_of(request).config.secret_key)
    if name == "stripe":
        from ..shop.stripe_gateway import StripeGateway

        return StripeGateway(keys, tenant.slug, services_of(request).config.stripe_api_base)
    return Manual(Rules.load(conn).payment_instructions)


class CartController(Controller):
    path = "/api/carts"
    tags = ["cart"]
    opt = SHOP

    @post("/", responses=errors(),
          sync_to_thread=True, summary="Start a cart; keep its token (it is the only key to the cart)")
    def create(self, request: Request) -> dict[str, Any]:
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            carts = Carts(conn)
            return carts.view(carts.create())

    @get("/{token:str}", responses=errors(), sync_to_thread=True,
         summary="The cart, repriced from the live catalog for a shipping option (an id from shipping-options, or "
                 "delivery or pickup) to an address (country, postal_code, region) and a VAT number")
    def view(self, request: Request, token: FromPath[str], shipping_method: FromQuery[str] = "delivery",
             country: FromQuery[str] = "", postal_code: FromQuery[str] = "", region: FromQuery[str] = "",
             vat_number: FromQuery[str] = "") -> dict[str, Any]:
        where = destination(country, postal_code, region)
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).view(token, shipping_method, where, vat_number or None)

    @get("/{token:str}/shipping-options", responses=errors(), sync_to_thread=True,
         summary="The ways this cart can reach an address (local delivery, the zone's methods, pickup with its free "
                 "slots), each with its price and the cart's total; without a country, pickup only")
    def shipping_options(self, request: Request, token: FromPath[str], country: FromQuery[str] = "",
                         postal_code: FromQuery[str] = "", region: FromQuery[str] = "",
                         vat_number: FromQuery[str] = "") -> dict[str, Any]:
        where = destination(country, postal_code, region)
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).shipping_options(token, where, vat_number or None)

    @post("/{token:str}/items", responses=errors(409, body=True),
          sync_to_thread=True, summary="Add a sku (any price sent is ignored)")
    def add(self, request: Request, token: FromPath[str], data: JSONBody[NewItem]) -> dict[str, Any]:
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).add(token, data.sku, data.quantity)

    @patch("/{token:str}/items/{sku:str}", responses=errors(409, body=True),
           sync_to_thread=True, summary="Change a line's quantity")
    def change(self, request: Request, token: FromPath[str], sku: FromPath[str], data: JSONBody[Quantity]) -> dict[str, Any]:
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).set_quantity(token, sku, data.quantity)

    @delete("/{token:str}/items/{sku:str}", responses=errors(409),
            status_code=200, sync_to_thread=True, summary="Remove a line")
    def remove(self, request: Request, token: FromPath[str], sku: FromPath[str]) -> dict[str, Any]:
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).remove(token, sku)


    @post("/{token:str}/discount", responses=errors(404, 422, 429, body=True), status_code=200, sync_to_thread=True,
          summary="Apply a discount code (case-insensitive); the cart shows what it takes off, or why not")
    def add_code(self, request: Request, token: FromPath[str], data: JSONBody[CodeBody]) -> dict[str, Any]:
        services = services_of(request)
        address = client_address(request.scope, services.config.trusted_proxies)
        with services.databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).apply_code(token, data.code, address=address)

    @delete("/{token:str}/discount", responses=errors(404), status_code=200, sync_to_thread=True,
            summary="Remove a discount code (code=...), or every code when none is named")
    def remove_code(self, request: Request, token: FromPath[str], code: FromQuery[str] = "") -> dict[str, Any]:
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).remove_code(token, code or None)


    @post("/{token:str}/gift-cards", responses=errors(404, 409, 422, 429, body=True), status_code=200,
          sync_to_thread=True, summary="Pay part or all of the cart with a gift card (its code); the cart shows "
                                       "what each card pays and the amount left to pay")
    def add_gift_card(self, request: Request, token: FromPath[str], data: JSONBody[CodeBody]) -> dict[str, Any]:
        services = services_of(request)
        address = client_address(request.scope, services.config.trusted_proxies)
        with services.databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).apply_gift_card(token, data.code, address=address)

    @delete("/{token:str}/gift-cards/{last4:str}", responses=errors(404, 409), status_code=200, sync_to_thread=True,
            summary="Take a gift card out of the cart, by the last four symbols of its code")
    def remove_gift_card(self, request: Request, token: FromPath[str], last4: FromPath[str]) -> dict[str, Any]:
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return Carts(conn).remove_gift_card(token, last4)


def _address(value: Address | None) -> dict | None:
    return msgspec.structs.asdict(value) if value is not None else None


class ShopController(Controller):
    path = "/api"
    tags = ["shop"]
    opt = SHOP

    @post("/checkout", responses=errors(403, 409, 429, body=True), status_code=201, sync_to_thread=True,
          summary="Place an order from a cart; send an Idempotency-Key header to make retries safe")
    def checkout(self, request: Request, data: JSONBody[CheckoutBody]) -> dict[str, Any]:
        tenant = require_tenant(request)
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and not 8 <= len(idempotency_key) <= 100:
            raise BadRequest("Idempotency-Key must be 8 to 100 characters", field="Idempotency-Key")
        services = services_of(request)
        # Each order mails its shopper: without limits, anyone could make the platform mail anyone.
        address = client_address(request.scope, services.config.trusted_proxies)
        limits = [(Throttle(services.db, "orders", *services.config.orders_per_address),
                   f"{tenant.slug}|{address_key(address)}", "orders")]
        if isinstance(data.email, str) and data.email.strip():
            limits.append((Throttle(services.db, "orders-email", *services.config.orders_per_email),
                           f"{tenant.slug}|{data.email.strip().lower()}", "orders for this email address"))
        hit_all(services.db, limits)  # both counted in one write, or neither
        with services.databases.connection(tenant.slug) as conn:
            provider = provider_for(request, tenant, conn)
            details = CheckoutDetails(data.email, _address(data.shipping_address), _address(data.billing_address),
                                      data.shipping_method, data.accept_without_discount, data.pickup_slot,
                                      data.vat_number)
            key = f"{tenant.slug}:{idempotency_key}" if idempotency_key else None
            answer, _ = place_order(conn, provider, data.cart_token, details, idempotency_key=key,
                                    site_url=site_url(request, tenant),
                                    secret_key=services_of(request).config.secret_key,
                                    within_plan=lambda count: _within_plan(services, tenant, count))
            return answer

    @get("/orders/{number:int}", responses=errors(),
         sync_to_thread=True, summary="An order, for the shopper holding its link token")
    def order(self, request: Request, number: Id, token: FromQuery[str]) -> dict[str, Any]:
        services = services_of(request)
        with services.databases.connection(require_tenant(request).slug) as conn:
            order = public(Orders(conn).for_shopper(number, token))
            # The gift cards it bought, with their codes: this link is the buyer's own. Cards still
            # waiting for the payment are only counted (gift_cards_to_come), so the page can say so.
            return {**order, "gift_cards": [{k: card[k] for k in ("code", "amount", "currency", "expires_at")}
                                             for card in giftcards.bought_by(conn, number, services.config.secret_key)],
                    "gift_cards_to_come": giftcards.to_come(conn, number)}

    @post("/orders/{number:int}/payment", responses=errors(409), status_code=200, sync_to_thread=True,
          summary="Pay for an order from its link: the payment already started, or a new attempt")
    def payment(self, request: Request, number: Id, token: FromQuery[str]) -> dict[str, Any]:
        tenant = require_tenant(request)
        with services_of(request).databases.connection(tenant.slug) as conn:
            return retry_payment(conn, provider_for(request, tenant, conn), number, token, site_url(request, tenant))

    @post("/availability", responses=errors(body=True),
          status_code=200, sync_to_thread=True, summary="Live price and stock for a set of skus")
    def availability(self, request: Request, data: JSONBody[AvailabilityBody]) -> dict[str, Any]:
        if len(data.skus) > 200:
            raise BadRequest("ask for at most 200 skus at once", field="skus")
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            return stock.availability(conn, data.skus)

    @get("/search", responses=errors(),
         sync_to_thread=True, summary="Full-text search over name, description and sku, best first")
    def search(self, request: Request, q: FromQuery[str] = "", limit: Int = 20) -> dict[str, Any]:
        words = [w for w in "".join(c if c.isalnum() or c in "-_" else " " for c in q).split() if w][:8]
        if not words:
            return {"query": q, "items": []}
        match = " ".join('"' + w.replace('"', "") + '"*' for w in words)
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            rows = conn.execute(
                "SELECT p.slug, p.name, p.url, p.image FROM catalog_search s JOIN catalog_products p ON p.slug = s.slug "
                "WHERE catalog_search MATCH ? ORDER BY bm25(catalog_search, 0, 10.0, 2.0, 5.0) LIMIT ?",
                (match, min(max(limit, 1), 50))).fetchall()
        return {"query": q, "items": [dict(r) for r in rows]}


@post("/api/webhooks/stripe/{tenant_slug:str}", responses=errors(body=True),
      status_code=200, opt={"tenant": False}, sync_to_thread=True,
      tags=["payments"],
      summary="Stripe events for one tenant, verified with that tenant's signing secret")
def stripe_webhook(request: Request, tenant_slug: FromPath[str], body: RawBody) -> dict[str, Any]:
    from ..shop.stripe_gateway import StripeGateway

    stripe_signature = request.headers.get("stripe-signature")
    services = services_of(request)
    tenant = services.db.registry.find(tenant_slug)
    if tenant is None:
        raise NotFound(f"no tenant called {tenant_slug!r}", code="unknown_tenant")
    name, keys = payment_settings(tenant, services.config.secret_key)
    if name != "stripe":
        raise NotFound("this shop does not take card payments", code="payments_not_configured")
    event = StripeGateway(keys, tenant.slug, services.config.stripe_api_base).verify(body, stripe_signature)
    with services.databases.connection(tenant.slug) as conn:
        fresh = webhooks.record(conn, event)
        outcomes = webhooks.apply_pending(conn, webhooks._order_number(event)) if fresh else []
    return {"received": True, "duplicate": not fresh, "outcomes": outcomes}
