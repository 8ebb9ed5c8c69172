"""Webhook endpoints from the command line: add (the secret printed once), list, remove, test."""

from __future__ import annotations

import click
from rich.markup import escape

from .base import Context, console, handle_errors, main, pass_ctx
from .output import Column, column, json_option, show_rows


@main.group("webhooks")
def webhooks_group() -> None:
    """A site's webhook endpoints: signed JSON POSTs when orders, forms, stock or publishes change."""


def _open(ctx: Context, slug: str):
    return ctx.tenants.registry.get(slug), ctx.tenants.open_db(slug)


@webhooks_group.command("add")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True,
              help="An event to send (repeat the option); '*' for every event. E.g. --event order.paid")
@click.option("--description", default="", help="What the endpoint is for (shown in listings).")
@pass_ctx
@handle_errors
def webhooks_add(ctx: Context, tenant_slug: str, url: str, events: tuple[str, ...], description: str) -> None:
    """Add an endpoint to TENANT and print its signing secret (shown this once)."""
    from commerce_api.notify import webhooks

    tenant, conn = _open(ctx, tenant_slug)
    try:
        endpoint, secret = webhooks.add(conn, url, list(events), description, "cli",
                                        secret_key=ctx.settings.secret_key, allow=ctx.settings.webhook_allow)
    finally:
        conn.close()
    ctx.services.audit.record("webhook.added", tenant_id=tenant.id, endpoint=endpoint["id"], url=endpoint["url"],
                              events=endpoint["events"], via="cli")
    console.print(f"Added endpoint {endpoint['id']} for {escape(', '.join(endpoint['events']))}.")
    console.print("Signing secret (copy it now, it is not shown again):")
    click.echo(secret)


@webhooks_group.command("list")
@click.argument("tenant_slug", metavar="TENANT")
@json_option
@pass_ctx
@handle_errors
def webhooks_list(ctx: Context, tenant_slug: str, as_json: bool) -> None:
    """List TENANT's endpoints, with their state (secrets are never shown)."""
    from commerce_api.notify import webhooks

    _, conn = _open(ctx, tenant_slug)
    try:
        rows = webhooks.list_endpoints(conn)
    finally:
        conn.close()
    show_rows([column("id"), column("url"), column("events"),
               Column("state", lambda r: "on" if r["enabled"] else f"off: {r['disabled_reason']}"),
               column("failures"), column("secret", "secret_hint"), column("added", "created_at", short=16)],
              rows, as_json=as_json, empty="No webhook endpoints.")


@webhooks_group.command("remove")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("endpoint_id", metavar="ID", type=click.IntRange(1, 2**63 - 1))
@pass_ctx
@handle_errors
def webhooks_remove(ctx: Context, tenant_slug: str, endpoint_id: int) -> None:
    """Remove endpoint ID from TENANT; deliveries still waiting for it are dropped."""
    from commerce_api.notify import webhooks

    tenant, conn = _open(ctx, tenant_slug)
    try:
        removed = webhooks.remove(conn, endpoint_id)
    finally:
        conn.close()
    ctx.services.audit.record("webhook.removed", tenant_id=tenant.id, endpoint=endpoint_id, url=removed["url"],
                              via="cli")
    console.print(f"Removed endpoint {endpoint_id} ({escape(removed['url'])}).")


@webhooks_group.command("test")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("endpoint_id", metavar="ID", type=click.IntRange(1, 2**63 - 1))
@pass_ctx
@handle_errors
def webhooks_test(ctx: Context, tenant_slug: str, endpoint_id: int) -> None:
    """Send endpoint ID a webhook.test event now and print how it answered."""
    from commerce_api.notify import webhooks

    from ..app import notify

    _, conn = _open(ctx, tenant_slug)
    try:
        webhooks.send_test(conn, endpoint_id)
        notify(ctx.settings, tenant_slug)  # sends now; a failed try is retried by the job runner later
        latest = webhooks.deliveries(conn, endpoint_id, limit=1)[0]
    finally:
        conn.close()
    took = f" in {latest['duration_ms']} ms" if latest["duration_ms"] is not None else ""
    if latest["status"] == "sent":
        console.print(f"Delivered {latest['delivery']}: the endpoint answered {latest['status_code']}{took}.")
        return
    raise click.ClickException(f"not delivered ({latest['delivery']}){took}: {latest['error']}")
