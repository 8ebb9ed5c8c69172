"""Accounts: users, roles and personal API tokens."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from .base import Context, console, handle_errors, main, pass_ctx
from .output import Column, column, json_option, show_rows


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
    console.print(f"Created user [bold]{escape(created.email)}[/bold]{' (superadmin)' if superadmin else ''}.")


def _account_and_tenant(ctx: Context, email: str, tenant_slug: str):
    services = ctx.services
    tenant = ctx.tenants.registry.get(tenant_slug)
    return services, services.users.by_email(email), tenant


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
    console.print(f"{escape(account.email)} is now {role} of {tenant.slug}.")


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
    console.print(f"{escape(account.email)} no longer has a role in {tenant.slug}.")


@user.command("list")
@json_option
@pass_ctx
@handle_errors
def user_list(ctx: Context, as_json: bool) -> None:
    """List users and their roles."""
    services = ctx.services
    names = {t.id: t.slug for t in ctx.tenants.registry.all()}
    rows = [{"email": account.email, "name": account.name, "superadmin": account.is_superadmin,
             "roles": [{"tenant": names.get(t, t), "role": r} for t, r in services.users.memberships(account.id)]}
            for account in services.users.all()]
    show_rows([column("email"), column("name"), column("superadmin"),
               Column("roles", lambda row: [f"{r['tenant']}:{r['role']}" for r in row["roles"]])],
              rows, as_json=as_json)


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
