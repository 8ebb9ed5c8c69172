"""Settings → Plan and usage (owners and admins): the site's plan, every limit beside what the site
uses of it (counted from the repository, platform.db and tenant.db), what is over a limit after a
downgrade, and the history of plan changes. Read-only: only operators change plans."""

from __future__ import annotations

from litestar import Request, Response, get

from content import plans

from ..security import services_of
from .billing import status as billing_status
from .common import page, read_only, repo_of, who

# What being over each limit means for the site, shown beside it on the usage page. Nothing is ever
# removed or unpublished: only adding more is refused (and, for content, changing the newest).
OVER = {
    "products": "The newest ones are read-only: they stay in the shop and can be removed, not changed. No product "
                "can be added.",
    "pages_and_posts": "The newest ones are read-only: they stay published and can be removed, not changed. No page "
                       "or post can be added.",
    "media_bytes": "Every file stays published; nothing can be uploaded.",
    "staff_seats": "Everyone keeps their access and role; nobody can be invited or given a role.",
    "custom_domains": "Every domain keeps serving the site; no domain can be added.",
    "orders_per_month": "Orders placed stay; the shop takes no more orders this month.",
    "publishes_per_day": "What is live stays live; the site cannot be published again today.",
}
SHOWN = 50  # read-only items listed per limit; the rest are counted


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
             "used": used[limit.key], "over": over.get(limit.key, 0), "overridden": limit.key in own} for limit in plans.LIMITS]
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
    locked: dict[str, list[str]] = {key: [] for key in plans.COUNTED}
    for path, key in sorted(read_only(request).items()):
        locked[key].append(path)
    return page(request, "usage.html", title="Plan and usage", section="settings", sub="usage", rows=rows,
                over=over, over_means=OVER, read_only=locked, shown=SHOWN, plan=plans.get_plan(registry, tenant.plan),
                plans_list=plans.all_plans(registry), history=plans.history(registry, tenant),
                plan_features=plans.PLAN_FEATURES, billing=billing_status(request, tenant))


ROUTES = [usage_page]
