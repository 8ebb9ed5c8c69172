"""Discounts from the command line: list them with their uses, create a code, show, pause and resume one.

Amounts are decimals in the shop's currency ("5.00"), percentages plain numbers ("12.5"), and times
the shop's local time ("2027-03-31 23:59", in the time zone of its settings).
"""

from __future__ import annotations

import click
from rich.markup import escape

from .base import Context, console, handle_errors, main, pass_ctx
from .output import column, json_option, show_record, show_rows
from .shop import _shop_db


def _shop(ctx: Context, slug: str):
    from commerce_api.shop.pricing import Rules

    tenant, conn = _shop_db(ctx, slug)
    rules = Rules.load(conn)
    return tenant, conn, rules.currency, rules.timezone


def _row(conn, d, currency: str, zone: str) -> dict:
    from commerce_api.shop import discount_words

    names, _ = discount_words.catalog(conn)
    return discount_words.row(d, currency, zone, names)


@main.command("discounts")
@click.argument("tenant_slug", metavar="TENANT")
@json_option
@pass_ctx
@handle_errors
def discounts_command(ctx: Context, tenant_slug: str, as_json: bool) -> None:
    """List TENANT's discount codes and automatic discounts, with their uses so far."""
    from commerce_api.shop import discounts

    _, conn, currency, zone = _shop(ctx, tenant_slug)
    try:
        rows = [_row(conn, d, currency, zone) for d in discounts.all_discounts(conn)]
    finally:
        conn.close()
    show_rows([column("discount", "name"), column("takes off", "takes_off"), column("conditions"),
               column(f"window ({zone})", "window"), column("used"), column("status")],
              rows, as_json=as_json, empty="No discounts.")


@main.group("discount")
def discount_group() -> None:
    """One discount: create a code, show it, pause or resume it (see also `tessera discounts`)."""


@discount_group.command("create")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("code")
@click.option("--percent", metavar="N", help="Take N percent off (e.g. 10 or 12.5).")
@click.option("--amount", metavar="X", help="Take a fixed amount off, in the shop's currency (e.g. 5.00).")
@click.option("--free-shipping", is_flag=True, help="Make shipping free.")
@click.option("--shipping", is_flag=True, help="Take the percent or amount off shipping, not the goods.")
@click.option("--products", metavar="SLUGS", help="Only these products (comma-separated slugs).")
@click.option("--categories", metavar="NAMES", help="Only products in these categories (comma-separated).")
@click.option("--title", default="", help="What shoppers see next to the saving (default: the code).")
@click.option("--limit", metavar="N", help="At most N uses in all.")
@click.option("--per-email", metavar="N", help="At most N uses per email address.")
@click.option("--min-subtotal", metavar="X", help="Only for baskets of at least X (e.g. 20.00).")
@click.option("--min-quantity", metavar="N", help="Only with at least N items (of the products it is for).")
@click.option("--starts", metavar="TIME", help='From this local time, e.g. "2027-03-01 09:00".')
@click.option("--ends", metavar="TIME", help='Until this local time, e.g. "2027-03-31 23:59".')
@click.option("--combines", is_flag=True, help="Stack with other combinable discounts.")
@click.option("--paused", is_flag=True, help="Create it paused (resume it later).")
@pass_ctx
@handle_errors
def discount_create(ctx: Context, tenant_slug: str, code: str, percent: str | None, amount: str | None,
                    free_shipping: bool, shipping: bool, products: str | None, categories: str | None, title: str,
                    limit: str | None, per_email: str | None, min_subtotal: str | None, min_quantity: str | None,
                    starts: str | None, ends: str | None, combines: bool, paused: bool) -> None:
    """Create the discount code CODE for TENANT: give one of --percent, --amount or --free-shipping.

    \b
    Examples:
      tessera discount create bakery WELCOME10 --percent 10 --min-subtotal 20.00
      tessera discount create bakery RYE5 --amount 5.00 --products rye --ends "2027-03-31 23:59"
      tessera discount create bakery SHIPFREE --free-shipping --limit 100 --per-email 1
    """
    from commerce_api.shop import discount_words, discounts

    given = [name for name, on in (("--percent", percent is not None), ("--amount", amount is not None),
                                   ("--free-shipping", free_shipping)) if on]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --percent N, --amount X or --free-shipping")
    kind = {"--percent": "percent", "--amount": "amount", "--free-shipping": "free_shipping"}[given[0]]
    target = "shipping" if shipping or kind == "free_shipping" else "products" if products or categories else "order"
    words = {"code": code, "title": title, "kind": kind, "value": percent or amount or "", "target": target,
             "products": products or [], "categories": categories or [], "combines": combines,
             "status": "paused" if paused else "active", "min_subtotal": min_subtotal or "",
             "min_quantity": min_quantity or "", "usage_limit": limit or "", "per_email_limit": per_email or "",
             "starts_at": starts or "", "ends_at": ends or ""}
    tenant, conn, currency, zone = _shop(ctx, tenant_slug)
    try:
        made = discounts.create(conn, **discount_words.from_words(words, currency=currency, zone=zone))
        row = _row(conn, made, currency, zone)
    finally:
        conn.close()
    ctx.services.audit.record("discount.created", tenant_id=tenant.id, discount=made.id, code=made.code, via="cli")
    console.print(f"Created {escape(row['name'])}: {escape(row['takes_off'])}"
                  + (f" ({escape(row['conditions'])})" if row["conditions"] else "") + ".", soft_wrap=True)


@discount_group.command("show")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("code")
@json_option
@pass_ctx
@handle_errors
def discount_show(ctx: Context, tenant_slug: str, code: str, as_json: bool) -> None:
    """Show the discount CODE of TENANT: what it takes off, when, its limits and uses so far."""
    from commerce_api.shop import discount_words

    _, conn, currency, zone = _shop(ctx, tenant_slug)
    try:
        row = _row(conn, discount_words.find(conn, code), currency, zone)
    finally:
        conn.close()
    show_record(row, as_json=as_json)


def _set_status(ctx: Context, tenant_slug: str, code: str, status: str) -> None:
    from commerce_api.shop import discount_words, discounts

    tenant, conn, _, _ = _shop(ctx, tenant_slug)
    try:
        found = discount_words.find(conn, code)
        discounts.update(conn, found.id, status=status)
    finally:
        conn.close()
    ctx.services.audit.record("discount.changed", tenant_id=tenant.id, discount=found.id, fields=["status"],
                              status=status, via="cli")
    console.print(f"{escape(found.label)} is {status}" + (": shoppers can no longer use it." if status == "paused"
                                                          else ": shoppers can use it again."), soft_wrap=True)


@discount_group.command("pause")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("code")
@pass_ctx
@handle_errors
def discount_pause(ctx: Context, tenant_slug: str, code: str) -> None:
    """Pause the discount CODE: baskets stop taking it until it is resumed."""
    _set_status(ctx, tenant_slug, code, "paused")


@discount_group.command("resume")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("code")
@pass_ctx
@handle_errors
def discount_resume(ctx: Context, tenant_slug: str, code: str) -> None:
    """Resume the paused discount CODE."""
    _set_status(ctx, tenant_slug, code, "active")
