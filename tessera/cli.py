"""The ``tessera`` command line. Errors become one clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from commerce_api.errors import ApiError, NotFound
from content.errors import ContentErrors, TesseraError
from content.money import Money
from content.registry import FEATURES, PLANS, STATUSES, Tenant, parse_features
from content.source import DirSource
from content.parse import parse_site
from content.tenants import Tenants, starters

from .settings import Settings, SettingsError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def handle_errors(func):
    """Turn every error a user can act on into a ClickException at the CLI edge."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ContentErrors as exc:
            for error in exc.errors:
                err_console.print(f"[red]error[/red] {error}", markup=True, soft_wrap=True)
            raise click.ClickException(f"{len(exc.errors)} problem(s) found") from None
        except (TesseraError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from None
        except ApiError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


class Context:
    """Lazily built settings and services, shared by the commands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._tenants: Tenants | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    @property
    def services(self):
        if getattr(self, "_services", None) is None:
            from .app import services

            self._services = services(self.settings)
        return self._services

    @property
    def tenants(self) -> Tenants:
        if self._tenants is None:
            self._tenants = Tenants(self.settings.data_dir, self.settings.sites_dir)
        return self._tenants


pass_ctx = click.make_pass_decorator(Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tessera")
def main() -> None:
    """Tessera: host many small client websites, each with a git-versioned CMS and an optional shop.

    Settings come from the environment (TESSERA_DATA_DIR, TESSERA_BASE_DOMAIN, TESSERA_PORT,
    TESSERA_SECRET_KEY, TESSERA_STORAGE, ...); see the README.
    """


# -- tenants ----------------------------------------------------------------------------------


@main.group()
def tenant() -> None:
    """Create, inspect, change and delete tenants."""


def _features_option(value: str | None) -> frozenset[str] | None:
    return None if value is None else parse_features(value)


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Acme Bakery'.")
@click.option("--features", default="cms", show_default=True,
              help=f"Comma-separated features: {', '.join(FEATURES)}.")
@click.option("--from", "starter", metavar="STARTER",
              help="Starter site from sites/ to copy into the new repository (e.g. bakery).")
@click.option("--plan", type=click.Choice(PLANS), default="starter", show_default=True)
@click.option("--status", type=click.Choice(STATUSES), default="active", show_default=True)
@pass_ctx
@handle_errors
def tenant_create(ctx: Context, slug: str, name: str, features: str, starter: str | None,
                  plan: str, status: str) -> None:
    """Create tenant SLUG: its registry row, content repository and tenant.db, all or nothing."""
    created = ctx.tenants.create(slug, name, parse_features(features), starter=starter,
                                 plan=plan, status=status)
    ctx.services.audit.record("tenant.created", tenant_id=created.id, via="cli", slug=slug)
    console.print(f"Created tenant [bold]{created.slug}[/bold] ({created.name}).")
    _print_tenant(ctx, created)


@tenant.command("list")
@pass_ctx
@handle_errors
def tenant_list(ctx: Context) -> None:
    """List every tenant."""
    tenants = ctx.tenants.registry.all()
    if not tenants:
        console.print("No tenants yet. Create one with `tessera tenant create` or run `tessera demo`.")
        return
    table = Table("slug", "name", "status", "plan", "features", "created")
    for t in tenants:
        table.add_row(t.slug, t.name, t.status, t.plan, ",".join(sorted(t.features)), t.created_at[:10])
    console.print(table)


@tenant.command("show")
@click.argument("slug")
@pass_ctx
@handle_errors
def tenant_show(ctx: Context, slug: str) -> None:
    """Show one tenant: status, features, domains, repository and latest version."""
    _print_tenant(ctx, ctx.tenants.registry.get(slug))


def _print_tenant(ctx: Context, t: Tenant) -> None:
    settings = ctx.settings
    repo = ctx.tenants.repository(t.slug)
    table = Table(show_header=False, box=None)
    table.add_row("slug", t.slug)
    table.add_row("name", t.name)
    table.add_row("status", t.status)
    table.add_row("plan", t.plan)
    table.add_row("features", ", ".join(sorted(t.features)) or "(none)")
    port = "" if settings.port == 80 else f":{settings.port}"
    table.add_row("site", f"http://{t.slug}.{settings.base_domain}{port}/")
    domains = ctx.tenants.registry.domains(t.slug)
    table.add_row("domains", ", ".join(
        f"{d.name}{' (primary)' if d.is_primary else ''}{'' if d.verified_at else ' (unverified)'}"
        for d in domains) or "(none)")
    table.add_row("repository", str(repo.path))
    head = repo.head()
    table.add_row("version", head[:12] if head else "(empty)")
    table.add_row("created", t.created_at)
    console.print(table)


@tenant.command("update")
@click.argument("slug")
@click.option("--name", help="New display name.")
@click.option("--features", help="Replace the features with this comma-separated list.")
@click.option("--plan", type=click.Choice(PLANS))
@click.option("--status", type=click.Choice(STATUSES))
@pass_ctx
@handle_errors
def tenant_update(ctx: Context, slug: str, name: str | None, features: str | None,
                  plan: str | None, status: str | None) -> None:
    """Change a tenant's name, features, plan or status."""
    updated = ctx.tenants.registry.update(slug, name=name, features=_features_option(features),
                                          plan=plan, status=status)
    ctx.services.audit.record("tenant.updated", tenant_id=updated.id, via="cli", name=name, features=features,
                              plan=plan, status=status)
    console.print(f"Updated tenant [bold]{updated.slug}[/bold].")
    _print_tenant(ctx, updated)


@tenant.command("suspend")
@click.argument("slug")
@pass_ctx
@handle_errors
def tenant_suspend(ctx: Context, slug: str) -> None:
    """Suspend a tenant: its storefront shows a suspended page and its API refuses writes."""
    suspended = ctx.tenants.registry.update(slug, status="suspended")
    ctx.services.audit.record("tenant.suspended", tenant_id=suspended.id, via="cli")
    console.print(f"Suspended tenant [bold]{slug}[/bold].")


@tenant.command("resume")
@click.argument("slug")
@pass_ctx
@handle_errors
def tenant_resume(ctx: Context, slug: str) -> None:
    """Lift a suspension: the tenant becomes active again."""
    resumed = ctx.tenants.registry.update(slug, status="active")
    ctx.services.audit.record("tenant.resumed", tenant_id=resumed.id, via="cli")
    console.print(f"Resumed tenant [bold]{slug}[/bold].")


@tenant.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def tenant_delete(ctx: Context, slug: str, yes: bool) -> None:
    """Delete a tenant for good: registry rows, content repository and tenant.db."""
    t = ctx.tenants.registry.get(slug)
    if not yes:
        click.confirm(f"Delete {t.slug} ({t.name}) with all its content and orders? This cannot be undone",
                      abort=True)
    from .sites import storage

    ctx.services.audit.record("tenant.deleted", tenant_id=None, via="cli", slug=slug)
    ctx.tenants.delete(slug)
    storage(ctx.settings, slug).remove()
    console.print(f"Deleted tenant [bold]{slug}[/bold].")


# -- content ----------------------------------------------------------------------------------


@main.command("check")
@click.argument("tenant_slug", metavar="TENANT", required=False)
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Check a site folder instead of a tenant's repository.")
@pass_ctx
@handle_errors
def check(ctx: Context, tenant_slug: str | None, source: Path | None) -> None:
    """Parse all of a site's content and print every error with file and line."""
    if (tenant_slug is None) == (source is None):
        raise click.UsageError("give either TENANT or --source DIR")
    if source is not None:
        content = parse_site(DirSource(source))
        where = str(source)
    else:
        repo_source = ctx.tenants.repository(ctx.tenants.registry.get(tenant_slug).slug).source()
        try:
            content = parse_site(repo_source)
        finally:
            repo_source.close()
        where = tenant_slug
    console.print(f"[green]ok[/green] {where}: {len(content.pages)} pages, {len(content.posts)} posts, "
                  f"{len(content.products)} products, {len(content.media)} media files")


# -- building -------------------------------------------------------------------------------


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=True)


