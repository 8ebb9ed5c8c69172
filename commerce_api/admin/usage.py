"""Settings → Plan and usage (owners and admins): the site's plan, every limit beside what the site
uses of it (counted from the repository, platform.db and tenant.db), what is over a limit after a
downgrade, and the history of plan changes. Read-only: only operators change plans."""

from __future__ import annotations

from litestar import Request, Response, get

from content import plans

from ..security import services_of
from .billing import status as billing_status
from .common import page, repo_of, who


def usage_rows(registry, tenant, source, conn, quota=None) -> tuple[list[dict], dict[str, int]]:
    """One row per limit: its label, the limit, the use and by how much it is over (0 when not).
    API requests are counted by the serving process (``quota``): the last 60 seconds'."""
    limits = plans.limits_for(registry, tenant)
    used = plans.usage(registry, tenant, source, conn)
    if quota is not None:
        used["api_requests_per_minute"] = quota.used(tenant)
    over = plans.over(limits, used)
    own = plans.overrides(tenant)
    rows = [{"key": limit.key, "label": limit.label, "unit": limit.unit, "limit": limits[limit.key],
             "used": used[limit.key], "over": over.get(limit.key, 0), "overridden": limit.key in own,
             "enforced": limit.enforced} for limit in plans.LIMITS]
    return rows, over


@get("/admin/settings/usage", opt={"action": "plan:read"}, sync_to_thread=True, include_in_schema=False)
def usage_page(request: Request) -> Response:
    member = who(request)
    services = services_of(request)
    registry = services.db.registry
    tenant = registry.get(member.tenant.slug)  # fresh: the plan may have changed since the request began
    source = repo_of(request).source()
    try:
        with services.databases.connection(tenant.slug) as conn:
            rows, over = usage_rows(registry, tenant, source, conn, services.quota)
    finally:
        source.close()
    return page(request, "usage.html", title="Plan and usage", section="settings", sub="usage", rows=rows,
                over=over, plan=plans.get_plan(registry, tenant.plan), plans_list=plans.all_plans(registry),
                history=plans.history(registry, tenant), plan_features=plans.PLAN_FEATURES,
                billing=billing_status(request, tenant))


ROUTES = [usage_page]
