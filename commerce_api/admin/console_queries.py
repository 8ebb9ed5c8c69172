"""The numbers of the operator's console, one tenant at a time: its usage against its plan's main
limits, its last publish, orders and paid revenue this month, and its errors of the last day.

Each tenant costs one pass: its repository's file list (for products, pages and media), one borrowed
``tenant.db`` connection (given back at once) and nothing else; what lives in ``platform.db`` (jobs)
is read once for every tenant together. Months and days are UTC, like the usage page's."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from content import plans
from content.gitrepo import Repository
from content.money import Money
from content.registry import Registry, Tenant

from .tax_queries import PAID

# The limits the console shows beside their use (every other limit is on the tenant's plan page).
MAIN_LIMITS = ("products", "pages_and_posts", "media_bytes", "staff_seats")
PUBLISH_LANE = "kind != 'notify'"


@dataclass
class ConsoleRow:
    slug: str
    name: str
    plan: str
    status: str
    used: dict[str, int | None] = field(default_factory=dict)  # MAIN_LIMITS → use (None: not counted)
    limits: dict[str, int | None] = field(default_factory=dict)  # MAIN_LIMITS → limit (None: unlimited)
    publish_at: str = ""  # the last deploy's start ('' for never)
    publish_state: str = ""  # live, failed, superseded, running; or the queue's "queued"/"running" now
    orders: int = 0  # placed this month, as counted against "orders per month"
    revenue: dict[str, int] = field(default_factory=dict)  # currency → paid total in minor units
    failed_jobs: int = 0
    failed_deliveries: int = 0
    counted: bool = False  # False: only the registry's columns were read (the row is not on the page)

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"

    @property
    def errors(self) -> int:
        return self.failed_jobs + self.failed_deliveries

    def over(self, key: str) -> bool:
        limit, used = self.limits.get(key), self.used.get(key)
        return limit is not None and used is not None and used > limit

    def revenue_words(self) -> list[str]:
        return [str(Money(amount, currency)) for currency, amount in sorted(self.revenue.items())]

    def revenue_decimals(self) -> tuple[str, str]:
        """(amounts, currencies) for a CSV: "12.50", "EUR"; a tenant paid in several currencies gets
        "12.50; 3.00" and "EUR; GBP" (amounts are never added across currencies)."""
        items = sorted(self.revenue.items())
        return "; ".join(Money(a, c).decimal() for c, a in items), "; ".join(c for c, _ in items)


@dataclass(frozen=True)
class Window:
    """The moments the console counts from: the start of this UTC month and 24 hours ago."""
    now: datetime

    @property
    def month(self) -> str:
        return self.now.strftime("%Y-%m-01")

    @property
    def day_ago(self) -> str:
        return (self.now - timedelta(days=1)).isoformat(timespec="seconds")

    @classmethod
    def at(cls, now: datetime | None = None) -> Window:
        return cls((now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0))


def platform_side(platform: sqlite3.Connection, window: Window) -> tuple[dict[str, int], dict[str, str]]:
    """For every tenant at once, from the job queue: failed jobs in the last day, and the state of a
    publish waiting or running now (``queued``/``running``)."""
    failed = {r[0]: r[1] for r in platform.execute(
        "SELECT tenant, count(*) FROM jobs WHERE status = 'failed' AND coalesce(finished_at, created_at) >= ? "
        "GROUP BY tenant", (window.day_ago,))}
    waiting: dict[str, str] = {}
    for tenant, status in platform.execute(
            f"SELECT tenant, status FROM jobs WHERE status IN ('queued', 'running') AND {PUBLISH_LANE} "
            "AND run_after <= ? ORDER BY status = 'running'", (window.now.isoformat(timespec="seconds"),)):
        waiting[tenant] = status  # "running" sorts last, so it wins over a queued one
    return failed, waiting


def registry_row(tenant: Tenant) -> ConsoleRow:
    return ConsoleRow(tenant.slug, tenant.name, tenant.plan, tenant.status)


def count(row: ConsoleRow, registry: Registry, tenant: Tenant, repo_path: Path, conn: sqlite3.Connection,
          window: Window, failed_jobs: dict[str, int], waiting: dict[str, str]) -> ConsoleRow:
    """Fill in a row's numbers from the tenant's repository and ``tenant.db``."""
    limits = plans.limits_for(registry, tenant)
    row.limits = {key: limits[key] for key in MAIN_LIMITS}
    if repo_path.exists():
        source = Repository(repo_path).source()
        try:
            used = plans.usage(registry, tenant, source, conn, now=window.now)
        finally:
            source.close()
        row.used = {key: used[key] for key in MAIN_LIMITS}
        row.orders = used["orders_per_month"] or 0
    else:  # a tenant whose repository is gone still gets a row, with what its databases say
        row.used = {key: None for key in MAIN_LIMITS}
        row.orders = conn.execute("SELECT count(*) FROM orders WHERE created_at >= ?", (window.month,)).fetchone()[0]
    marks = ", ".join("?" * len(PAID))
    row.revenue = {r[0]: r[1] for r in conn.execute(
        f"SELECT currency, sum(total) FROM orders WHERE created_at >= ? AND payment_status IN ({marks}) "
        "AND status != 'cancelled' GROUP BY currency", (window.month, *PAID))}
    last = conn.execute("SELECT started_at, status FROM deploys ORDER BY id DESC LIMIT 1").fetchone()
    if last is not None:
        row.publish_at, row.publish_state = last[0], last[1]
    if tenant.slug in waiting:  # a publish in the queue says more about now than the last deploy
        row.publish_state = waiting[tenant.slug]
    row.failed_jobs = failed_jobs.get(tenant.slug, 0)
    row.failed_deliveries = conn.execute(
        "SELECT count(*) FROM deliveries d WHERE d.status = 'failed' AND coalesce("
        "(SELECT max(at) FROM delivery_attempts a WHERE a.delivery_id = d.id), d.created_at) >= ?",
        (window.day_ago,)).fetchone()[0]
    row.counted = True
    return row


def shown(key: str, value: int | None) -> str:
    """A use or limit in a table cell: "12", "199 MB", "unlimited" (the column names the thing)."""
    if value is None:
        return "unlimited"
    return plans.bare(key, value)


# -- sorting ------------------------------------------------------------------------------------

# Column → how rows sort on it. The first three need only the registry, so a page sorted by them
# counts only the tenants it shows.
SORTS: dict[str, Any] = {
    "name": lambda r: (r.name.casefold(), r.slug),
    "plan": lambda r: (r.plan, r.name.casefold()),
    "status": lambda r: (r.status, r.name.casefold()),
    "products": lambda r: r.used.get("products") or 0,
    "pages": lambda r: r.used.get("pages_and_posts") or 0,
    "storage": lambda r: r.used.get("media_bytes") or 0,
    "seats": lambda r: r.used.get("staff_seats") or 0,
    "publish": lambda r: r.publish_at,
    "orders": lambda r: r.orders,
    "revenue": lambda r: max(r.revenue.values(), default=0),  # the largest amount in any one currency
    "errors": lambda r: r.errors,
}
REGISTRY_SORTS = ("name", "plan", "status")
