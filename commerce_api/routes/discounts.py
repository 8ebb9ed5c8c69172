"""``/api/admin/discounts``: a shop's discount codes and automatic discounts, with their uses so far.

One shape in and out, the stored one: amounts in minor units (500 is £5.00), percentages in hundredths
of a percent (1250 is 12.5 %), times as ISO 8601 with an offset (stored in UTC). What a GET answers
can be sent back as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import JSONBody

from ..openapi import errors
from ..security import Principal, principal_of, services_of
from ..shop import discounts
from .auth import _address
from .params import INT64_MAX, Id

Whole = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=INT64_MAX)]
Slugs = Annotated[list[Annotated[str, msgspec.Meta(max_length=100)]], msgspec.Meta(max_length=100)]
Text = Annotated[str, msgspec.Meta(max_length=200)]

SHAPE = ("Amounts (`value` of an `amount` discount, `min_subtotal`) are in minor units of the shop's "
         "currency: 500 is £5.00. A `percent` discount's `value` is in hundredths of a percent: 1250 is 12.5 %. "
         "`starts_at` and `ends_at` are ISO 8601 with an offset, e.g. 2027-03-31T23:59:00+01:00 (answered in UTC). "
         "`code` null makes an automatic discount (it then needs a `title`). A bad value is a 400 whose "
         "`field` names it; a code another discount has is a 409 `code_taken`.")


class DiscountCreate(msgspec.Struct, forbid_unknown_fields=True):
    kind: Text  # percent, amount, free_shipping
    code: Text | None = None
    title: Text = ""
    value: Whole = 0
    target: Text = "order"  # order, products, shipping
    products: Slugs = []
    categories: Slugs = []
    min_subtotal: Whole = 0
    min_quantity: Whole = 0
    starts_at: Text | None = None
    ends_at: Text | None = None
    usage_limit: Limit | None = None
    per_email_limit: Limit | None = None
    combines: bool = False
    status: Text = "active"  # active or paused


class DiscountChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent change; ``{"status": "paused"}`` pauses a discount."""
    kind: Text | msgspec.UnsetType = msgspec.UNSET
    code: Text | None | msgspec.UnsetType = msgspec.UNSET
    title: Text | msgspec.UnsetType = msgspec.UNSET
    value: Whole | msgspec.UnsetType = msgspec.UNSET
    target: Text | msgspec.UnsetType = msgspec.UNSET
    products: Slugs | msgspec.UnsetType = msgspec.UNSET
    categories: Slugs | msgspec.UnsetType = msgspec.UNSET
    min_subtotal: Whole | msgspec.UnsetType = msgspec.UNSET
    min_quantity: Whole | msgspec.UnsetType = msgspec.UNSET
    starts_at: Text | None | msgspec.UnsetType = msgspec.UNSET
    ends_at: Text | None | msgspec.UnsetType = msgspec.UNSET
    usage_limit: Limit | None | msgspec.UnsetType = msgspec.UNSET
    per_email_limit: Limit | None | msgspec.UnsetType = msgspec.UNSET
    combines: bool | msgspec.UnsetType = msgspec.UNSET
    status: Text | msgspec.UnsetType = msgspec.UNSET


def _who(request: Request) -> Principal:
    return principal_of(request)  # type: ignore[return-value]


def _sent(data: msgspec.Struct) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}


class DiscountsController(Controller):
    path = "/api/admin/discounts"
    tags = ["admin: discounts"]
    opt = {"feature": "ecommerce"}

    @get("/", responses=errors(), opt={"action": "discounts:read"}, sync_to_thread=True,
         summary="Discount codes and automatic discounts, with their uses so far", description=SHAPE)
    def list(self, request: Request) -> list[dict[str, Any]]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return [discounts.public(d) for d in discounts.all_discounts(conn)]

    @post("/", responses=errors(409, body=True), opt={"action": "discounts:write"}, sync_to_thread=True,
          summary="Create a discount (amounts in minor units, percentages in hundredths)", description=SHAPE)
    def create(self, request: Request, data: JSONBody[DiscountCreate]) -> dict[str, Any]:
        who = _who(request)
        services = services_of(request)
        with services.databases.connection(who.tenant.slug) as conn:
            made = discounts.create(conn, **msgspec.structs.asdict(data))
        services.audit.record("discount.created", actor=who.user.id, tenant_id=who.tenant.id,
                              address=_address(request), discount=made.id, code=made.code)
        return discounts.public(made)

    @get("/{discount_id:int}", responses=errors(), opt={"action": "discounts:read"}, sync_to_thread=True,
         summary="One discount and its uses so far", description=SHAPE)
    def one(self, request: Request, discount_id: Id) -> dict[str, Any]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return discounts.public(discounts.get(conn, discount_id))

    @patch("/{discount_id:int}", responses=errors(409, body=True), opt={"action": "discounts:write"},
           sync_to_thread=True, summary='Change a discount; {"status": "paused"} pauses it, "active" resumes it',
           description=SHAPE + " Orders already placed keep the discount as it was applied to them.")
    def change(self, request: Request, discount_id: Id, data: JSONBody[DiscountChange]) -> dict[str, Any]:
        who = _who(request)
        services = services_of(request)
        changes = _sent(data)
        with services.databases.connection(who.tenant.slug) as conn:
            changed = discounts.update(conn, discount_id, **changes)
        services.audit.record("discount.changed", actor=who.user.id, tenant_id=who.tenant.id,
                              address=_address(request), discount=discount_id, fields=sorted(changes))
        return discounts.public(changed)
