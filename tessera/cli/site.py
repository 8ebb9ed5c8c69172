"""Content and sites: check, build, dev, publish, jobs, deploys, rollback; domains and the Caddyfile."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from rich.markup import escape

from content.migrations import platform_location
from .base import Context, console, err_console, handle_errors, main, pass_ctx
from .output import Column, column, json_option, show_rows


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
    from content.parse import parse_site
    from content.source import DirSource

    if source is not None:
        content = parse_site(DirSource(source))
        where = escape(str(source))
        if content.site.prior_price_rule:
            console.print("[yellow]note[/yellow] prior_price_rule is on, but a folder has no history of the prices "
                          "charged: compare_price is not checked here (it is when the tenant builds or is pushed to)")
    else:
        from datetime import datetime, timezone

        from content.errors import ContentErrors
        from content.prices import errors_at, read_cache

        tenant = ctx.tenants.registry.get(tenant_slug)
        repo = ctx.tenants.repository(tenant.slug)
        repo_source = repo.source()
        try:
            content = parse_site(repo_source)
        finally:
            repo_source.close()
        if tenant.has("ecommerce"):  # without the shop no price is shown, so none is claimed
            errors = errors_at(repo, repo_source.commit, content, datetime.now(timezone.utc),
                               cache=read_cache(ctx.tenants.folder(tenant.slug)))
            if errors:
                raise ContentErrors(errors)
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
        console.print(f"[green]up to date[/green] {escape(label)}: {result.files} files, nothing changed "
                      f"({result.seconds:.2f} s)")
    else:
        console.print(f"[green]built[/green] {escape(label)}: {result.rendered} pages written, {result.reused} reused, "
                      f"{result.files} files in {escape(str(result.out_dir))} ({result.seconds:.2f} s)")
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
@click.option("--markdown-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of rendered Markdown by content hash for --source builds "
                   "(default: the installation's, TESSERA_DATA_DIR/cache/markdown).")
@click.option("--here", is_flag=True, help="With --all: build in this process, one tenant after another, "
              "even when workers are running.")
@pass_ctx
@handle_errors
def build_command(ctx: Context, tenant_slug: str | None, build_all: bool, source: Path | None,
                  out: Path | None, theme: str | None, base_url: str, no_shop: bool, workers: int | None,
                  markdown_cache: Path | None, here: bool) -> None:
    """Build a tenant's site (or every tenant's, or any site folder) into static files.

    Only what changed since the last build is rendered again; the output folder is replaced
    only when the whole build succeeded. With --all and `tessera worker`s running (`tessera serve`
    starts one), each tenant is a job for the workers, and this waits for them all.
    """
    import os

    from builder.build import BuildConfig, build
    from content.source import DirSource

    chosen = sum(bool(x) for x in (tenant_slug, build_all, source))
    if chosen != 1:
        raise click.UsageError("give exactly one of TENANT, --all or --source DIR")
    if here and not build_all:
        raise click.UsageError("--here goes with --all")
    if build_all and not here and _on_workers(ctx, "build"):
        return
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
                workers=workers or os.cpu_count() or 1, progress=progress,
                markdown_cache=markdown_cache or ctx.settings.data_dir / "cache" / "markdown",
                image_cache=ctx.settings.data_dir / "cache" / "images"))
            bar.stop()
            _report(str(source), result)
            return
        from ..sites import build_tenant  # the publish side's imports, for tenants only

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

    from ..dev import serve
    from ..sites import build_tenant

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
                                       cache_dir=cache, memory=memory,
                                       markdown_cache=settings.data_dir / "cache" / "markdown",
                                       image_cache=settings.data_dir / "cache" / "images"))
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
        # Git's own files and ours (the write lock; when files were added, and its temporary files, "prefix")
        ignored = [repo / "objects", repo / "logs", repo / "worktrees", repo / "tessera.lock", repo / "tessera-added",
                   repo / ".added-"]
    serve(rebuild, out, watched, ignored, settings.host, port, console.print)


@main.command("publish")
@click.argument("tenant_slug", metavar="TENANT", required=False)
@click.option("--all", "publish_all", is_flag=True, help="Publish every tenant (that is not suspended).")
@click.option("--here", is_flag=True, help="With --all: publish in this process, one tenant after another, "
              "even when workers are running.")
@pass_ctx
@handle_errors
def publish_command(ctx: Context, tenant_slug: str | None, publish_all: bool, here: bool) -> None:
    """Build TENANT's latest content and publish what changed to its bucket (pages and catalog together).

    With --all and `tessera worker`s running (`tessera serve` starts one), each tenant is a publish job
    for the workers, and this waits for them all; without workers (or with --here), it publishes them
    one after another itself.
    """
    from ..sites import publish_tenant

    if (tenant_slug is None) == (not publish_all):
        raise click.UsageError("give either TENANT or --all")
    if here and not publish_all:
        raise click.UsageError("--here goes with --all")
    if publish_all:
        if here or not _on_workers(ctx, "publish"):
            _publish_all_here(ctx)
        return
    with _progress_bar() as bar:
        task = bar.add_task(f"building {tenant_slug}", total=None)
        built, deploy = publish_tenant(ctx.settings, ctx.tenants, tenant_slug, actor="cli",
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"[green]published[/green] {tenant_slug} at {deploy.commit[:10]} as deploy {deploy.id}: "
                  f"{deploy.uploaded} uploaded, {deploy.deleted} deleted, {deploy.files} files "
                  f"({deploy.seconds:.2f} s)")


def _all_slugs(ctx: Context, *, live_only: bool) -> list[str]:
    return [t.slug for t in ctx.tenants.registry.all() if not (live_only and t.status == "suspended")]


def _on_workers(ctx: Context, kind: str) -> bool:
    """One ``kind`` job per tenant for the running workers, with a bar until they are all done; False
    (nothing queued) when no worker listens, and the caller does the work itself."""
    import time

    from publish.jobs import Queue

    from ..worker import listening_workers, sockets_dir, wake_workers

    workers = listening_workers(sockets_dir(ctx.settings))
    if not workers:
        return False
    queue = Queue(platform_location(ctx.settings.data_dir))
    slugs = _all_slugs(ctx, live_only=kind == "publish")
    jobs = {queue.enqueue(slug, kind, actor="cli").id: slug for slug in slugs}
    wake_workers(sockets_dir(ctx.settings))
    console.print(f"{len(jobs)} {kind} jobs queued for {workers} worker{'s' if workers != 1 else ''}")
    finished: dict[int, str] = {}
    with _progress_bar() as bar:
        task = bar.add_task(f"{kind}ing", total=len(jobs))
        while len(finished) < len(jobs):
            waiting = [job_id for job_id in jobs if job_id not in finished]
            for job_id, status in queue.statuses(waiting).items():
                if status in ("done", "failed"):
                    finished[job_id] = status
            bar.update(task, completed=len(finished))
            if len(finished) < len(jobs):
                time.sleep(0.2)  # the workers write each job's end to the queue: look again shortly
    failed = [job_id for job_id, status in finished.items() if status == "failed"]
    for job_id in failed:
        job = queue.get(job_id)
        err_console.print(f"[red]failed[/red] {jobs[job_id]} (job {job_id}): "
                          f"{escape((job.log.strip().splitlines() or [''])[-1])}")
    console.print(f"[green]{len(jobs) - len(failed)} of {len(jobs)} {'built' if kind == 'build' else 'published'}"
                  f"[/green] by the workers")
    if failed:
        raise SystemExit(1)
    return True


def _publish_all_here(ctx: Context) -> None:
    from content.errors import TesseraError

    from ..sites import publish_tenant

    failed = 0
    slugs = _all_slugs(ctx, live_only=True)
    with _progress_bar() as bar:
        task = bar.add_task("publishing", total=len(slugs))
        for slug in slugs:
            bar.update(task, description=f"publishing {slug}")
            try:
                _, deploy = publish_tenant(ctx.settings, ctx.tenants, slug, actor="cli")
            except TesseraError as exc:  # one site's content or plan does not stop the others
                failed += 1
                bar.console.print(f"[red]failed[/red] {slug}: {escape(str(exc) or exc.__class__.__name__)}")
            else:
                bar.console.print(f"[green]published[/green] {slug} as deploy {deploy.id}: {deploy.uploaded} uploaded, "
                                  f"{deploy.deleted} deleted")
            bar.advance(task)
    if failed:
        raise SystemExit(1)


@main.command("jobs")
@click.argument("tenant_slug", metavar="[TENANT]", required=False)
@click.option("--run", is_flag=True, help="Run due jobs now in this process, then list.")
@json_option
@pass_ctx
@handle_errors
def jobs_command(ctx: Context, tenant_slug: str | None, run: bool, as_json: bool) -> None:
    """List background jobs (publishes after pushes, scheduled publishes), newest first."""
    from publish.jobs import Queue

    from ..app import job_runner

    if tenant_slug is not None:
        ctx.tenants.registry.get(tenant_slug)  # an unknown tenant is an error, not an empty list
    queue = Queue(platform_location(ctx.settings.data_dir))
    if run:
        runner = job_runner(ctx.settings)
        while (job := runner.run_once()) is not None:
            console.print(f"job {job.id} {job.status}: {escape(job.log.splitlines()[-1]) if job.log else ''}")
    last_line = lambda row: (row["log"].strip().splitlines() or [""])[-1]  # noqa: E731
    show_rows([column("id"), column("tenant"), column("kind"), column("status"), column("by", "actor"),
               column("run after", "run_after"), column("finished", "finished_at"),
               Column("log", last_line, lambda row: last_line(row)[:60])],
              [asdict(job) for job in queue.list(tenant_slug)], as_json=as_json)


@main.command("deploys")
@click.argument("tenant_slug", metavar="TENANT")
@json_option
@pass_ctx
@handle_errors
def deploys_command(ctx: Context, tenant_slug: str, as_json: bool) -> None:
    """List TENANT's deploys, newest first."""
    from ..sites import deploys

    show_rows([column("id"),
               Column("status", lambda d: d["status"] + (f" (rollback to {d['rollback_of']})" if d["rollback_of"] else "")),
               column("commit", short=10), column("catalog", "catalog_version", short=10), column("when", "started_at"),
               column("who", "actor"), column("files"), column("uploaded"), column("deleted"),
               Column("seconds", lambda d: f"{d['seconds'] or 0:.2f}")],
              [asdict(d) for d in deploys(ctx.tenants, tenant_slug)], as_json=as_json)


