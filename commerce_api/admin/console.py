"""The operator's console (superadmins only): every tenant in one table — plan, use of its main
limits, last publish, orders and paid revenue this month, errors of the last day, suspended or not —
sorted, filtered and paged with plain links and a GET form, and the same table as CSV; and platform
health: the job queue's depth and age, failed jobs with a retry, publish times and the API's error
rate from the metrics ``/metrics`` exports."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from litestar import Request, Response, get, post

from content import plans
from content.registry import Tenant
from publish.errors import NotRetryable

from ..errors import BadRequest
from ..security import admin_base, services_of
from . import console_queries as q
from .billing import states as billing_states
from .common import Form, back, page, text, who
from .report_common import csv_response
from .tenants import _operator

PER_PAGE = 50
MAX_PER_PAGE = 200
STATUSES = ("active", "trial", "suspended")
FAILED_DAYS = 7  # failed jobs listed on the health page
TIMED_JOBS = 50  # the latest finished publishes whose durations the health page shows


# -- the table ---------------------------------------------------------------------------------


def _choice(request: Request, name: str, allowed: tuple[str, ...] | list[str], default: str = "") -> str:
    value = (request.query_params.get(name) or "").strip()
    if value and value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value or default


def _whole(request: Request, name: str, default: int, top: int) -> int:
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= top:
        raise BadRequest(f"{name} must be a whole number from 1 to {top}", field=name)
    return int(raw)


def _query(request: Request, plan_names: list[str]) -> dict[str, str]:
    """The table's view from the query string; a value the table cannot take is a 400 naming it."""
    chosen = {"q": (request.query_params.get("q") or "").strip()[:100],
              "plan": _choice(request, "plan", plan_names),
              "status": _choice(request, "status", STATUSES),
              "sort": _choice(request, "sort", list(q.SORTS), "name"),
              "dir": _choice(request, "dir", ("asc", "desc"), "")}
    chosen["dir"] = chosen["dir"] or ("asc" if chosen["sort"] in q.REGISTRY_SORTS else "desc")  # biggest first
    return chosen


def _matches(tenant: Tenant, view: dict[str, str]) -> bool:
    if view["plan"] and tenant.plan != view["plan"]:
        return False
    if view["status"] and tenant.status != view["status"]:
        return False
    needle = view["q"].casefold()
    return not needle or needle in tenant.slug.casefold() or needle in tenant.name.casefold()


def _rows(request: Request, view: dict[str, str], *, n: int | None, per: int) -> tuple[list[q.ConsoleRow], int]:
    """The rows the view shows (page ``n``, or all of them with ``n=None``) and how many match.

    A sort on the registry's columns (name, plan, status) counts only the rows on the page; any other
    sort has to count every matching tenant first."""
    services = services_of(request)
    registry = services.db.registry
    tenants = {t.slug: t for t in registry.all() if _matches(t, view)}
    rows = [q.registry_row(t) for t in tenants.values()]
    window = q.Window.at()
    failed, waiting = q.platform_side(services.queue.conn, window)

    def fill(row: q.ConsoleRow) -> None:
        with services.databases.connection(row.slug) as conn:
            q.count(row, registry, tenants[row.slug], services.config.data_dir / "tenants" / row.slug / "repo.git",
                    conn, window, failed, waiting)

    if view["sort"] not in q.REGISTRY_SORTS:
        for row in rows:
            fill(row)
    # Ties keep the name order, whichever way the column sorts.
    rows.sort(key=q.SORTS["name"])
    rows.sort(key=q.SORTS[view["sort"]], reverse=view["dir"] == "desc")
    total = len(rows)
    if n is not None:
        rows = rows[(n - 1) * per:n * per]
    for row in rows:
        if not row.counted:
            fill(row)
    return rows, total


