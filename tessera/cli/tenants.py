"""Tenants: create, list, show, update, suspend, resume, delete; how a shop takes payment; moving a
tenant (export, import). Database backups and restore are in ``backups`` (the same ``tenant`` group)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from content.registry import FEATURES, PLANS, STATUSES, Tenant, parse_features

from .base import Context, console, handle_errors, main, pass_ctx
from .output import column, json_option, show_record, show_rows


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
    console.print(f"Created tenant [bold]{created.slug}[/bold] ({escape(created.name)}).")
    _print_tenant(ctx, created)


@tenant.command("list")
@json_option
@pass_ctx
@handle_errors
def tenant_list(ctx: Context, as_json: bool) -> None:
    """List every tenant."""
    tenants = ctx.tenants.registry.all()
    rows = [{"slug": t.slug, "name": t.name, "status": t.status, "plan": t.plan, "features": sorted(t.features),
             "created_at": t.created_at, "node": t.node} for t in tenants]
    placed = [column("node")] if any(t.node for t in tenants) else []  # several nodes: where each one lives
    show_rows([column("slug"), column("name"), column("status"), column("plan"), column("features"), *placed,
               column("created", "created_at", short=10)], rows, as_json=as_json,
              empty="No tenants yet. Create one with `tessera tenant create` or run `tessera demo`.")


@tenant.command("show")
@click.argument("slug")
@json_option
@pass_ctx
@handle_errors
def tenant_show(ctx: Context, slug: str, as_json: bool) -> None:
    """Show one tenant: status, features, domains, repository and latest version."""
    _print_tenant(ctx, ctx.tenants.registry.get(slug), as_json=as_json)


def _print_tenant(ctx: Context, t: Tenant, *, as_json: bool = False) -> None:
    settings = ctx.settings
    # With several nodes, the repository is on the tenant's node only: another node names that node.
    here = t.node in (None, settings.node)
    repo = ctx.tenants.repository(t.slug) if here else None
    port = "" if settings.port == 80 else f":{settings.port}"
    domains = ctx.tenants.registry.domains(t.slug)
    record = {
        "slug": t.slug, "name": t.name, "status": t.status, "plan": t.plan, "features": sorted(t.features),
        "site": f"http://{t.slug}.{settings.base_domain}{port}/",
        "domains": [f"{d.name}{' (primary)' if d.is_primary else ''}{'' if d.verified_at else ' (unverified)'}"
                    for d in domains],
        "repository": str(repo.path) if repo else f"on node {t.node}", "version": (repo.head() if repo else None) or "",
        "created": t.created_at,
    }
    if t.node:
        record["node"] = t.node + (f" (moving to {t.moving_to})" if t.moving_to else "")
    if t.suspension:
        record["suspension"] = f"{t.suspension['reason']} (by {t.suspension['by']}, {t.suspension['at']})"
    if as_json:
        record["domains"] = [{"name": d.name, "primary": d.is_primary, "verified_at": d.verified_at} for d in domains]
    show_record(record, as_json=as_json)


@tenant.command("update")
@click.argument("slug")
@click.option("--name", help="New display name.")
@click.option("--features", help="Replace the features with this comma-separated list.")
@click.option("--plan", type=click.Choice(PLANS), help="Move the tenant to this plan (kept in its plan history).")
@click.option("--note", default="", help="Why the plan changes, shown in the tenant's plan history.")
@click.option("--status", type=click.Choice(STATUSES))
@pass_ctx
@handle_errors
def tenant_update(ctx: Context, slug: str, name: str | None, features: str | None,
                  plan: str | None, note: str, status: str | None) -> None:
    """Change a tenant's name, features, plan or status. A smaller plan removes nothing: what is over
    its limits stays, and only adding more is refused."""
    from commerce_api.billing.service import Billing

    billing = Billing.from_config(ctx.services.config, ctx.services.db) if plan else None
    if billing is not None:  # with billing on, Stripe moves first: refused there, nothing changes here
        from commerce_api.billing.changes import change_plan, owner_email

        console.print(change_plan(billing, slug, plan, owner_email=owner_email(ctx.services.users,
                                                                               ctx.tenants.registry.get(slug)),
                                  actor=None, note=note, via="cli"), markup=False)
        plan = None
    updated = ctx.tenants.registry.update(slug, name=name, features=_features_option(features),
                                          plan=plan, status=status, note=note, via="cli")
    ctx.services.audit.record("tenant.updated", tenant_id=updated.id, via="cli", name=name, features=features,
                              plan=plan, status=status)
    console.print(f"Updated tenant [bold]{updated.slug}[/bold].")
    _print_tenant(ctx, updated)


@tenant.command("suspend")
@click.argument("slug")
@click.option("--reason", default="Suspended by the platform's operator", show_default=True,
              help="Why (1-500 characters, one line): the site's people see it on every admin page and in refusals.")
@pass_ctx
@handle_errors
def tenant_suspend(ctx: Context, slug: str, reason: str) -> None:
    """Suspend a tenant with a reason: its storefront shows a suspended page, its admin, API and git refuse
    changes, and its people see the reason."""
    suspended = ctx.tenants.registry.suspend(slug, reason)
    ctx.services.audit.record("tenant.suspended", tenant_id=suspended.id, via="cli",
                              reason=suspended.suspension["reason"])  # type: ignore[index]
    console.print(f"Suspended tenant [bold]{slug}[/bold]: {escape(suspended.suspension['reason'])}")  # type: ignore[index]


@tenant.command("resume")
@click.argument("slug")
@pass_ctx
@handle_errors
def tenant_resume(ctx: Context, slug: str) -> None:
    """Lift a suspension, whoever made it (the operator or billing): the tenant becomes active again."""
    before = ctx.tenants.registry.get(slug)
    resumed = ctx.tenants.registry.resume(slug)
    ctx.services.audit.record("tenant.resumed", tenant_id=resumed.id, via="cli",
                              suspended_by=(before.suspension or {}).get("by"))
    console.print(f"Resumed tenant [bold]{slug}[/bold].")


@tenant.command("move")
@click.argument("slug")
@click.option("--to", "node", metavar="NODE", help="The node to move the tenant to.")
@click.option("--abort", is_flag=True, help="End a move that died half-way: writes resume where the tenant is.")
@pass_ctx
@handle_errors
def tenant_move(ctx: Context, slug: str, node: str | None, abort: bool) -> None:
    """Move tenant SLUG to NODE: its tenant.db, repository and site, with its writes paused for the few
    seconds the copy takes (reads go on). Run it on the node that holds the tenant; the old copy is
    kept aside there."""
    from tessera.move import abort_move, move_tenant

    if abort == bool(node):
        raise click.UsageError("give either --to NODE or --abort")
    if abort:
        target = abort_move(ctx.tenants, slug)
        console.print(f"Ended the move of [bold]{slug}[/bold] to {target}; its writes resume." if target
                      else f"{slug} was not being moved.")
        return

    moved = move_tenant(ctx.settings, ctx.tenants, slug, node, say=lambda line: console.print(escape(line)))
    ctx.services.audit.record("tenant.moved", tenant_id=ctx.tenants.registry.get(slug).id, via="cli",
                              source=moved.source, target=moved.target)
    console.print(f"Moved [bold]{slug}[/bold] from {moved.source} to {moved.target}: writes were paused for "
                  f"{moved.paused_seconds:.1f} s. The old copy is kept in {escape(str(moved.kept))}; delete it "
                  "when you are satisfied.")


@tenant.command("delete")
@click.argument("slug")
@click.option("--export", "export_to", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the tenant's archive (as `tessera export` does) to this file first; if that fails, "
                   "nothing is deleted.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def tenant_delete(ctx: Context, slug: str, export_to: Path | None, yes: bool) -> None:
    """Delete a tenant for good: registry rows, content repository, tenant.db and bucket. Asks for
    confirmation unless --yes; --export PATH keeps an archive first."""
    t = ctx.tenants.registry.get(slug)
    if not yes:
        click.confirm(f"Delete {t.slug} ({t.name}) with all its content and orders? This cannot be undone",
                      abort=True)
    from ..sites import storage

    if export_to is not None:
        try:
            _export(ctx, slug, export_to)
        except Exception as exc:  # noqa: BLE001 (any failure to keep the archive stops the deletion)
            raise click.ClickException(f"the export to {export_to} failed, so {slug} was not deleted: {exc}") from None
    ctx.services.audit.record("tenant.deleted", tenant_id=None, via="cli", slug=slug, name=t.name,
                              exported_to=str(export_to) if export_to else None)
    ctx.tenants.delete(slug)
    storage(ctx.settings, slug).remove()
    console.print(f"Deleted tenant [bold]{slug}[/bold].")


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


# -- moving a tenant between installations ------------------------------------------------------


def _export(ctx: Context, slug: str, file: Path) -> tuple[dict, list[dict]]:
    """Write the tenant's archive to ``file``; returns its manifest and members. Audited as `tenant.exported`."""
    from content.archive import export_tenant

    from .backups import backup_for_move

    tenant_ = ctx.tenants.registry.get(slug)
    backup_for_move(ctx, slug, "export")
    members = [{"email": m.user.email, "name": m.user.name, "role": m.role}
               for m in ctx.services.users.members(tenant_.id)]
    manifest = export_tenant(ctx.tenants, slug, file, {"members": members})
    ctx.services.audit.record("tenant.exported", tenant_id=tenant_.id, via="cli", file=str(file))
    return manifest, members


