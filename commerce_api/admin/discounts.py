"""Discounts in the admin: the list (what each takes off, when, uses so far), a form to create or edit
one in the shop's own currency and local time, and pause and resume buttons."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ..errors import ApiError
from ..routes.auth import _address
from ..routes.params import Id
from ..security import services_of
from ..shop import discount_words, discounts
from ..shop.pricing import Rules
from .common import Form, back, page, text, values, who

SHOP = {"feature": "ecommerce"}
WORDS = ("code", "title", "kind", "value", "target", "min_subtotal", "min_quantity", "starts_at", "ends_at",
         "usage_limit", "per_email_limit", "status")
BLANK = {"code": "", "title": "", "kind": "percent", "value": "", "target": "order", "products": [], "categories": [],
         "min_subtotal": "", "min_quantity": "", "starts_at": "", "ends_at": "", "usage_limit": "",
         "per_email_limit": "", "combines": False, "status": "active"}


@get("/admin/discounts", opt={"action": "discounts:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def listing(request: Request) -> Response:
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        rules = Rules.load(conn)
        names, _ = discount_words.catalog(conn)
        rows = [discount_words.row(d, rules.currency, rules.timezone, names) for d in discounts.all_discounts(conn)]
    return page(request, "discounts.html", title="Discounts", section="discounts", rows=rows, zone=rules.timezone,
                can_write=member.can("discounts:write"))


def _form(request: Request, http_status: int = 200, *, discount_id: int | None, fields: dict[str, Any],
          error: str = "", field: str = "", uses: int = 0) -> Response:
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        rules = Rules.load(conn)
        names, categories = discount_words.catalog(conn)
    # A product or category no longer published still shows, so that saving keeps it.
    products = sorted({**names, **{p: p for p in fields["products"] if p not in names}}.items(),
                      key=lambda item: item[1].lower())
    categories = sorted({*categories, *fields["categories"]})
    title = f"Discount {fields['code'] or fields['title']}" if discount_id else "New discount"
    return page(request, "discount.html", http_status, title=title, section="discounts", discount_id=discount_id,
                fields=fields, form_error=error, field=field, products=products, categories=categories,
                currency=rules.currency, zone=rules.timezone, uses=uses, can_write=member.can("discounts:write"))


@get("/admin/discounts/new", opt={"action": "discounts:write", **SHOP}, sync_to_thread=True, include_in_schema=False)
def new(request: Request) -> Response:
    return _form(request, discount_id=None, fields=dict(BLANK))


@get("/admin/discounts/{discount_id:int}", opt={"action": "discounts:read", **SHOP}, sync_to_thread=True,
     include_in_schema=False)
def edit(request: Request, discount_id: Id) -> Response:
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        rules = Rules.load(conn)
        found = discounts.get(conn, discount_id)
    return _form(request, discount_id=discount_id, uses=found.uses,
                 fields=discount_words.to_words(found, currency=rules.currency, zone=rules.timezone))


def _submitted(data: dict[str, Any]) -> dict[str, Any]:
    """The form as typed, to check and, on a refusal, to show again unchanged."""
    fields = {name: text(data, name) for name in WORDS}
    fields["products"] = values(data, "products")
    fields["categories"] = values(data, "categories")
    fields["combines"] = bool(text(data, "combines"))
    if fields["kind"] == "free_shipping":
        fields["target"] = "shipping"
    return fields


@post("/admin/discounts/save", opt={"action": "discounts:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def save(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    fields = _submitted(data)
    raw_id = text(data, "id")
    discount_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and int(raw_id) < 2**63 else None
    uses = 0
    try:
        with services.databases.connection(member.tenant.slug) as conn:
            rules = Rules.load(conn)
            words = {**fields, "products": fields["products"] if fields["target"] == "products" else [],
                     "categories": fields["categories"] if fields["target"] == "products" else []}
            values_ = discount_words.from_words(words, currency=rules.currency, zone=rules.timezone)
            if discount_id:
                uses = discounts.get(conn, discount_id).uses
                saved = discounts.update(conn, discount_id, **values_)
            else:
                saved = discounts.create(conn, **values_)
    except ApiError as exc:
        if exc.status == 404:
            raise
        return _form(request, exc.status, discount_id=discount_id, fields=fields, error=exc.message,
                     field=exc.field or "", uses=uses)
    services.audit.record("discount.changed" if discount_id else "discount.created", actor=member.user.id,
                          tenant_id=member.tenant.id, address=_address(request), discount=saved.id, code=saved.code)
    return back(request, "/discounts", saved=f"Saved {discount_words.name(saved)}.")


def _status(request: Request, discount_id: int, status: str) -> Response:
    member = who(request)
    services = services_of(request)
    with services.databases.connection(member.tenant.slug) as conn:
        changed = discounts.update(conn, discount_id, status=status)
    services.audit.record("discount.changed", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), discount=discount_id, fields=["status"], status=status)
    done = "paused: shoppers can no longer use it" if status == "paused" else "active again"
    return back(request, "/discounts", saved=f"{discount_words.name(changed)} is {done}.")


@post("/admin/discounts/{discount_id:int}/pause", opt={"action": "discounts:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def pause(request: Request, discount_id: Id) -> Response:
    return _status(request, discount_id, "paused")


@post("/admin/discounts/{discount_id:int}/resume", opt={"action": "discounts:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def resume(request: Request, discount_id: Id) -> Response:
    return _status(request, discount_id, "active")


ROUTES = [listing, new, edit, save, pause, resume]
