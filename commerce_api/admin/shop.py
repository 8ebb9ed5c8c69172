"""The shop: orders (filters, detail, transitions, payment, refund) and products (editor, live stock)."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from content.errors import ContentErrors, PathError
from content.gitrepo import safe_path
from content.money import Money, parse_price

from ..errors import ApiError, BadRequest
from ..routes.staff import RefundLine, RefundRequest, refund_order
from ..routes.staff import wanted as refunds_wanted
from ..security import admin_base, services_of
from ..shop.carriers import CARRIERS
from ..shop import refunds
from ..shop.orders import STATUSES, TRANSITIONS, Orders
from . import tax_queries
from .common import (Form, Rejected, back, commit, media_names, page, paged, parse, read_only, read_only_note, repo_of,
                     save_base, text, values, who)
from .common import number as whole_number
from . import variants
from .content import _preview, default_message, front_matter, readable, remove_file, render_file

SHOP = {"feature": "ecommerce"}
PAYMENT_STATUSES = ("pending", "paid", "failed", "partially_refunded", "refunded")
PRODUCT_TEXT = ("name", "slug", "sku", "price", "compare_price", "status", "weight", "excerpt", "meta_title",
                "meta_description", "categories")
_NAME = re.compile(r"[^a-z0-9]+")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- orders -------------------------------------------------------------------------------------


@get("/admin/orders", opt={"action": "orders:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def orders(request: Request, status: FromQuery[str] = "", payment: FromQuery[str] = "", since: FromQuery[str] = "",
           until: FromQuery[str] = "") -> Response:
    for name, day in (("since", since), ("until", until)):
        if day and not _DAY.match(day):
            raise BadRequest(f"{name} must be a date like 2026-11-30", field=name)
    from datetime import date, timedelta

    end = (date.fromisoformat(until) + timedelta(days=1)).isoformat() if until else None  # the whole last day
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        rows = Orders(conn).list(status=status or None, payment_status=payment or None, since=since or None,
                                 until=end, limit=200)
        delivery = tax_queries.delivery_names(conn, [row["number"] for row in rows])
    for row in rows:
        row["total_text"] = str(Money(row["total"], row["currency"]))
        row["delivery"] = delivery.get(row["number"], "")
    from urllib.parse import urlencode

    csv = admin_base(request) + "/api/admin/orders.csv?" + urlencode({k: v for k, v in {"status": status, "payment_status": payment,
                                                                    "since": since, "until": end}.items() if v})
    return page(request, "orders.html", title="Orders", section="orders", orders=rows, status=status, payment=payment,
                since=since, until=until, statuses=STATUSES, payment_statuses=PAYMENT_STATUSES, csv=csv)


@get("/admin/orders/{number:int}", opt={"action": "orders:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def order_detail(request: Request, number: FromPath[int]) -> Response:
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        order = Orders(conn).get(number)
    currency = order["currency"]
    hidden = {"refunded"} | ({"processing"} if order["status"] == "pending" else set())
    taken: dict[str, int] = {}  # units refunded so far, per sku
    for done in order["refunds"]:
        for line in done["lines"]:
            taken[line["sku"]] = taken.get(line["sku"], 0) + line["quantity"]
    return page(request, "order.html", title=f"Order {number}", section="orders", order=order, details=delivery_of(order),
                money=lambda minor: str(Money(minor, currency)), can_write=who(request).can("orders:write"),
                next_statuses=sorted(TRANSITIONS[order["status"]] - hidden), status_actions=STATUS_ACTIONS,
                carriers=[name for name, _ in CARRIERS.values()],
                refundable=order["payment_status"] in refunds.REFUNDABLE and order["refunded"] < order["total"],
                open_units={l["sku"]: l["quantity"] - taken.get(l["sku"], 0) for l in order["lines"]},
                shipping_open=bool(order["shipping"]) and not any(r["shipping"] for r in order["refunds"]))


def delivery_of(order: dict) -> dict[str, Any]:
    """How the order goes and is taxed, with every field present: orders placed before shipping zones
    and tax by region have no option, pickup, VAT number or tax lines (null or missing)."""
    option = order.get("shipping_option") or {}
    pickup = order.get("pickup")
    return {"name": option.get("name") or "", "estimate": option.get("estimate") or "",
            "pickup": {k: str(pickup.get(k) or "") for k in ("name", "address", "start", "end", "label")}
            if isinstance(pickup, dict) else None,
            "vat_number": order.get("vat_number") or "", "tax_note": order.get("tax_note") or "",
            "tax_lines": order.get("tax_lines") or []}


# What each status button says: an explicit action, never a preselected choice.
STATUS_ACTIONS = {"processing": "Mark as processing", "shipped": "Mark as shipped", "delivered": "Mark as delivered",
                  "cancelled": "Cancel order", "refunded": "Mark as refunded"}


def _order_action(request: Request, number: int, action, done: str) -> Response:
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        try:
            action(conn, member)
        except ApiError as exc:
            return back(request, f"/orders/{number}", error=exc.message)
    return back(request, f"/orders/{number}", saved=done)


@post("/admin/orders/{number:int}/status", opt={"action": "orders:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def order_status(request: Request, number: FromPath[int], data: Form) -> Response:
    """Tracking and note, and a status only when a status button was pressed. Cancelling a paid
    order first says what happens to the payment and asks again."""
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        order = Orders(conn).get(number)
    status = text(data, "status") or order["status"]
    if status == "cancelled" and order["payment_status"] == "paid" and text(data, "confirm") != "yes":
        return page(request, "cancel.html", title=f"Cancel order {number}?", section="orders", order=order,
                    money=lambda minor: str(Money(minor, order["currency"])),
                    tracking_number=text(data, "tracking_number"), carrier=text(data, "carrier"),
                    note=text(data, "note"))
    done = "Order updated." if status == order["status"] else f"Order {number} is now {status}."
    return _order_action(request, number, lambda conn, member: Orders(conn).set_status(
        number, status, actor=member.user.email, note=text(data, "note"),
        tracking_number=text(data, "tracking_number") or None, carrier=text(data, "carrier") or None), done)


@post("/admin/orders/{number:int}/paid", opt={"action": "orders:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def order_paid(request: Request, number: FromPath[int]) -> Response:
    return _order_action(request, number, lambda conn, member: Orders(conn).mark_paid(number, actor=member.user.email),
                         "Payment recorded.")


@post("/admin/orders/{number:int}/refund", opt={"action": "orders:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def order_refund(request: Request, number: FromPath[int], data: Form) -> Response:
    """Refund everything left (the one-button form), or what the refund form chose: first a page
    that shows what it comes to and asks again, then the refund itself, once however often sent."""
    config = services_of(request).config
    if text(data, "partial") != "yes":
        return _order_action(request, number, lambda conn, member: refund_order(
            conn, member, number, config.stripe_api_base, config.secret_key), "Refunded in full.")
    member = who(request)
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        order = Orders(conn).get(number)
        try:
            chosen = _refund_form(data, order)
            plan = refunds.preview(conn, number, refunds_wanted(chosen), amount=chosen.amount,
                                   shipping=chosen.shipping)
        except ApiError as exc:
            return back(request, f"/orders/{number}#refund", error=exc.message)
    money = lambda minor: str(Money(minor, order["currency"]))  # noqa: E731
    if text(data, "confirm") != "yes":
        return page(request, "refund.html", title=f"Refund {money(plan.amount)} of order {number}?", section="orders",
                    order=order, plan=plan, money=money, form=_refund_fields(data, order),
                    key=secrets.token_urlsafe(18))
    key = text(data, "key")
    return _order_action(request, number, lambda conn, member: refund_order(
        conn, member, number, config.stripe_api_base, config.secret_key, chosen, f"admin:{key}" if key else None),
        f"Refunded {money(plan.amount)}.")


def _refund_form(data: dict[str, Any], order: dict) -> RefundRequest:
    """The refund form's fields (``quantity.<sku>``, ``restock.<sku>``, ``shipping``, ``amount``,
    ``reason``) as the API's refund request; a line left at 0 is not refunded."""
    lines = []
    for line in order["lines"]:
        quantity = whole_number(data, f"quantity.{line['sku']}", label=f"The quantity of {line['sku']}") \
            if text(data, f"quantity.{line['sku']}") else 0
        if quantity:
            lines.append(RefundLine(line["sku"], quantity, bool(text(data, f"restock.{line['sku']}"))))
    amount = None
    if text(data, "amount"):
        try:
            amount = parse_price(text(data, "amount"), order["currency"]).amount
        except ValueError as exc:
            raise BadRequest(f"Amount: {exc}", field="amount") from None
    chosen = RefundRequest(lines, amount, bool(text(data, "shipping")), text(data, "reason"))
    if not lines and amount is None and not chosen.shipping:
        raise BadRequest("Choose what to refund: a quantity of a line, the shipping or an amount", field="lines")
    return chosen