@main.command("export")
@click.argument("slug", metavar="TENANT")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@pass_ctx
@handle_errors
def export_command(ctx: Context, slug: str, file: Path) -> None:
    """Write TENANT (content repository with history, tenant.db, registry record, domains, members)
    to FILE, a .tar.gz that `tessera import` restores on any installation. Stripe keys are left out."""
    with console.status(f"Exporting {slug}…"):
        manifest, members = _export(ctx, slug, file)
    size = file.stat().st_size / 2**20
    console.print(f"Exported [bold]{slug}[/bold] to {escape(str(file))} ({size:.1f} MB): content with its history, tenant.db, "
                  f"{len(manifest['domains'])} domain(s), {len(members)} member(s).")
    if (manifest["tenant"]["settings"].get("payments") or {}).get("note"):
        console.print("Stripe keys were not exported: enter them again after importing.")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--slug", help="Import under another slug (the archive's own is used otherwise).")
@click.option("--name", help="Another display name.")
@pass_ctx
@handle_errors
def import_command(ctx: Context, file: Path, slug: str | None, name: str | None) -> None:
    """Restore a tenant from an archive made by `tessera export`; then publish it."""
    from content.archive import import_tenant
    from content.errors import RegistryError
    from publish.domains import add_domain, challenge

    with console.status(f"Importing {file}…"):
        tenant_, manifest = import_tenant(ctx.tenants, file, slug=slug, name=name)
    console.print(f"Imported [bold]{tenant_.slug}[/bold] ({escape(tenant_.name)}).")
    for domain in manifest.get("domains", []):
        try:
            added = add_domain(ctx.tenants.registry, tenant_.slug, domain["name"], ctx.settings.base_domain,
                               primary=domain["primary"], admin_host=ctx.settings.admin_host, within_plan=False)
        except RegistryError as exc:
            console.print(f"  domain {escape(str(domain['name']))}: not added ({escape(str(exc))})")
            continue
        console.print(f"  domain {added.name}: verify it again with the DNS record {challenge(added)}")
    missing = []
    for member in manifest.get("members", []):
        account = ctx.services.users.find(member["email"])
        if account is not None:
            ctx.services.users.grant(account.id, tenant_.id, member["role"], within_plan=False)
        else:
            missing.append(f"{member['email']} ({member['role']})")
    if missing:
        console.print("  No account here yet for: " + escape(", ".join(missing)) + ". Invite them from the admin's Users "
                      "page, or `tessera user create` then `tessera user grant`.")
    ctx.services.audit.record("tenant.imported", tenant_id=tenant_.id, via="cli", archive=file.name)
    from .backups import backup_for_move

    backup_for_move(ctx, tenant_.slug, "import")
    console.print(f"Publish it with: tessera publish {tenant_.slug}")


from . import backups as _backups  # noqa: E402,F401  (registers backup, backups and restore on `tenant`)
