"""The operator's heavier actions on one tenant (superadmins only): delete after showing what goes (with an
export offered first), and open a read-only support view of the tenant's admin. Each is audited. Suspending
and resuming are on the tenants page (``tenants.py``)."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import anyio
from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Stream

from content import plans
from content.errors import RegistryError
from content.gitrepo import Repository
from content.registry import Tenant, validate_reason
from content.tenants import Tenants

from ..security import SESSION_COOKIE, end_session, services_of, site_base
from ..services import Services
from .common import Form, back, page, text, who
from .tenants import _operator, _return_to


def _store(services: Services) -> Tenants:
    # Deleting and exporting never read the starter sites; Tenants only wants to know where they are.
    return Tenants(services.config.data_dir, services.config.sites_dir or services.config.data_dir / "sites")


# -- delete, with an export first ------------------------------------------------------------


def what_goes(services: Services, tenant: Tenant) -> dict[str, int]:
    """What deleting the tenant removes, counted where it lives."""
    source = Repository(services.config.data_dir / "tenants" / tenant.slug / "repo.git").source()
    try:
        counted = plans.counts(source.paths())
    finally:
        source.close()
    with services.databases.connection(tenant.slug) as conn:
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    return {"pages": counted["pages_and_posts"], "products": counted["products"], "orders": orders,
            "members": len(services.users.members(tenant.id)),
            "domains": len(services.db.registry.domains(tenant.slug))}


@get("/admin/tenants/delete", opt={"auth": True}, include_in_schema=False)
async def delete_form(request: Request, slug: FromQuery[str]) -> Response:
    # An async handler that moves the work to a thread itself: a sync_to_thread handler sharing its path with
    # another one (the POST below) is wrapped twice by Litestar 2.25 and answers with a coroutine (a 500).
    return await anyio.to_thread.run_sync(_delete_page, request, slug)


def _delete_page(request: Request, slug: str) -> Response:
    _operator(request)
    services = services_of(request)
    tenant = services.db.registry.get(slug)
    return page(request, "tenant_delete.html", title=f"Delete {tenant.name}", section="tenants", site=tenant,
                counts=what_goes(services, tenant))


def archive_name(slug: str) -> str:
    return f"{slug}-{datetime.now(timezone.utc).date().isoformat()}.tar.gz"


@get("/admin/tenants/export", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def export(request: Request, slug: FromQuery[str]) -> Response:
    """The tenant as `tessera export` writes it, streamed from a temporary file that goes when sent."""
    from content.archive import export_tenant

    _operator(request)
    services = services_of(request)
    tenant = services.db.registry.get(slug)
    members = [{"email": m.user.email, "name": m.user.name, "role": m.role} for m in services.users.members(tenant.id)]
    handle, name = tempfile.mkstemp(prefix=f"export-{tenant.slug}-", suffix=".tar.gz")
    os.close(handle)
    path = Path(name)
    store = _store(services)
    try:
        export_tenant(store, tenant.slug, path, {"members": members})
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        store.close()
    services.audit.record("tenant.exported", actor=who(request).user.id, tenant_id=tenant.id, via="admin",
                          size=path.stat().st_size)
    return Stream(_chunks(path), media_type="application/gzip",
                  headers={"Content-Disposition": f'attachment; filename="{archive_name(tenant.slug)}"',
                           "Content-Length": str(path.stat().st_size), "Cache-Control": "no-store"})


def _chunks(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as archive:
            while chunk := archive.read(1 << 16):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


@post("/admin/tenants/delete", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def delete_tenant(request: Request, data: Form) -> Response:
    _operator(request)
    services = services_of(request)
    slug = text(data, "slug")
    tenant = services.db.registry.get(slug)
    if text(data, "confirm") != tenant.slug:
        return back(request, f"/tenants/delete?slug={tenant.slug}",
                    error=f"confirm: type the slug {tenant.slug} to delete the site; nothing was deleted.")
    counts = what_goes(services, tenant)
    # The platform's audit entry outlives the tenant: no tenant id (its rows go), the slug and counts instead.
    services.audit.record("tenant.deleted", actor=who(request).user.id, tenant_id=None, slug=tenant.slug,
                          name=tenant.name, via="admin", **counts)
    remove_tenant(services, tenant.slug)
    if tenant.id == who(request).tenant.id:  # the operator deleted the site they were signed in to
        return Redirect("/login", status_code=303)
    return back(request, "/tenants", saved=f"Deleted {tenant.name} ({tenant.slug}): "
                                           f"{counts['pages']} pages and posts, {counts['products']} products, "
                                           f"{counts['orders']} orders, {counts['members']} members' access, "
                                           f"{counts['domains']} domains.")


def remove_tenant(services: Services, slug: str) -> None:
    """The registry row first (nothing new reaches the tenant), its pooled connections, its files, its bucket."""
    services.databases.forget(slug)
    store = _store(services)
    try:
        store.delete(slug)
    finally:
        store.close()
    if services.storages is not None:
        services.storages(slug).remove()


# -- read-only support view ------------------------------------------------------------------


@post("/admin/tenants/support", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def support_start(request: Request, data: Form) -> Response:
    """Open the operator's read-only support view of a tenant's admin, for an hour at most, with the
    reason shown on every page it opens and in the tenant's activity log."""
    _operator(request)
    services, operator = services_of(request), who(request).user
    slug, to = text(data, "slug"), _return_to(data)
    try:
        tenant = services.db.registry.get(slug)
        reason = validate_reason(text(data, "reason"))
    except RegistryError as exc:
        return back(request, to, error=str(exc))
    from ..auth.credentials import SUPPORT_TTL

    token, _ = services.credentials.open_session(operator.id, tenant.id, support_reason=reason)
    services.audit.record("support.started", actor=operator.id, tenant_id=tenant.id, reason=reason,
                          email=operator.email)
    base = site_base(tenant.slug)
    response = Redirect(f"{base}/", status_code=303)
    response.set_cookie(key=SESSION_COOKIE, value=token, path=base, httponly=True, samesite="lax",
                        secure=services.config.production, max_age=int(SUPPORT_TTL.total_seconds()))
    return response


@post("/admin/support/end", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def support_end(request: Request) -> Response:
    """End a support view (the one write it allows); any other session just signs out."""
    services, principal = services_of(request), who(request)
    end_session(services, request.cookies.get(SESSION_COOKIE, ""))  # records support.ended for a support view
    base = site_base(principal.tenant.slug)
    response = Redirect("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base)
    return response


ROUTES = [delete_form, export, delete_tenant, support_start, support_end]
