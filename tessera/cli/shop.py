"""The shop from the command line: stock and orders."""

from __future__ import annotations

import click
from content.money import Money

from .base import Context, console, handle_errors, main, pass_ctx
from .output import Column, column, json_option, show_rows


# -- shop -------------------------------------------------------------------------------------


def _shop_db(ctx: Context, slug: str):
    tenant = ctx.tenants.registry.get(slug)
    if not tenant.has("ecommerce"):
        raise click.ClickException(f"{slug} has no shop (the ecommerce feature is off)")
    return tenant, ctx.tenants.open_db(slug)


@main.command("stock")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("sku", required=False)
@click.option("--set", "on_hand", type=int, help="Set the quantity on hand (needs SKU).")
@json_option
@pass_ctx
@handle_errors
def stock_command(ctx: Context, tenant_slug: str, sku: str | None, on_hand: int | None, as_json: bool) -> None:
    """Show stock (on hand, reserved by unpaid orders, available), or set a sku's on-hand quantity."""
    from commerce_api.shop.orders import Orders
    from commerce_api.shop.stock import saved_skus

    tenant, conn = _shop_db(ctx, tenant_slug)
    orders = Orders(conn)
    if on_hand is not None:
        if not sku:
            raise click.UsageError("--set needs a SKU")
        orders.set_stock(sku, on_hand, saved_skus=lambda: saved_skus(ctx.tenants.repository(tenant_slug)))
        ctx.services.audit.record("stock.changed", tenant_id=tenant.id, sku=sku, on_hand=on_hand, via="cli")
    rows = [orders.stock(sku)] if sku else orders.stock()
    show_rows([column("sku"), column("on hand", "on_hand"), column("reserved"),
               Column("available", lambda row: row["available"] if row["track_stock"] else "unlimited"),
               Column("tracked", lambda row: "yes" if row["track_stock"] else "no")],
              rows, as_json=as_json)  # type: ignore[arg-type]


@main.command("orders")
@click.argument("tenant_slug", metavar="TENANT")
@click.option("--status", type=click.Choice(["pending", "processing", "shipped", "delivered", "cancelled", "refunded"]))
@click.option("--expire", is_flag=True, help="First cancel unpaid orders whose payment time ran out.")
@click.option("--reconcile", is_flag=True, help="First ask Stripe about unpaid card orders (missed webhooks).")
@json_option
@pass_ctx
@handle_errors
def orders_command(ctx: Context, tenant_slug: str, status: str | None, expire: bool, reconcile: bool,
                   as_json: bool) -> None:
    """List a shop's orders, newest first."""
    from commerce_api.shop.orders import Orders
    from commerce_api.shop.payments import payment_settings

    tenant, conn = _shop_db(ctx, tenant_slug)
    orders = Orders(conn)
    if expire:
        expired = orders.expire_unpaid()
        console.print(f"Expired {len(expired)} unpaid order(s).")
    if reconcile:
        from commerce_api.shop.stripe_gateway import StripeGateway
        from commerce_api.shop.webhooks import reconcile as run_reconcile

        name, keys = payment_settings(tenant, ctx.settings.secret_key)
        if name != "stripe":
            raise click.ClickException(f"{tenant_slug} does not take card payments")
        results = run_reconcile(conn, StripeGateway(keys, tenant.slug, ctx.settings.stripe_api_base))
        console.print(f"Reconciled {len(results)} order(s): " + ", ".join(f"{n} {s}" for n, s in results.items()))
    show_rows([column("number"), column("date", "created_at", short=16), column("email"), column("status"),
               column("payment", "payment_status"), Column("total", lambda row: Money(row["total"], row["currency"]))],
              orders.list(status=status), as_json=as_json)