def _report(label: str, result) -> None:
    if result.up_to_date:
        console.print(f"[green]up to date[/green] {label}: {result.files} files, nothing changed "
                      f"({result.seconds:.2f} s)")
    else:
        console.print(f"[green]built[/green] {label}: {result.rendered} pages written, {result.reused} reused, "
                      f"{result.files} files in {result.out_dir} ({result.seconds:.2f} s)")
    if result.next_scheduled:
        console.print(f"  next scheduled item goes live at {result.next_scheduled.isoformat()}")


@main.command("build")
@click.argument("tenant_slug", metavar="TENANT", required=False)
@click.option("--all", "build_all", is_flag=True, help="Build every tenant.")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Build a site folder without the registry (needs --out).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder for --source.")
@click.option("--theme", help="Use this theme instead of the one named in site.yaml (with --source).")
@click.option("--base-url", default="http://localhost:8000", show_default=True,
              help="Canonical origin for --source builds.")
@click.option("--no-shop", is_flag=True, help="Build a --source site without its shop pages "
              "(a site without products/ never gets them).")
@click.option("--workers", type=int, default=None, help="Processes to render with (default: every core).")
@pass_ctx
@handle_errors
def build_command(ctx: Context, tenant_slug: str | None, build_all: bool, source: Path | None,
                  out: Path | None, theme: str | None, base_url: str, no_shop: bool, workers: int | None) -> None:
    """Build a tenant's site (or every tenant's, or any site folder) into static files.

    Only what changed since the last build is rendered again; the output folder is replaced
    only when the whole build succeeded.
    """
    import os

    from builder.build import BuildConfig, build
    from content.source import DirSource

    from .sites import build_tenant

    chosen = sum(bool(x) for x in (tenant_slug, build_all, source))
    if chosen != 1:
        raise click.UsageError("give exactly one of TENANT, --all or --source DIR")
    with _progress_bar() as bar:
        task = bar.add_task("rendering", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if source is not None:
            if out is None:
                raise click.UsageError("--source needs --out DIR")
            out = out.resolve()
            site = DirSource(source)
            has_products = any(p.startswith("products/") for p in site.paths())
            result = build(BuildConfig(
                source=site, out_dir=out, themes_dir=ctx.settings.themes_dir, base_url=base_url,
                shop=has_products and not no_shop, cache_dir=out.parent / f".{out.name}.cache", theme=theme,
                workers=workers or os.cpu_count() or 1, progress=progress))
            bar.stop()
            _report(str(source), result)
            return
        slugs = [t.slug for t in ctx.tenants.registry.all()] if build_all else [tenant_slug]
        for slug in slugs:
            bar.update(task, description=f"building {slug}", completed=0, total=None)
            done = build_tenant(ctx.settings, ctx.tenants, slug, progress=progress)
            bar.console.print(f"[green]built[/green] {slug} at {done.commit[:10]}: {done.result.rendered} written, "
                              f"{done.result.reused} reused, {done.result.files} files ({done.result.seconds:.2f} s)"
                              if not done.result.up_to_date else
                              f"[green]up to date[/green] {slug} at {done.commit[:10]} ({done.result.seconds:.2f} s)")


@main.command("dev")
@click.argument("tenant_slug", metavar="TENANT", required=False)
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Preview a site folder instead of a tenant's repository.")
@click.option("--port", type=int, default=None, help="Port (default: TESSERA_PORT + 1).")
@pass_ctx
@handle_errors
def dev(ctx: Context, tenant_slug: str | None, source: Path | None, port: int | None) -> None:
    """Preview a site locally: rebuild on every change and reload the open page.

    With TENANT it watches the tenant's repository, so commits from the admin and pushes show up;
    with --source it watches a site folder. Themes are watched too.
    """
    from builder.build import BuildConfig, build
    from content.source import DirSource

    from .dev import serve
    from .sites import build_tenant

    if (tenant_slug is None) == (source is None):
        raise click.UsageError("give either TENANT or --source DIR")
    settings = ctx.settings
    port = port or settings.port + 1
    memory: dict = {}
    if source is not None:
        source = source.resolve()
        out = settings.data_dir / "dev" / source.name
        cache = out.parent / f".{source.name}.cache"
        shop = any(p.startswith("products/") for p in DirSource(source).paths())

        def rebuild() -> str:
            result = build(BuildConfig(DirSource(source), out, settings.themes_dir,
                                       base_url=f"http://{settings.host}:{port}", shop=shop,
                                       cache_dir=cache, memory=memory))
            return f"built: {result.rendered} written, {result.reused} reused ({result.seconds:.2f} s)"

        watched, ignored = [source, settings.themes_dir], [out, cache]
    else:
        tenants = ctx.tenants
        tenants.registry.get(tenant_slug)
        out = tenants.folder(tenant_slug) / "dev"

        def rebuild() -> str:
            done = build_tenant(settings, tenants, tenant_slug, out_dir=out)
            return (f"built {tenant_slug} at {done.commit[:10]}: {done.result.rendered} written, "
                    f"{done.result.reused} reused ({done.result.seconds:.2f} s)")

        repo = tenants.repository(tenant_slug).path
        watched = [repo, settings.themes_dir]
        ignored = [repo / "objects", repo / "logs", repo / "worktrees", repo / "tessera.lock"]
    serve(rebuild, out, watched, ignored, settings.host, port, console.print)


@main.command("publish")
@click.argument("tenant_slug", metavar="TENANT")
@pass_ctx
@handle_errors
def publish_command(ctx: Context, tenant_slug: str) -> None:
    """Build TENANT's latest content and publish what changed to its bucket (pages and catalog together)."""
    from .sites import publish_tenant

    with _progress_bar() as bar:
        task = bar.add_task(f"building {tenant_slug}", total=None)
        built, deploy = publish_tenant(ctx.settings, ctx.tenants, tenant_slug, actor="cli",
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"[green]published[/green] {tenant_slug} at {deploy.commit[:10]} as deploy {deploy.id}: "
                  f"{deploy.uploaded} uploaded, {deploy.deleted} deleted, {deploy.files} files "
                  f"({deploy.seconds:.2f} s)")


@main.command("jobs")
@click.argument("tenant_slug", metavar="[TENANT]", required=False)
@click.option("--run", is_flag=True, help="Run due jobs now in this process, then list.")
@pass_ctx
@handle_errors
def jobs_command(ctx: Context, tenant_slug: str | None, run: bool) -> None:
    """List background jobs (publishes after pushes, scheduled publishes), newest first."""
    from publish.jobs import Queue, Runner

    from .app import run_job

    queue = Queue(ctx.settings.data_dir / "platform.db")
    if run:
        runner = Runner(queue, lambda job: run_job(ctx.settings, job))
        while (job := runner.run_once()) is not None:
            console.print(f"job {job.id} {job.status}: {job.log.splitlines()[-1] if job.log else ''}")
    table = Table("id", "tenant", "kind", "status", "by", "run after", "finished", "log")
    for job in queue.list(tenant_slug):
        table.add_row(str(job.id), job.tenant, job.kind, job.status, job.actor, job.run_after, job.finished_at or "",
                      (job.log.strip().splitlines() or [""])[-1][:60])
    console.print(table)


@main.command("deploys")
@click.argument("tenant_slug", metavar="TENANT")
@pass_ctx
@handle_errors
def deploys_command(ctx: Context, tenant_slug: str) -> None:
    """List TENANT's deploys, newest first."""
    from .sites import deploys

    table = Table("id", "status", "commit", "catalog", "when", "who", "files", "uploaded", "deleted", "seconds")
    for d in deploys(ctx.tenants, tenant_slug):
        label = d.status + (f" (rollback to {d.rollback_of})" if d.rollback_of else "")
        table.add_row(str(d.id), label, d.commit[:10], d.catalog_version[:10], d.started_at, d.actor,
                      str(d.files), str(d.uploaded), str(d.deleted), f"{d.seconds or 0:.2f}")
    console.print(table)


@main.command("rollback")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("deploy_id", metavar="[ID]", type=int, required=False)
@pass_ctx
@handle_errors
def rollback_command(ctx: Context, tenant_slug: str, deploy_id: int | None) -> None:
    """Return TENANT's site and catalog to deploy ID (default: the one before the live one)."""
    from .sites import rollback_tenant

    built, deploy = rollback_tenant(ctx.settings, ctx.tenants, tenant_slug, actor="cli", deploy_id=deploy_id)
    console.print(f"[green]rolled back[/green] {tenant_slug} to {deploy.commit[:10]} (deploy {deploy.id}, "
                  f"{deploy.uploaded} uploaded, {deploy.deleted} deleted)")


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
@pass_ctx
@handle_errors
def stock_command(ctx: Context, tenant_slug: str, sku: str | None, on_hand: int | None) -> None:
    """Show stock (on hand, reserved by unpaid orders, available), or set a sku's on-hand quantity."""
    from commerce_api.shop.orders import Orders

    tenant, conn = _shop_db(ctx, tenant_slug)
    orders = Orders(conn)
    if on_hand is not None:
        if not sku:
            raise click.UsageError("--set needs a SKU")
        orders.set_stock(sku, on_hand)
        ctx.services.audit.record("stock.changed", tenant_id=tenant.id, sku=sku, on_hand=on_hand, via="cli")
    rows = [orders.stock(sku)] if sku else orders.stock()
    table = Table("sku", "on hand", "reserved", "available", "tracked")
    for row in rows:  # type: ignore[union-attr]
        table.add_row(row["sku"], str(row["on_hand"]), str(row["reserved"]),
                      str(row["available"]) if row["track_stock"] else "unlimited", "yes" if row["track_stock"] else "no")
    console.print(table)


@main.command("orders")
@click.argument("tenant_slug", metavar="TENANT")
@click.option("--status", type=click.Choice(["pending", "processing", "shipped", "delivered", "cancelled", "refunded"]))
@click.option("--expire", is_flag=True, help="First cancel unpaid orders whose payment time ran out.")
@click.option("--reconcile", is_flag=True, help="First ask Stripe about unpaid card orders (missed webhooks).")
@pass_ctx
@handle_errors
def orders_command(ctx: Context, tenant_slug: str, status: str | None, expire: bool, reconcile: bool) -> None:
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
    table = Table("number", "date", "email", "status", "payment", "total")
    for order in orders.list(status=status):
        table.add_row(str(order["number"]), order["created_at"][:16], order["email"], order["status"],
                      order["payment_status"], str(Money(order["total"], order["currency"])))
    console.print(table)


@tenant.command("payments")
@click.argument("slug")
@click.option("--provider", type=click.Choice(["manual", "stripe"]), required=True)
@click.option("--keys-stdin", is_flag=True,
              help="For stripe: read the secret key and the webhook signing secret from standard input, one per line.")
@pass_ctx
@handle_errors
def tenant_payments(ctx: Context, slug: str, provider: str, keys_stdin: bool) -> None:
    """Choose how a shop takes payment: manual (default) or Stripe with the shop's own keys (stored sealed)."""
    from commerce_api.shop.payments import StripeKeys, seal_payments

    keys = None
    if provider == "stripe":
        if keys_stdin:
            secret, webhook = (sys.stdin.readline().strip(), sys.stdin.readline().strip())
        else:
            secret = click.prompt("Stripe secret key (sk_...)", hide_input=True)
            webhook = click.prompt("Webhook signing secret (whsec_...)", hide_input=True)
        if not secret.startswith(("sk_", "rk_")) or not webhook.startswith("whsec_"):
            raise click.ClickException("expected a secret key starting sk_ (or rk_) and a signing secret starting whsec_")
        keys = StripeKeys(secret, webhook)
    updated = ctx.tenants.registry.update(slug, settings={"payments": seal_payments(ctx.settings.secret_key, provider, keys)})
    ctx.services.audit.record("payments.changed", tenant_id=updated.id, provider=provider, via="cli")
    console.print(f"{slug} now takes payment by {provider}." + (
        f" Point Stripe's webhook at /api/webhooks/stripe/{slug} on your API host." if provider == "stripe" else ""))


# -- domains ----------------------------------------------------------------------------------


@main.group()
def domain() -> None:
    """Custom domains: add one, prove it with DNS, list them."""


@domain.command("add")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("name")
@click.option("--primary", is_flag=True, help="Make it the canonical domain once verified.")
@pass_ctx
@handle_errors
def domain_add(ctx: Context, tenant_slug: str, name: str, primary: bool) -> None:
    """Add a custom domain and print the DNS TXT record that proves you own it."""
    from publish.domains import challenge

    added = ctx.tenants.registry.add_domain(tenant_slug, name, primary=primary)
    ctx.services.audit.record("domain.added", tenant_id=added.tenant_id, domain=added.name, via="cli")
    console.print(f"Added {added.name} to {tenant_slug}. Create this DNS record, then run "
                  f"`tessera domain verify {tenant_slug} {added.name}`:")
    click.echo(f"  {challenge(added)}")  # plain, unwrapped: people copy it into their DNS panel
    console.print(f"and point {added.name} at this platform (CNAME to {tenant_slug}.{ctx.settings.base_domain}).")


@domain.command("verify")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("name")
@pass_ctx
@handle_errors
def domain_verify(ctx: Context, tenant_slug: str, name: str) -> None:
    """Look up the domain's TXT record; once it matches, serve the domain and republish its canonical URLs."""
    from publish.domains import resolver_for, verify

    from .sites import publish_tenant

    checked = verify(ctx.tenants.registry, tenant_slug, name, resolver_for(ctx.settings.dns_resolver))
    ctx.services.audit.record("domain.verified", tenant_id=checked.tenant_id, domain=checked.name, via="cli")
    console.print(f"[green]verified[/green] {checked.name}")
    if checked.is_primary:
        _, deploy = publish_tenant(ctx.settings, ctx.tenants, tenant_slug, actor="domain")
        console.print(f"Republished {tenant_slug} with https://{checked.name} as its address (deploy {deploy.id}).")


@domain.command("list")
@click.argument("tenant_slug", metavar="TENANT")
@pass_ctx
@handle_errors
def domain_list(ctx: Context, tenant_slug: str) -> None:
    """List a tenant's domains and whether they are verified."""
    from publish.domains import challenge

    table = Table("domain", "primary", "verified", "TXT record to create")
    for d in ctx.tenants.registry.domains(tenant_slug):
        table.add_row(d.name, "yes" if d.is_primary else "", d.verified_at or "no", str(challenge(d)))
    console.print(table)


@main.command("caddyfile")
@click.option("--local", is_flag=True, help="Use Caddy's internal CA (to try HTTPS on one machine).")
@pass_ctx
@handle_errors
def caddyfile_command(ctx: Context, local: bool) -> None:
    """Print a Caddyfile that puts automatic HTTPS in front of the whole platform."""
    from publish.domains import caddyfile

    settings = ctx.settings
    click.echo(caddyfile(settings.base_domain, f"{settings.host}:{settings.port}", local=local), nl=False)


# -- users and tokens -------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Create platform users and give them roles in tenants."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--superadmin", is_flag=True, help="A platform operator: every permission on every tenant.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@pass_ctx
@handle_errors
def user_create(ctx: Context, email: str, name: str, superadmin: bool, password_stdin: bool) -> None:
    """Create a user (the password is prompted for, never taken as an argument)."""
    services = ctx.services
    created = services.users.create(email, _read_password(password_stdin), name=name, superadmin=superadmin)
    services.audit.record("user.created", email=created.email, superadmin=superadmin)
    console.print(f"Created user [bold]{created.email}[/bold]{' (superadmin)' if superadmin else ''}.")


def _account_and_tenant(ctx: Context, email: str, tenant_slug: str):
    services = ctx.services
    return services, services.users.by_email(email), ctx.tenants.registry.get(tenant_slug)


@user.command("grant")
@click.argument("email")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("role", type=click.Choice(["owner", "admin", "editor", "shop_manager"]))
@pass_ctx
@handle_errors
def user_grant(ctx: Context, email: str, tenant_slug: str, role: str) -> None:
    """Give USER a ROLE in TENANT (or change it)."""
    services, account, tenant = _account_and_tenant(ctx, email, tenant_slug)
    services.users.grant(account.id, tenant.id, role)
    services.audit.record("role.granted", tenant_id=tenant.id, user=account.id, role=role, via="cli")
    console.print(f"{account.email} is now {role} of {tenant.slug}.")


@user.command("revoke")
@click.argument("email")
@click.argument("tenant_slug", metavar="TENANT")
@pass_ctx
@handle_errors
def user_revoke(ctx: Context, email: str, tenant_slug: str) -> None:
    """Take away USER's role in TENANT (a tenant always keeps one owner)."""
    services, account, tenant = _account_and_tenant(ctx, email, tenant_slug)
    services.users.revoke(account.id, tenant.id)
    services.credentials.revoke_all(account.id)
    services.audit.record("role.revoked", tenant_id=tenant.id, user=account.id, via="cli")
    console.print(f"{account.email} no longer has a role in {tenant.slug}.")


@user.command("list")
@pass_ctx
@handle_errors
def user_list(ctx: Context) -> None:
    """List users and their roles."""
    services = ctx.services
    names = {t.id: t.slug for t in ctx.tenants.registry.all()}
    table = Table("email", "name", "superadmin", "roles")
    for account in services.users.all():
        roles = ", ".join(f"{names.get(t, t)}:{r}" for t, r in services.users.memberships(account.id))
        table.add_row(account.email, account.name, "yes" if account.is_superadmin else "", roles)
    console.print(table)


@main.group()
def token() -> None:
    """Personal API tokens (for git pushes and scripts)."""


@token.command("create")
@click.argument("email")
@click.argument("tenant_slug", metavar="TENANT")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@pass_ctx
@handle_errors
def token_create(ctx: Context, email: str, tenant_slug: str, name: str) -> None:
    """Create an API token for USER at TENANT; it is printed once and stored only as a hash."""
    services, account, tenant = _account_and_tenant(ctx, email, tenant_slug)
    if services.users.role(account.id, tenant.id) is None and not account.is_superadmin:
        raise click.ClickException(f"{account.email} has no role in {tenant.slug}; grant one first")
    token_id, secret = services.credentials.create_api_token(account.id, tenant.id, name)
    services.audit.record("token.created", actor=account.id, tenant_id=tenant.id, token_id=token_id, via="cli")
    click.echo(secret)


# -- serving ----------------------------------------------------------------------------------


def _serve(settings: Settings) -> None:
    import uvicorn

    from .app import make_app

    uvicorn.run(make_app(settings), host=settings.host, port=settings.port, log_level="warning",
                proxy_headers=False, server_header=False)


@main.command("serve")
@pass_ctx
@handle_errors
def serve(ctx: Context) -> None:
    """Serve the API and every tenant's site (by Host) on TESSERA_HOST:TESSERA_PORT."""
    settings = ctx.settings
    console.print(f"Serving sites and the API on http://{settings.host}:{settings.port}/ "
                  f"(sites at http://<tenant>.{settings.base_domain}:{settings.port}/, docs at /api/docs); "
                  "Ctrl-C stops.")
    _serve(settings)


# -- demo -------------------------------------------------------------------------------------

DEMO_TENANTS = (
    ("bakery", "Rye & Crumb Bakery", "cms,ecommerce", "bakery"),
    ("studio", "Studio Lumen", "cms", "studio"),
)


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

    from .sites import publish_tenant

    settings = ctx.settings
    for slug, name, features, starter in DEMO_TENANTS:
        if ctx.tenants.registry.find(slug) is None:
            ctx.tenants.create(slug, name, parse_features(features), starter=starter)
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
        try:
            _, deploy = publish_tenant(settings, ctx.tenants, t.slug, actor="demo")
            if t.has("ecommerce"):
                _seed_stock(ctx, t.slug)
            console.print(f"Published [bold]{t.slug}[/bold]: deploy {deploy.id}, {deploy.uploaded} files uploaded")
        except _Error as exc:
            console.print(f"[red]Could not publish {t.slug}[/red]: {exc}")
    port = "" if settings.port == 80 else f":{settings.port}"
    console.print()
    for t in ctx.tenants.registry.all():
        console.print(f"[bold]{t.name}[/bold] ({t.slug})")
        console.print(f"  site        http://{t.slug}.{settings.base_domain}{port}/")
        console.print(f"  admin       http://{t.slug}.{settings.base_domain}{port}/admin/")
        console.print(f"  API         http://{t.slug}.{settings.base_domain}{port}/api/products")
        console.print(f"  content     git clone {ctx.tenants.repository(t.slug).path}")

    console.print("\n[bold]Logins[/bold] (password: " + settings.demo_password + ")")
    for email, _, superadmin, roles in DEMO_USERS:
        console.print(f"  {email:<20} " + ("platform superadmin" if superadmin else
                                           ", ".join(f"{r} of {s}" for s, r in roles)))
    console.print(f"\nAll sites   http://{settings.base_domain}{port}/admin/login (pick a site after signing in)")
    console.print(f"API docs    http://{settings.host}{port}/api/docs")
    console.print(f"Data        {settings.data_dir}")
    if no_serve:
        return
    console.print("Serving until Ctrl-C.")
    _serve(settings)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