@main.command("rollback")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("deploy_id", metavar="[ID]", type=int, required=False)
@pass_ctx
@handle_errors
def rollback_command(ctx: Context, tenant_slug: str, deploy_id: int | None) -> None:
    """Return TENANT's site and catalog to deploy ID (default: the one before the live one)."""
    from ..sites import rollback_tenant

    built, deploy = rollback_tenant(ctx.settings, ctx.tenants, tenant_slug, actor="cli", deploy_id=deploy_id)
    console.print(f"[green]rolled back[/green] {tenant_slug} to {deploy.commit[:10]} (deploy {deploy.id}, "
                  f"{deploy.uploaded} uploaded, {deploy.deleted} deleted)")




# -- domains ----------------------------------------------------------------------------------


@main.group()
def domain() -> None:
    """Custom domains: add one, prove it with DNS, list them, remove one."""


@domain.command("add")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("name")
@click.option("--primary", is_flag=True, help="Make it the canonical domain once verified.")
@pass_ctx
@handle_errors
def domain_add(ctx: Context, tenant_slug: str, name: str, primary: bool) -> None:
    """Add a custom domain and print the DNS TXT record that proves you own it."""
    from publish.domains import add_domain, challenge

    added = add_domain(ctx.tenants.registry, tenant_slug, name, ctx.settings.base_domain, primary=primary,
                       admin_host=ctx.settings.admin_host)
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

    from ..sites import publish_tenant

    checked = verify(ctx.tenants.registry, tenant_slug, name, resolver_for(ctx.settings.dns_resolver))
    ctx.services.audit.record("domain.verified", tenant_id=checked.tenant_id, domain=checked.name, via="cli")
    console.print(f"[green]verified[/green] {checked.name}")
    if checked.is_primary:
        _, deploy = publish_tenant(ctx.settings, ctx.tenants, tenant_slug, actor="domain")
        console.print(f"Republished {tenant_slug} with https://{checked.name} as its address (deploy {deploy.id}).")