def _refund_fields(data: dict[str, Any], order: dict) -> dict[str, str]:
    """The chosen fields again, for the confirmation form to send."""
    names = [f"{kind}.{line['sku']}" for line in order["lines"] for kind in ("quantity", "restock")]
    return {name: text(data, name) for name in (*names, "shipping", "amount", "reason") if text(data, name)}


# -- products -----------------------------------------------------------------------------------


def _product_path(path: str) -> str:
    try:
        path = safe_path(path)
    except PathError as exc:
        raise BadRequest(str(exc), field="path") from None
    if not (path.startswith("products/") and path.endswith(".md") and path.count("/") == 1):
        raise BadRequest("only products/*.md can be edited here", field="path")
    return path


@get("/admin/products", opt={"action": "products:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def products(request: Request, q: FromQuery[str] = "", n: FromQuery[int] = 1) -> Response:
    source = repo_of(request).source()
    problem = None
    try:
        items = parse(request, source).products
    except ContentErrors as exc:
        items, problem = (), f"The site has {len(exc.errors)} problem(s): {exc.errors[0]}"
    finally:
        source.close()
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        stock = {s["sku"]: s for s in Orders(conn).stock()}  # type: ignore[union-attr]
    rows, locked = [], read_only(request)
    for product in items:
        skus = [v.sku for v in product.variants]
        if q and q.lower() not in " ".join([product.name, product.excerpt, *skus, *product.categories]).lower():
            continue
        known = [stock[s] for s in skus if s in stock]
        rows.append({"path": product.path, "name": product.name, "status": product.status, "price": str(product.price),
                     "skus": ", ".join(skus), "variants": len(product.variants),
                     "available": sum(s["available"] for s in known) if known else None,
                     "read_only": product.path in locked})
    shown, paging = paged(rows, n)
    return page(request, "products.html", title="Products", section="products", rows=shown, q=q, error=problem,
                paging=paging, more=f"{admin_base(request)}/products?q={quote(q)}", can_write=who(request).can("products:write"))


def _product_fields(text_: str) -> dict[str, Any]:
    data, body = front_matter(text_)
    fields: dict[str, Any] = {name: "" for name in PRODUCT_TEXT}
    for name in PRODUCT_TEXT:
        value = data.get(name)
        fields[name] = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
    fields["status"] = fields["status"] or "active"
    fields["featured"] = bool(data.get("featured"))
    fields["track_stock"] = data.get("track_stock", True) is not False
    fields["images"] = [str(i) for i in data.get("images") or []]
    found = variants.from_file(data)
    fields["option_names"], fields["rows"] = found.option_names, found.rows
    fields["body"] = body
    return fields


def _product_file(form: dict[str, Any], keep: dict, original: bytes | None = None) -> bytes:
    """The file the form describes. Keys the form does not show are kept; so are the variants when
    the form carries no rows at all (a client that predates them)."""
    data = {k: v for k, v in keep.items() if k not in (*PRODUCT_TEXT, "featured", "track_stock", "images")}
    for name in PRODUCT_TEXT:
        value = text(form, name)
        if not value or (name == "status" and value == "active" and "status" not in keep):
            continue
        if name == "categories":
            data[name] = [c.strip() for c in value.split(",") if c.strip()]
        elif name == "weight" and value.isdigit():
            data[name] = int(value)
        else:
            data[name] = value
    if text(form, "featured"):
        data["featured"] = True
    if not text(form, "track_stock"):
        data["track_stock"] = False
    elif "track_stock" in keep:
        data["track_stock"] = True
    if images := values(form, "images"):
        data["images"] = images
    if "option_names" in form or any(k.startswith("variant.") for k in form):
        data = variants.apply(variants.from_form(form), data)
    return render_file(data, str(form.get("body", "")), original)


def _new_product_path(form: dict[str, Any]) -> str:
    name = _NAME.sub("-", (text(form, "slug") or text(form, "name")).lower()).strip("-")[:80]
    if not name:
        raise BadRequest("give the product a name", field="name")
    return f"products/{name}.md"


def _product_editor(request: Request, http_status: int = 200, extra_rows: int = 0, **context: Any) -> Response:
    member = who(request)
    context.setdefault("errors", [])
    context.setdefault("conflict", None)
    context.setdefault("message", "")
    context.setdefault("read_only", read_only_note(request, context["path"]) if context.get("exists") else "")
    fields = context["fields"]
    # The product's images first, in the file's order (the first is its main picture): a save sends
    # the ticked boxes in page order, so any other order would reorder them. Then the rest of Media.
    chosen = list(dict.fromkeys(fields.get("images") or []))
    media = chosen + [m for m in media_names(request) if m not in chosen]
    skus = [r.sku for r in fields["rows"] if r.sku] or ([fields["sku"]] if fields.get("sku") else [])
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        levels = {s["sku"]: s for s in Orders(conn).stock()}  # type: ignore[union-attr]
    for row in fields["rows"]:
        if row.sku in levels and not row.stock:
            row.stock = str(levels[row.sku]["on_hand"])
    fields["rows"] = variants.shown(variants.Variants(fields["option_names"], fields["rows"]))
    fields["rows"] += [variants.Row() for _ in range(extra_rows)]
    stock = [{**levels[sku], "unpublished": False} if sku in levels else {"sku": sku, "unpublished": True} for sku in skus]
    return page(request, "product.html", http_status, title="Edit product" if context.get("exists") else "New product",
                section="products", media=media, stock=stock,
                can_write=member.can("products:write") and not context["read_only"],
                can_stock=member.can("inventory:write"), **context)


@get("/admin/products/edit", opt={"action": "products:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def product_form(request: Request, path: FromQuery[str] = "") -> Response:
    repo = repo_of(request)
    if not path:
        return _product_editor(request, path="", base=repo.head(), exists=False, fields=_product_fields(""))
    path = _product_path(path)
    current = repo.read(path)
    with readable(path, admin_base(request)):
        fields = _product_fields(current.decode(errors="replace") if current else "")
    return _product_editor(request, path=path, base=repo.head(), exists=current is not None, fields=fields)


@post("/admin/products/save", opt={"action": "products:write", **SHOP}, sync_to_thread=True, include_in_schema=False)
def product_save(request: Request, data: Form) -> Response:
    """Save the product (a commit), then the stock typed into its variant rows. "Add a row" sends the
    form here too: it comes back with one more blank row and nothing saved, so no script is needed."""
    repo, member = repo_of(request), who(request)
    new_file = not text(data, "path")
    path = _new_product_path(data) if new_file else _product_path(text(data, "path"))
    current = repo.read(path)
    message = text(data, "message") or default_message("Create" if new_file else "Update", text(data, "name"), path)

    def again(status: int, errors: list[str], conflict=None, head: str = "", extra_rows: int = 0) -> Response:
        typed = variants.from_form(data)
        fields = _product_fields(render_file({}, "").decode()) | {
            name: text(data, name) for name in PRODUCT_TEXT} | {
            "featured": bool(text(data, "featured")), "track_stock": bool(text(data, "track_stock")),
            "images": values(data, "images"), "option_names": typed.option_names, "rows": typed.rows,
            "body": str(data.get("body", ""))}
        return _product_editor(request, status, extra_rows, path="" if new_file else path, base=text(data, "base"),
                               exists=not new_file, fields=fields, errors=errors, conflict=conflict,
                               message=text(data, "message"))

    if text(data, "add_row"):
        return again(200, [], extra_rows=1)
    if new_file and current is not None:
        return again(409, [f"{path} already exists: pick another name or slug"])
    with services_of(request).databases.connection(member.tenant.slug) as conn:
        on_hand = {s["sku"]: s["on_hand"] for s in Orders(conn).stock()}  # type: ignore[union-attr]
    stock = variants.stock_changes(variants.from_form(data), on_hand)
    if stock and not member.can("inventory:write"):
        return again(403, [f"Your role ({member.role or 'none'}) may not change stock: leave the stock of "
                           f"{', '.join(sorted(stock))} as it was"])
    try:
        new = _product_file(data, front_matter(current.decode())[0] if current else {}, current)
        commit(request, {path: new}, message, save_base(data))
    except Rejected as exc:
        return again(exc.status, exc.errors, exc.conflict, exc.head)
    try:
        changed = _set_stock(request, stock)
    except ApiError as exc:
        return back(request, f"/products/edit?path={path}", error=f"Saved, but the stock was not: {exc.message}")
    done = f" Stock updated for {', '.join(changed)}." if changed else ""
    return back(request, f"/products/edit?path={path}", saved="Saved. Publish to put it in the shop." + done)


def _set_stock(request: Request, levels: dict[str, int]) -> list[str]:
    """Set units on hand (sku → units), audited; a sku saved but not yet published can be stocked
    ahead of going on sale. Returns the skus changed."""
    from ..shop.stock import saved_skus

    member, services = who(request), services_of(request)
    saved = lambda: saved_skus(repo_of(request), lambda source: parse(request, source))  # noqa: E731
    changed = []
    with services.databases.connection(member.tenant.slug) as conn:
        orders_ = Orders(conn)
        current = {s["sku"]: s["on_hand"] for s in orders_.stock()}  # type: ignore[union-attr]
        for sku, units in sorted(levels.items()):
            if current.get(sku, 0) == units:
                continue
            orders_.set_stock(sku, units, saved_skus=saved)
            services.audit.record("stock.changed", actor=member.user.id, tenant_id=member.tenant.id, sku=sku,
                                  on_hand=units)
            changed.append(sku)
    return changed


@post("/admin/products/remove", opt={"action": "products:write", **SHOP}, sync_to_thread=True, include_in_schema=False)
def product_remove(request: Request, data: Form) -> Response:
    """Remove a product's file (orders and stock keep their records). Always allowed by the plan: it is
    how a shop over its limit gets back under it."""
    path = _product_path(text(data, "path"))
    return remove_file(request, path, "/products", f"/products/edit?path={quote(path)}", "name")


@post("/admin/products/preview", opt={"action": "products:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def product_preview(request: Request, data: Form) -> Response:
    repo = repo_of(request)
    path = _new_product_path(data) if not text(data, "path") else _product_path(text(data, "path"))
    current = repo.read(path)
    try:
        new = _product_file(data, front_matter(current.decode())[0] if current else {}, current)
    except Rejected as exc:
        return Response("\n".join(exc.errors), status_code=422, media_type="text/plain")
    return _preview(request, path, new)


@post("/admin/stock", opt={"action": "inventory:write", **SHOP}, sync_to_thread=True, include_in_schema=False)
def stock_save(request: Request, data: Form) -> Response:
    """Set stock on hand for the skus in the form (``on_hand.<sku>``); takes effect at once, audited."""
    member = who(request)
    services = services_of(request)
    from ..shop.stock import saved_skus

    path = _product_path(text(data, "path"))
    changed = []
    saved = lambda: saved_skus(repo_of(request), lambda source: parse(request, source))  # noqa: E731
    with services.databases.connection(member.tenant.slug) as conn:
        orders_ = Orders(conn)
        current = {s["sku"]: s["on_hand"] for s in orders_.stock()}  # type: ignore[union-attr]
        for key in sorted(data):
            if not key.startswith("on_hand."):
                continue
            sku, raw = key.removeprefix("on_hand."), text(data, key)
            if not (raw.isascii() and raw.isdigit()) or int(raw) > 2**63 - 1:  # "²" passes isdigit; 64-bit column
                return back(request, f"/products/edit?path={path}", error=f"Stock for {sku} must be a whole number of at least 0")
            if current.get(sku, 0) == int(raw):
                continue
            try:  # a product saved but not yet published can be stocked ahead of going on sale
                orders_.set_stock(sku, int(raw), saved_skus=saved)
            except ApiError as exc:
                return back(request, f"/products/edit?path={path}", error=exc.message)
            services.audit.record("stock.changed", actor=member.user.id, tenant_id=member.tenant.id, sku=sku,
                                  on_hand=int(raw))
            changed.append(sku)
    return back(request, f"/products/edit?path={path}",
                saved=f"Stock updated for {', '.join(changed)}." if changed else "Stock unchanged.")


ROUTES = [orders, order_detail, order_status, order_paid, order_refund, products, product_form, product_save, product_remove,
          product_preview, stock_save]
