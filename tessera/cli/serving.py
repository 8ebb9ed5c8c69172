"""Serving everything, and the demo."""

from __future__ import annotations

import click
from rich.markup import escape

from commerce_api.errors import NotFound
from content.registry import parse_features

from ..settings import Settings

from .base import Context, console, handle_errors, main, pass_ctx


# -- serving ----------------------------------------------------------------------------------


def _serve(settings: Settings, workers: int = 1) -> None:
    """Serve in this process; builds, publishes and mail run in ``workers`` worker processes."""
    import subprocess
    import sys

    import uvicorn

    from ..app import make_app

    import os

    # Each worker watches this process: if it is killed outright, they stop instead of living on.
    started = [subprocess.Popen([sys.executable, "-m", "tessera.cli", "worker", "--parent", str(os.getpid())])
               for _ in range(workers)]
    try:
        uvicorn.run(make_app(settings, jobs=False), host=settings.host, port=settings.port, log_level="warning",
                    proxy_headers=False, server_header=False)
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


WORKERS_OPTION = click.option("--workers", type=click.IntRange(0, 64), default=1, show_default=True,
                              help="Worker processes to start for builds, publishes and mail "
                                   "(0: none here; run `tessera worker` elsewhere).")


@main.command("serve")
@WORKERS_OPTION
@pass_ctx
@handle_errors
def serve(ctx: Context, workers: int) -> None:
    """Serve the API and every tenant's site (by Host) on TESSERA_HOST:TESSERA_PORT, with worker
    processes for builds and publishes (the serving process never builds)."""
    settings = ctx.settings
    console.print(f"Serving sites and the API on http://{settings.host}:{settings.port}/ "
                  f"(sites at http://<tenant>.{settings.base_domain}:{settings.port}/, docs at /api/docs) "
                  f"with {workers} worker{'' if workers == 1 else 's'}; platform state in "
                  f"{settings.platform_db_shown}; Ctrl-C stops.")
    _serve(settings, workers)


@main.command("worker")
@click.option("--parent", type=int, default=None, hidden=True,
              help="The pid of the server that started this worker: stop when it is gone.")
@pass_ctx
@handle_errors
def worker(ctx: Context, parent: int | None) -> None:
    """Take jobs from the queue until stopped (SIGTERM or Ctrl-C): builds and publishes one at a time,
    notifications, scheduled publishes and the daily housekeeping. Start as many as the machine's
    cores allow; they share one queue."""
    from ..worker import Worker

    console.print(f"Worker {__import__('os').getpid()} taking jobs from {ctx.settings.platform_db_shown}.")
    Worker(ctx.settings, parent=parent).run()


@main.command("prune")
@pass_ctx
@handle_errors
def prune(ctx: Context) -> None:
    """Delete what TESSERA_RETENTION no longer keeps: finished jobs, old sessions and sign-in codes,
    finished outbox events, applied payment events and old audit entries (the server also does this
    once a day). Orders, stock, deploys, form messages and traffic are never pruned."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..housekeeping import prune_all

    sites = list((ctx.settings.data_dir / "tenants").glob("*/tenant.db"))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("Pruning", total=len(sites))
        deleted = prune_all(ctx.settings, progress=lambda slug: bar.advance(task))
    keep = ctx.settings.retention
    console.print(f"Kept: finished jobs {keep.jobs} days, sessions and codes {keep.sessions}, outbox {keep.outbox}, "
                  f"payment events {keep.payments}, audit log {keep.audit}.")
    done = [f"{n} {table.replace('_', ' ')}" for table, n in deleted.items() if n]
    console.print(f"[green]pruned[/green] {', '.join(done)}" if done else "Nothing to prune.")


# -- demo -------------------------------------------------------------------------------------

# The bakery is a shop with three staff on Business (room to invite someone and add a domain); the
# studio shows the Starter plan and its limits.
DEMO_TENANTS = (
    ("bakery", "Rye & Crumb Bakery", "cms,ecommerce,analytics", "bakery", "business"),
    ("studio", "Studio Lumen", "cms,ecommerce,analytics", "studio", "starter"),
)


def _live(ctx: Context, slug: str) -> bool:
    conn = ctx.tenants.open_db(slug)
    try:
        return conn.execute("SELECT 1 FROM deploys WHERE status = 'live' LIMIT 1").fetchone() is not None
    finally:
        conn.close()


def _seed_stock(ctx: Context, slug: str) -> None:
    """Give every demo sku some stock the first time, so the demo shop can sell."""
    from commerce_api.shop.orders import Orders

    conn = ctx.tenants.open_db(slug)
    try:
        orders = Orders(conn)
        for row in orders.stock():  # type: ignore[union-attr]
            if row["track_stock"] and row["on_hand"] == 0 and row["reserved"] == 0:
                orders.set_stock(row["sku"], 24)
    finally:
        conn.close()


DEMO_CODE = "WELCOME10"  # 10 % off orders of 20.00 or more (in the shop's currency), to try in the basket


def _seed_discount(ctx: Context, slug: str) -> None:
    """The demo shop's welcome code, the first time (running the demo again keeps whatever it became)."""
    from commerce_api.shop import discounts

    conn = ctx.tenants.open_db(slug)
    try:
        if conn.execute("SELECT 1 FROM discounts WHERE code = ?", (DEMO_CODE,)).fetchone() is None:
            discounts.create(conn, code=DEMO_CODE, title="Welcome: 10 % off", kind="percent",
                             value=discounts.percent("10"), min_subtotal=2000)
    finally:
        conn.close()