@domain.command("remove")
@click.argument("tenant_slug", metavar="TENANT")
@click.argument("name", metavar="DOMAIN")
@pass_ctx
@handle_errors
def domain_remove(ctx: Context, tenant_slug: str, name: str) -> None:
    """Stop serving DOMAIN for TENANT. If it was the primary domain, the site's address falls back to its
    subdomain and a published site is published again with it."""
    from publish.deploy import list_deploys
    from publish.domains import remove_domain

    from ..sites import base_url, publish_tenant

    removed = remove_domain(ctx.tenants.registry, tenant_slug, name)
    ctx.services.audit.record("domain.removed", tenant_id=removed.tenant_id, domain=removed.name, via="cli")
    console.print(f"Removed {removed.name} from {tenant_slug}.")
    if not (removed.is_primary and removed.verified_at):
        return  # it never was the site's address: links and canonical URLs are unchanged
    tenant = ctx.tenants.registry.get(tenant_slug)
    console.print(f"{tenant_slug}'s address is {base_url(ctx.settings, ctx.tenants, tenant)} again.")
    conn = ctx.tenants.open_db(tenant_slug)
    try:
        published = any(d.status == "live" for d in list_deploys(conn))
    finally:
        conn.close()
    if not published:
        console.print(f"Publish it with `tessera publish {tenant_slug}` when it is ready.")
        return
    _, deploy = publish_tenant(ctx.settings, ctx.tenants, tenant_slug, actor="domain")
    console.print(f"Republished {tenant_slug} with its links and canonical URLs on that address (deploy {deploy.id}).")