@get("/admin/console", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def console(request: Request) -> Response:
    _operator(request)
    registry = services_of(request).db.registry
    plans_list = plans.all_plans(registry)
    view = _query(request, [p.name for p in plans_list])
    per = _whole(request, "per", PER_PAGE, MAX_PER_PAGE)
    n = _whole(request, "n", 1, 10**6)
    rows, total = _rows(request, view, n=n, per=per)
    pages_count = max(1, -(-total // per))
    if n > pages_count and total:
        rows, total = _rows(request, view, n=pages_count, per=per)
        n = pages_count
    base = f"{admin_base(request)}/console"
    kept = {k: v for k, v in view.items() if v} | ({"per": str(per)} if per != PER_PAGE else {})

    def link(**changes: str) -> str:
        """The table's address with some of its view changed (paging starts again unless given)."""
        return f"{base}?{urlencode({k: v for k, v in (kept | changes).items() if v})}"

    def sort_link(column: str) -> str:
        if view["sort"] == column:
            return link(sort=column, dir="asc" if view["dir"] == "desc" else "desc")
        return link(sort=column, dir="asc" if column in q.REGISTRY_SORTS else "desc")

    return page(request, "console.html", title="Console: all tenants", section="tenants", rows=rows, total=total,
                view=view, plans_list=plans_list, statuses=STATUSES, link=link, sort_link=sort_link, per=per,
                paging={"total": total, "n": n, "pages_count": pages_count, "per_page": per},
                more=link(), csv=f"{admin_base(request)}/console.csv?{urlencode({k: v for k, v in kept.items() if k != 'per'})}",
                shown=q.shown, labels={key: plans.BY_KEY[key].label for key in q.MAIN_LIMITS},
                billing_states=billing_states(request))


CSV_HEADER = ["slug", "name", "plan", "status", "suspended",
              *[f"{key}{suffix}" for key in q.MAIN_LIMITS for suffix in ("", "_limit")],
              "last_publish_at", "last_publish_state", "orders_this_month", "revenue_this_month", "currency",
              "failed_jobs_last_day", "failed_deliveries_last_day", "errors_last_day"]


@get("/admin/console.csv", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def console_csv(request: Request) -> Response:
    _operator(request)
    registry = services_of(request).db.registry
    view = _query(request, [p.name for p in plans.all_plans(registry)])
    rows, _ = _rows(request, view, n=None, per=PER_PAGE)

    def unlimited(value: int | None) -> int | str:
        return "unlimited" if value is None else value

    out = []
    for r in rows:
        amounts, currencies = r.revenue_decimals()
        out.append([r.slug, r.name, r.plan, r.status, "yes" if r.suspended else "no",
                    *[v for key in q.MAIN_LIMITS for v in ("" if r.used[key] is None else r.used[key],
                                                           unlimited(r.limits[key]))],
                    r.publish_at, r.publish_state, r.orders, amounts, currencies, r.failed_jobs,
                    r.failed_deliveries, r.errors])
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return csv_response(f"tenants-{stamp}.csv", CSV_HEADER, out)


# -- platform health --------------------------------------------------------------------------


def _seconds(job) -> float | None:
    if not job.started_at or not job.finished_at:
        return None
    return (datetime.fromisoformat(job.finished_at) - datetime.fromisoformat(job.started_at)).total_seconds()


def api_errors(registry) -> dict:
    """Requests, 4xx and 5xx answers (and the routes with the most 5xx) from the gateway's
    ``tessera_http_requests`` counter: since this process started, like ``/metrics``."""
    total = client = server = 0
    by_route: dict[str, int] = {}
    for metric in registry.collect():
        if metric.name != "tessera_http_requests":
            continue
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue
            value = int(sample.value)
            total += value
            status = sample.labels.get("status", "")
            if status.startswith("4"):
                client += value
            elif status.startswith("5"):
                server += value
                route = f"{sample.labels.get('method', '')} {sample.labels.get('route', '')}"
                by_route[route] = by_route.get(route, 0) + value
    worst = sorted(by_route.items(), key=lambda item: (-item[1], item[0]))[:10]
    return {"total": total, "client": client, "server": server,
            "server_rate": server / total if total else 0.0, "client_rate": client / total if total else 0.0,
            "routes": worst}


@get("/admin/health", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def health(request: Request) -> Response:
    _operator(request)
    queue = services_of(request).queue
    since = (datetime.now(timezone.utc) - timedelta(days=FAILED_DAYS)).isoformat(timespec="seconds")
    timed = [(job, s) for job in queue.list(limit=TIMED_JOBS * 2)
             if job.status in ("done", "failed") and (s := _seconds(job)) is not None][:TIMED_JOBS]
    durations = [s for _, s in timed]
    times = {"count": len(durations),
             "median": statistics.median(durations) if durations else None,
             "p90": statistics.quantiles(durations, n=10)[-1] if len(durations) >= 2 else (durations or [None])[0],
             "max": max(durations, default=None)}
    return page(request, "health.html", title="Platform health", section="tenants", queue=queue.health(),
                failed=queue.failed(since), failed_days=FAILED_DAYS, timed=timed[:20], times=times,
                api=api_errors(request.app.state.metrics.registry))


@post("/admin/health/retry", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def retry(request: Request, data: Form) -> Response:
    _operator(request)
    services = services_of(request)
    raw = text(data, "job")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadRequest("job must be the number of a failed job", field="job")
    try:
        job = services.queue.retry(int(raw))
    except NotRetryable as exc:
        return back(request, "/health", error=str(exc))
    tenant = services.db.registry.find(job.tenant)  # None: a job of a tenant since deleted (it fails again, saying so)
    tenant_id = tenant.id if tenant else None
    services.audit.record("job.retried", actor=who(request).user.id, tenant_id=tenant_id, job=job.id,
                          tenant=job.tenant, kind=job.kind, error=job.log[-2000:])
    return back(request, "/health", saved=f"Job {job.id} ({job.kind} of {job.tenant}) is queued again.")


ROUTES = [console, console_csv, health, retry]