DEMO_USERS = (
    ("admin@tessera.test", "Platform Admin", True, ()),
    ("owner@bakery.test", "Morag (Rye & Crumb)", False, (("bakery", "owner"),)),
    ("owner@studio.test", "Ines Varga", False, (("studio", "owner"),)),
    ("shop@bakery.test", "Callum (orders)", False, (("bakery", "shop_manager"),)),
    ("editor@agency.test", "Agency Editor", False, (("bakery", "editor"), ("studio", "editor"))),
)


@main.command("demo")
@click.option("--no-serve", is_flag=True, help="Set everything up and exit instead of serving.")
@pass_ctx
@handle_errors
def demo(ctx: Context, no_serve: bool) -> None:
    """Create the demo tenants and users, publish both sites, print URLs and logins, then serve.

    Safe to run again: what exists is kept.
    """
    from content.errors import TesseraError as _Error

    from ..sites import publish_tenant

    settings = ctx.settings
    for slug, name, features, starter, plan in DEMO_TENANTS:
        if ctx.tenants.registry.find(slug) is None:
            ctx.tenants.create(slug, name, parse_features(features), starter=starter, plan=plan)
            console.print(f"Created demo tenant [bold]{slug}[/bold] from sites/{starter}.")
    services = ctx.services
    for email, name, superadmin, roles in DEMO_USERS:
        try:
            account = services.users.by_email(email)
        except NotFound:
            account = services.users.create(email, settings.demo_password, name=name, superadmin=superadmin)
        for slug, role in roles:
            tenant = ctx.tenants.registry.get(slug)
            if services.users.role(account.id, tenant.id) != role:
                services.users.grant(account.id, tenant.id, role)
    for t in ctx.tenants.registry.all():
        if _live(ctx, t.slug):  # running the demo again never overrides a rollback or a newer publish
            console.print(f"[bold]{t.slug}[/bold] is already live; publish it from the admin or with "
                          f"`tessera publish {t.slug}`.")
            continue
        try:
            _, deploy = publish_tenant(settings, ctx.tenants, t.slug, actor="demo")
            if t.has("ecommerce"):
                _seed_stock(ctx, t.slug)
                _seed_discount(ctx, t.slug)
            console.print(f"Published [bold]{t.slug}[/bold]: deploy {deploy.id}, {deploy.uploaded} files uploaded")
        except _Error as exc:
            console.print(f"[red]Could not publish {t.slug}[/red]: {escape(str(exc))}")
    port = "" if settings.port == 80 else f":{settings.port}"
    console.print()
    for t in ctx.tenants.registry.all():
        console.print(f"[bold]{escape(t.name)}[/bold] ({t.slug})")
        console.print(f"  plan        {t.plan} (its limits: Settings → Plan and usage in the admin)")
        console.print(f"  site        http://{t.slug}.{settings.base_domain}{port}/")
        console.print(f"  admin       http://{settings.admin_host}{port}/sites/{t.slug}/")
        if t.has("ecommerce"):
            console.print(f"  API         http://{t.slug}.{settings.base_domain}{port}/api/products")
            console.print(f"  try code    {DEMO_CODE} in the basket: 10 % off orders of 20.00 or more")
        console.print(f"  content     git clone http://{t.slug}.{settings.base_domain}{port}/git/{t.slug}.git")

    console.print("\n[bold]Logins[/bold] (password: " + settings.demo_password + ")")
    for email, _, superadmin, roles in DEMO_USERS:
        console.print(f"  {email:<20} " + ("platform superadmin" if superadmin else
                                           ", ".join(f"{r} of {s}" for s, r in roles)))
    console.print(f"\nAdmin       http://{settings.admin_host}{port}/login (pick a site after signing in)")
    console.print(f"API docs    http://{settings.host}{port}/api/docs")
    console.print(f"Data        {escape(str(settings.data_dir))}")
    if no_serve:
        return
    console.print("Serving until Ctrl-C.")
    _serve(settings)