@domain.command("list")
@click.argument("tenant_slug", metavar="TENANT")
@json_option
@pass_ctx
@handle_errors
def domain_list(ctx: Context, tenant_slug: str, as_json: bool) -> None:
    """List a tenant's domains and whether they are verified."""
    from publish.domains import challenge

    rows = [{"name": d.name, "primary": d.is_primary, "verified_at": d.verified_at,
             "txt_name": challenge(d).record, "txt_value": challenge(d).value}
            for d in ctx.tenants.registry.domains(tenant_slug)]
    show_rows([column("domain", "name"), column("primary"), Column("verified", lambda d: d["verified_at"] or "no"),
               Column("TXT record to create", lambda d: f'{d["txt_name"]}. TXT "{d["txt_value"]}"')],
              rows, as_json=as_json)


@main.command("caddyfile")
@click.option("--local", is_flag=True, help="Use Caddy's internal CA (to try HTTPS on one machine).")
@click.option("--upstream", "upstreams", multiple=True, metavar="HOST:PORT",
              help="A node to proxy to (repeat for each node); default: TESSERA_HOST:TESSERA_PORT.")
@pass_ctx
@handle_errors
def caddyfile_command(ctx: Context, local: bool, upstreams: tuple[str, ...]) -> None:
    """Print a Caddyfile that puts automatic HTTPS in front of the whole platform."""
    import re

    from publish.domains import caddyfile

    settings = ctx.settings
    for upstream in upstreams:
        if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", upstream):
            raise click.BadParameter(f"{upstream!r} is not HOST:PORT, e.g. node1:8000", param_hint="--upstream")
    first, *more = upstreams or (f"{settings.host}:{settings.port}",)
    click.echo(caddyfile(settings.base_domain, first, local=local, admin_host=settings.admin_host,
                         more=tuple(more)), nl=False)
