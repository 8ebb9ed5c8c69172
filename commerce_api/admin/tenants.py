"""The platform operator's tenants page (superadmins only): create, suspend (with a reason the site's people
see), resume, features, plan, links to delete and to a read-only support view,
and each site's views and visitors over the last 30 days with the total across sites."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from content.errors import RegistryError
from content.registry import FEATURES, parse_features

from ..billing.errors import BillingError
from ..errors import Forbidden
from ..security import services_of
from . import traffic_queries
from .billing import change_plan
from .common import Form, back, page, paged, text, values, who

TENANTS_PER_PAGE = 50

TRAFFIC_DAYS = 30


def _operator(request: Request) -> None:
    if not who(request).user.is_superadmin:
        raise Forbidden("only platform operators manage tenants", code="forbidden")


@get("/admin/tenants", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def tenants(request: Request, n: FromQuery[str] = "1", q: FromQuery[str] = "") -> Response:
    """A page of tenants (50, with a search by name or slug): each row reads its site's traffic, so
    the page costs the same with ten tenants or ten thousand."""
    _operator(request)
    services = services_of(request)
    query = " ".join(q.split())[:100]
    everyone = services.db.registry.all()
    if query:
        needle = query.lower()
        everyone = [t for t in everyone if needle in t.name.lower() or needle in t.slug]
    everyone, paging = paged(everyone, int(n) if n.isascii() and n.isdigit() and len(n) < 7 else 1, TENANTS_PER_PAGE)
    until = datetime.now(timezone.utc).date()
    since = until - timedelta(days=TRAFFIC_DAYS - 1)
    traffic: dict[str, tuple[int, int]] = {}  # slug → (views, visitors), for sites that count
    for tenant in everyone:
        if tenant.has("analytics"):
            with services.databases.connection(tenant.slug) as conn:
                traffic[tenant.slug] = traffic_queries.totals(conn, since, until)
    total = (sum(v for v, _ in traffic.values()), sum(v for _, v in traffic.values()))
    return page(request, "tenants.html", title="Tenants", section="tenants", tenants=everyone, features=FEATURES,
                traffic=traffic, traffic_total=total, since=since, until=until, paging=paging, query=query,
                more=f"?q={quote(query)}")


@post("/admin/tenants/update", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def update(request: Request, data: Form) -> Response:
    _operator(request)
    services = services_of(request)
    slug, action = text(data, "slug"), text(data, "action")
    if action == "suspend":
        return _suspend(request, data)
    if action == "resume":
        return _resume(request, data)
    try:
        # The plan is changed on the tenant's plan page (with a note); a plan sent here still
        # goes through the registry, which records it in the history like any change.
        plan = text(data, "plan") or None
        if plan and plan != services.db.registry.get(slug).plan \
                and change_plan(request, slug, plan, actor=who(request).user.id) is not None:
            plan = None  # billing on: Stripe moved it (or scheduled the move at the period's end)
        updated = services.db.registry.update(slug, features=parse_features(values(data, "features")),
                                              plan=plan, actor=who(request).user.id)
    except RegistryError as exc:
        return back(request, "/tenants", error=str(exc))
    except BillingError as exc:
        return back(request, "/tenants", error=exc.message)
    services.audit.record("tenant.updated", actor=who(request).user.id, tenant_id=updated.id, status=updated.status,
                          features=sorted(updated.features), plan=updated.plan)
    return back(request, "/tenants", saved=f"{updated.name}: {updated.status}, {updated.plan}, "
                                         f"{', '.join(sorted(updated.features)) or 'no features'}.")


def _return_to(data: Form) -> str:
    """Where a per-tenant action goes back to: the page it was posted from (the tenants page by default)."""
    to = text(data, "return_to")
    return to if to in ("/tenants", "/console") or to.startswith("/tenants/plan?slug=") else "/tenants"


@post("/admin/tenants/suspend", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def suspend(request: Request, data: Form) -> Response:
    """Suspend a site with a reason (required): its people see it on every admin page and in refusals."""
    _operator(request)
    return _suspend(request, data)


def _suspend(request: Request, data: Form) -> Response:
    services, actor = services_of(request), who(request).user.id
    slug, to = text(data, "slug"), _return_to(data)
    try:
        suspended = services.db.registry.suspend(slug, text(data, "reason"), actor=actor)
    except RegistryError as exc:
        return back(request, to, error=f"Not suspended: {exc}")
    services.audit.record("tenant.suspended", actor=actor, tenant_id=suspended.id, via="admin",
                          reason=suspended.suspension["reason"])  # type: ignore[index]
    return back(request, to, saved=f"{suspended.name} is suspended. Its people see the reason on every admin page; "
                                   "the site can be read but not changed, and the storefront shows a suspended page.")


@post("/admin/tenants/resume", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def resume(request: Request, data: Form) -> Response:
    _operator(request)
    return _resume(request, data)


def _resume(request: Request, data: Form) -> Response:
    services, actor = services_of(request), who(request).user.id
    slug, to = text(data, "slug"), _return_to(data)
    try:
        before = services.db.registry.get(slug)
        resumed = services.db.registry.resume(slug)
    except RegistryError as exc:
        return back(request, to, error=str(exc))
    services.audit.record("tenant.resumed", actor=actor, tenant_id=resumed.id, via="admin",
                          suspended_by=(before.suspension or {}).get("by"))
    return back(request, to, saved=f"{resumed.name} is active again.")


@post("/admin/tenants/create", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def create(request: Request, data: Form) -> Response:
    _operator(request)
    from content.tenants import Tenants

    services = services_of(request)
    config = services.config
    store = Tenants(config.data_dir, config.sites_dir) if config.sites_dir else None
    if store is None:
        return back(request, "/tenants", error="This installation has no starter sites configured.")
    try:
        created = store.create(text(data, "slug"), text(data, "name"), parse_features(values(data, "features")),
                               starter=text(data, "starter") or None)
    except RegistryError as exc:
        return back(request, "/tenants", error=str(exc))
    finally:
        store.close()
    services.audit.record("tenant.created", actor=who(request).user.id, tenant_id=created.id, slug=created.slug)
    return back(request, "/tenants", saved=f"Created {created.name} ({created.slug}). Add its owner under Users, "
                                         "on its own admin.")


ROUTES = [tenants, update, suspend, resume, create]
