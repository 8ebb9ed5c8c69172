"""`tessera tenant backup|backups|restore`: a tenant's database (orders, customers, stock, payments)
backed up to the private backup store, listed, and put back as it was at a moment."""

from __future__ import annotations

from datetime import datetime, timezone

import click
from rich.markup import escape

from .base import Context, console, err_console, handle_errors, pass_ctx
from .output import column, json_option, show_rows
from .tenants import tenant
from ..backups import size_words

LATEST = "latest"


class Moment(click.ParamType):
    """ISO 8601 (``2026-12-01T03:00``, ``2026-12-01``, with or without ``Z`` or an offset; without one
    it is UTC) or ``latest``."""

    name = "TIME"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        if text.lower() == LATEST:
            return LATEST
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a time: use ISO 8601 such as 2026-12-01T03:00 or 2026-12-01 (UTC unless "
                      f"it ends in Z or an offset such as +01:00), or 'latest'", param, ctx)
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _said(taken) -> str:
    from ..backups import said

    return escape(said(taken))


@tenant.command("backup")
@click.argument("slug", required=False)
@click.option("--all", "backup_all", is_flag=True, help="Back up every tenant's database, one after another.")
@pass_ctx
@handle_errors
def tenant_backup(ctx: Context, slug: str | None, backup_all: bool) -> None:
    """Back up SLUG's tenant.db (orders, customers, stock, payments) to the private backup store
    (TESSERA_BACKUP_STORAGE) now. The copy is consistent while the shop takes orders; a database
    unchanged since its newest backup stores nothing new. Content needs no backup: it is in git."""
    from ..backups import backups

    if (slug is None) == (not backup_all):
        raise click.UsageError("give either SLUG or --all")
    store = backups(ctx.settings)
    if slug is not None:
        ctx.tenants.registry.get(slug)
        console.print(_said(store.take(slug, "manual")))
        return
    from .site import _progress_bar

    failed = 0
    slugs = [t.slug for t in ctx.tenants.registry.all()]
    with _progress_bar() as bar:
        task = bar.add_task("backing up", total=len(slugs))
        for each in slugs:
            bar.update(task, description=f"backing up {each}")
            try:
                console.print(_said(store.take(each, "manual")))
            except Exception as exc:  # noqa: BLE001 (one tenant's failure must not stop the others)
                failed += 1
                err_console.print(f"[red]failed[/red] {each}: {escape(str(exc))}")
            bar.advance(task)
    console.print(f"{len(slugs) - failed} of {len(slugs)} backed up")
    if failed:
        raise SystemExit(1)


@tenant.command("backups")
@click.argument("slug")
@json_option
@pass_ctx
@handle_errors
def tenant_backups(ctx: Context, slug: str, as_json: bool) -> None:
    """List SLUG's database backups, oldest first: time (UTC), size, why it was taken, sha256."""
    from ..backups import backups

    ctx.tenants.registry.get(slug)
    rows = [backup.record() for backup in backups(ctx.settings).list(slug)]
    for row in rows:
        row["database"], row["gzipped"] = size_words(row["size"]), size_words(row["stored"])
    show_rows([column("time", short=19), column("database"), column("gzipped"), column("reason"),
               column("sha256", short=12), column("schema")], rows, as_json=as_json,
              empty=f"No backups of {slug} yet. Take one with `tessera tenant backup {slug}`.")


@tenant.command("restore")
@click.argument("slug")
@click.option("--at", "at", required=True, type=Moment(),
              help="Restore the newest backup at or before this time: ISO 8601 such as 2026-12-01T03:00 or "
                   "2026-12-01 (UTC unless it has Z or an offset), or 'latest'.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def tenant_restore(ctx: Context, slug: str, at, yes: bool) -> None:
    """Put SLUG's tenant.db back as it was at TIME, from the newest backup at or before it. The current
    database is backed up first ("before-restore"); the backup must match its sha256 and pass SQLite's
    integrity check; one from a newer Tessera is refused, an older one is migrated forward. A running
    server sees the restored data at once. The live site's catalog is imported again afterwards."""
    from publish.backups import words

    from ..backups import backups, restore

    t = ctx.tenants.registry.get(slug)
    chosen = backups(ctx.settings).choose(slug, None if at == LATEST else at)
    if not yes:
        click.confirm(f"Restore {slug}'s database to its backup of {words(chosen.taken_at)} ({chosen.reason}, "
                      f"{size_words(chosen.size)})? Orders, customers and stock changed since then are replaced "
                      f"(the current database is backed up first)", abort=True)
    restored, catalog = restore(ctx.settings, slug, chosen)
    ctx.services.audit.record("tenant.restored", tenant_id=t.id, via="cli", backup=chosen.stamp,
                              sha256=chosen.sha256, before=restored.before.backup.stamp)
    before = restored.before
    kept = "backed up first" if before.new else "already backed up"
    console.print(f"[green]restored[/green] {slug}'s database from its backup of {words(chosen.taken_at)} "
                  f"({chosen.reason}, {size_words(chosen.size)}, sha256 {chosen.sha256[:12]})")
    console.print(f"  the database it replaced was {kept}: {words(before.backup.taken_at)} "
                  f"(`tessera tenant restore {slug} --at {before.backup.taken_at.isoformat()}` puts it back)")
    if restored.migrated:
        console.print(f"  migrated forward: {', '.join(restored.migrated)}")
    if catalog:
        console.print("  the live site's catalog was imported again")


def backup_for_move(ctx: Context, slug: str, reason: str) -> None:
    """A tenant moving (export, import) leaves a backup behind; best effort, the move goes on without."""
    from ..backups import backups

    try:
        console.print(_said(backups(ctx.settings).take(slug, reason)))
    except Exception as exc:  # noqa: BLE001 (an unreachable backup store must not stop a move)
        err_console.print(f"[yellow]warning[/yellow] {slug}'s database was not backed up: {escape(str(exc))}")
