"""The operators' side of plans (superadmins only): the plans page, where each plan's title, features
and limits are edited, and each tenant's plan page: move it to another plan (with a note, audited,
kept in its history), set limits for it alone, and see what it uses."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from content import plans
from content.errors import RegistryError
from content.gitrepo import Repository

from ..billing.errors import BillingError
from ..security import services_of
from . import billing as admin_billing
from .common import Form, back, page, text, values, who
from .tenants import _operator
from .usage import usage_rows

MB = 2**20


def _shown(key: str, value: int | None) -> str:
    """A limit as the form shows it: bytes in MB, empty for unlimited."""
    if value is None:
        return ""
    return str(value // MB) if plans.BY_KEY[key].unit == "bytes" else str(value)


def _from_form(key: str, raw: str) -> int | None:
    """A limit from the form (MB for sizes); empty or "unlimited" is no limit."""
    raw = raw.strip().lower()
    if plans.BY_KEY[key].unit == "bytes" and raw.isascii() and raw.isdigit() and len(raw) < 12:
        raw = str(int(raw) * MB)
    return plans.parse_limit(key, raw)


def _label(limit: plans.Limit) -> str:
    return f"{limit.label} (MB)" if limit.unit == "bytes" else limit.label


@get("/admin/plans", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def plans_page(request: Request) -> Response:
    _operator(request)
    registry = services_of(request).db.registry
    counts: dict[str, int] = {}
    for tenant in registry.all():
        counts[tenant.plan] = counts.get(tenant.plan, 0) + 1
    return page(request, "plans.html", title="Plans", section="tenants", plans_list=plans.all_plans(registry),
                limits=plans.LIMITS, features=plans.PLAN_FEATURES, shown=_shown, label=_label, on_plan=counts,
                billing_on=admin_billing.billing_of(request) is not None)


@post("/admin/plans/save", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def plan_save(request: Request, data: Form) -> Response:
    _operator(request)
    registry = services_of(request).db.registry
    name = text(data, "name")
    try:
        limits = {limit.key: _from_form(limit.key, text(data, f"limit.{limit.key}")) for limit in plans.LIMITS}
        billing = admin_billing.billing_of(request)
        if billing is not None:  # the price first: a bad one leaves the whole plan as it was
            billing.set_price(name, text(data, "stripe_price"), actor=who(request).user.id)
        saved = plans.update_plan(registry, name, title=text(data, "title"), features=values(data, "features"),
                                  limits=limits, actor=who(request).user.id)
    except RegistryError as exc:
        return back(request, "/plans", error=str(exc))
    except BillingError as exc:
        return back(request, "/plans", error=exc.message)
    return back(request, "/plans", saved=f"{saved.title} saved: every site on it has these features and limits now.")


@get("/admin/tenants/plan", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def tenant_plan(request: Request, slug: FromQuery[str]) -> Response:
    _operator(request)
    services = services_of(request)
    registry = services.db.registry
    tenant = registry.get(slug)
    source = Repository(services.config.data_dir / "tenants" / tenant.slug / "repo.git").source()
    try:
        with services.databases.connection(tenant.slug) as conn:
            rows, over = usage_rows(registry, tenant, source, conn, services.quota)
    finally:
        source.close()
    own = plans.overrides(tenant)
    return page(request, "tenant_plan.html", title=f"Plan of {tenant.name}", section="tenants", site=tenant,
                rows=rows, over=over, plans_list=plans.all_plans(registry), history=plans.history(registry, tenant),
                limits=plans.LIMITS, label=_label, billing=admin_billing.status(request, tenant),
                billing_on=admin_billing.billing_of(request) is not None,
                own={key: ("unlimited" if value is None else _shown(key, value)) for key, value in own.items()})


@post("/admin/tenants/plan/change", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def tenant_plan_change(request: Request, data: Form) -> Response:
    _operator(request)
    registry = services_of(request).db.registry
    slug = text(data, "slug")
    try:
        before = registry.get(slug)
        billed = admin_billing.change_plan(request, slug, text(data, "plan"), actor=who(request).user.id,
                                           note=text(data, "note"))
        if billed is not None:  # Stripe changed first; the site moved now or moves at the period's end
            return back(request, f"/tenants/plan?slug={slug}", saved=billed)
        updated = registry.update(slug, plan=text(data, "plan"), actor=who(request).user.id, note=text(data, "note"))
    except RegistryError as exc:
        return back(request, f"/tenants/plan?slug={slug}", error=str(exc))
    except BillingError as exc:
        return back(request, f"/tenants/plan?slug={slug}", error=exc.message)
    if updated.plan == before.plan:
        return back(request, f"/tenants/plan?slug={slug}", saved=f"{updated.name} stays on {updated.plan}.")
    return back(request, f"/tenants/plan?slug={slug}", saved=f"{updated.name} moved from {before.plan} to {updated.plan}. "
                                                             "Nothing was removed; anything over a limit is listed below.")


@post("/admin/tenants/limits", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def tenant_limits(request: Request, data: Form) -> Response:
    _operator(request)
    registry = services_of(request).db.registry
    slug = text(data, "slug")
    chosen: dict[str, Any] = {}
    try:
        for limit in plans.LIMITS:
            raw = text(data, f"limit.{limit.key}")
            if raw:  # empty: follow the plan
                chosen[limit.key] = _from_form(limit.key, raw)
        updated = plans.set_overrides(registry, slug, chosen, actor=who(request).user.id, note=text(data, "note"))
    except RegistryError as exc:
        return back(request, f"/tenants/plan?slug={slug}", error=str(exc))
    return back(request, f"/tenants/plan?slug={slug}",
                saved=f"Limits for {updated.name} saved: {len(chosen)} set for this site, the rest follow its plan.")


ROUTES = [plans_page, plan_save, tenant_plan, tenant_plan_change, tenant_limits]
