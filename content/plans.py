"""Plans as data: what each plan includes and allows, a tenant's own overrides, what a tenant uses,
and the one check every way in (admin, git push, CLI) makes before content is added.

A limit only ever refuses an addition. Nothing here deletes, hides or locks what a tenant already
has: a downgrade leaves the excess in place, and the usage page shows it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from .errors import InvalidValue, TesseraError
from .registry import Registry, Tenant, now_iso

# Every feature a plan can include. The first three are also switched per tenant (``registry.FEATURES``)
# and are on only when both the tenant and its plan have them; the others are recorded per plan.
PLAN_FEATURES = ("cms", "ecommerce", "analytics", "custom_domains", "git", "webhooks", "forms")
# No plan may take uploads past this: the admin's upload route refuses larger requests before reading.
UPLOAD_CEILING = 100 * 2**20


@dataclass(frozen=True)
class Limit:
    key: str
    label: str  # "Products", for tables
    noun: str  # "products", in sentences: "allows 50 products"
    one: str  # "product", in sentences about one: "allows 1 product"
    unit: str = "count"  # "count" or "bytes"
    otherwise: str = ""  # the message's last words when "remove some ... first" makes no sense


LIMITS = (
    Limit("products", "Products", "products", "product"),
    Limit("pages_and_posts", "Pages and posts", "pages and posts", "page or post"),
    Limit("media_bytes", "Media storage", "of media", "of media", "bytes"),
    Limit("upload_bytes", "Largest upload", "per upload", "per upload", "bytes"),
    Limit("staff_seats", "Staff seats", "staff seats", "staff seat",
          otherwise="or remove someone's role (or withdraw an invitation) first"),
    Limit("custom_domains", "Custom domains", "custom domains", "custom domain"),
    Limit("orders_per_month", "Orders per month", "orders a month", "order a month",
          otherwise="the shop takes orders again on the 1st of next month"),
    Limit("publishes_per_day", "Publishes per day", "publishes a day", "publish a day",
          otherwise="or publish again tomorrow (the day starts at midnight UTC)"),
    Limit("api_requests_per_minute", "API requests per minute", "API requests a minute", "API request a minute"),
)
BY_KEY = {limit.key: limit for limit in LIMITS}


def amount(key: str, value: int | None) -> str:
    """A limit or a use as people read it: "50 products", "200 MB of media", "unlimited"."""
    limit = BY_KEY[key]
    if value is None:
        return f"unlimited {limit.noun}" if limit.unit == "count" else "unlimited"
    if limit.unit == "bytes":
        if value >= 2**30 and value % 2**30 == 0:
            size = f"{value // 2**30} GB"
        elif value >= 2**20:
            size = f"{value / 2**20:.0f} MB"
        else:
            size = f"{value / 2**10:.0f} KB" if value >= 2**10 else f"{value} bytes"
        return f"{size} {limit.noun}"
    return f"{value} {limit.one if value == 1 else limit.noun}"


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    features: frozenset[str]
    limits: dict[str, int | None] = field(compare=False, hash=False)
    position: int = 0
    # The Stripe price a tenant on this plan is billed at when the operator bills with Stripe
    # (commerce_api.billing); None: a free plan, no subscription.
    stripe_price: str | None = None

    @property
    def free(self) -> bool:
        return not self.stripe_price

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Plan:
        stored = json.loads(row["limits"])
        # A key missing from a plan's row is unlimited: an older row never silently limits a new thing.
        return cls(row["name"], row["title"], frozenset(json.loads(row["features"])),
                   {limit.key: stored.get(limit.key) for limit in LIMITS}, row["position"],
                   row["stripe_price"] if "stripe_price" in row.keys() else None)


class LimitReached(TesseraError):
    """Adding this would take the site past a limit of its plan: remove something, or move the site to
    the plan named in the message (the platform's operator does that)."""

    code = "limit_reached"
    status = 403

    def __init__(self, key: str, limit: int | None, current: int, after: int, plan: Plan,
                 lifts: Plan | None, overridden: bool = False) -> None:
        self.key, self.limit, self.current, self.after = key, limit, current, after
        self.plan, self.lifts, self.field = plan, lifts, key
        noun = BY_KEY[key].noun
        allows = (f"This site's limit is {amount(key, limit)} (set for it by the platform's operator)"
                  if overridden else f"Your {plan.title} plan allows {amount(key, limit)}")
        message = f"{allows}; the site has {_quantity(key, current)}"
        if after > current:
            message += f", and this would make {_quantity(key, after)}"
        if overridden:
            message += ". Ask the platform's operator to raise it"
        elif lifts is not None:
            message += f". {lifts.title} allows {amount(key, lifts.limits[key])}: ask the platform's operator to move the site to it"
        else:
            message += ". No plan allows more: ask the platform's operator"
        otherwise = BY_KEY[key].otherwise or f"or remove some {noun.removeprefix('of ')} first"
        separator = "; " if otherwise.startswith("the ") else ", "
        super().__init__(f"{message}{separator}{otherwise}.")


FEATURE_NAMES = {"cms": "the CMS", "ecommerce": "the shop", "analytics": "analytics", "custom_domains": "custom domains",
                 "git": "git access", "webhooks": "webhooks", "forms": "forms"}


class FeatureOff(TesseraError):
    """The site's plan does not include this feature: its data is kept, but it is hidden and refused."""

    code = "feature_disabled"
    status = 403

    def __init__(self, feature: str, plan: Plan, lifts: Plan | None) -> None:
        self.feature, self.field = feature, feature
        name = FEATURE_NAMES.get(feature, feature)
        message = f"Your {plan.title} plan does not include {name}."
        if lifts is not None:
            message += f" {lifts.title} includes it: ask the platform's operator to move the site to it."
        else:
            message += " Ask the platform's operator."
        super().__init__(message)


def check_feature(registry: Registry, tenant: Tenant, feature: str) -> None:
    """Refuse (``FeatureOff``) what needs a feature the site's plan does not include."""
    if tenant.has(feature):
        return
    plan = get_plan(registry, tenant.plan)
    if feature in plan.features:
        return  # on in the plan but off for the site: the operator's choice, not the plan's
    lifts = next((p for p in all_plans(registry) if feature in p.features and p.position > plan.position), None)
    raise FeatureOff(feature, plan, lifts)


def _quantity(key: str, value: int) -> str:
    """The number alone ("50"), or the size ("199 MB"), without the limit's noun."""
    return bare(key, value) if BY_KEY[key].unit == "bytes" else str(value)


def bare(key: str, value: int) -> str:
    """An amount without its noun, for a column that names the thing: "12", "199 MB"."""
    return amount(key, value).removesuffix(f" {BY_KEY[key].one if value == 1 else BY_KEY[key].noun}")


# -- plans --------------------------------------------------------------------------------------


def all_plans(registry: Registry) -> list[Plan]:
    return [Plan.from_row(r) for r in registry.conn.execute("SELECT * FROM plans ORDER BY position, name")]


def get_plan(registry: Registry, name: str) -> Plan:
    row = registry.conn.execute("SELECT * FROM plans WHERE name = ?", (name,)).fetchone()
    if row is None:
        names = ", ".join(p.name for p in all_plans(registry))
        raise InvalidValue("plan", f"{name!r} is not one of {names}")
    return Plan.from_row(row)


def parse_limit(key: str, value: object) -> int | None:
    """A limit from a form or a file: a whole number, or empty / "unlimited" for no limit."""
    if key not in BY_KEY:
        raise InvalidValue("limits", f"unknown limit {key!r}; choose from {', '.join(BY_KEY)}")
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "unlimited", "none", "null"):
        if key == "upload_bytes":
            return UPLOAD_CEILING
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > 2**63 - 1:
        raise InvalidValue(key, f"{BY_KEY[key].label}: write a whole number, or leave it empty for no limit")
    number = int(text)
    if key == "upload_bytes" and number > UPLOAD_CEILING:
        raise InvalidValue(key, f"{BY_KEY[key].label}: at most {UPLOAD_CEILING} bytes ({UPLOAD_CEILING // 2**20} MB)")
    return number


def update_plan(registry: Registry, name: str, *, title: str, features: Iterable[str],
                limits: dict[str, int | None], actor: int | None) -> Plan:
    """The operator edits a plan: every tenant on it has the new features and limits at once."""
    before = get_plan(registry, name)
    title = " ".join(str(title).split())
    if not title or len(title) > 60:
        raise InvalidValue("title", "a plan needs a title of 1-60 characters")
    chosen = sorted(set(features))
    unknown = [f for f in chosen if f not in PLAN_FEATURES]
    if unknown:
        raise InvalidValue("features", f"unknown feature {', '.join(map(repr, unknown))}; "
                                       f"choose from {', '.join(PLAN_FEATURES)}")
    clean = {limit.key: limits.get(limit.key) for limit in LIMITS}
    stamp = now_iso()
    with registry.conn:
        registry.conn.execute("UPDATE plans SET title = ?, features = ?, limits = ?, updated_at = ? WHERE name = ?",
                              (title, json.dumps(chosen), json.dumps(clean), stamp, name))
        detail = {"plan": name, "title": title, "features": chosen, "limits": clean,
                  "before": {"title": before.title, "features": sorted(before.features), "limits": before.limits}}
        registry.conn.execute("INSERT INTO audit_log (at, actor_user_id, tenant_id, event, detail) VALUES (?, ?, NULL, ?, ?)",
                              (stamp, actor, "plan.edited", json.dumps(detail, sort_keys=True)))
    return get_plan(registry, name)


# -- a tenant's limits --------------------------------------------------------------------------


def overrides(tenant: Tenant) -> dict[str, int | None]:
    """The limits the operator set for this tenant alone (``tenants.settings["limits"]``)."""
    stored = tenant.settings.get("limits") or {}
    return {key: stored[key] for key in BY_KEY if key in stored}


def limits_for(registry: Registry, tenant: Tenant) -> dict[str, int | None]:
    """Every limit that applies to the tenant: its plan's, replaced by its own overrides."""
    return {**get_plan(registry, tenant.plan).limits, **overrides(tenant)}


def set_overrides(registry: Registry, slug: str, values: dict[str, int | None], *, actor: int | None,
                  note: str = "") -> Tenant:
    """Replace the tenant's overrides (a key left out follows the plan again), audited."""
    tenant = registry.get(slug)
    clean = {key: values[key] for key in BY_KEY if key in values}
    stamp = now_iso()
    with registry.conn:  # the change and its audit entry, or neither
        registry.conn.execute("UPDATE tenants SET settings = ?, updated_at = ? WHERE id = ?",
                              (json.dumps({**tenant.settings, "limits": clean}), stamp, tenant.id))
        registry.conn.execute(
            "INSERT INTO audit_log (at, actor_user_id, tenant_id, event, detail) VALUES (?, ?, ?, ?, ?)",
            (stamp, actor, tenant.id, "limits.changed",
             json.dumps({"before": overrides(tenant), "after": clean, "note": " ".join(note.split())[:500]},
                        sort_keys=True)))
    return registry.get(slug)


def cheapest_lifting(registry: Registry, key: str, needed: int) -> Plan | None:
    """The first plan (by position) that allows ``needed`` of ``key``."""
    for plan in all_plans(registry):
        allowed = plan.limits.get(key)
        if allowed is None or allowed >= needed:
            return plan
    return None


def check(registry: Registry, tenant: Tenant, key: str, before: int, after: int,
          limits: dict[str, int | None] | None = None) -> None:
    """Refuse (``LimitReached``) a change that adds past a limit. A change that adds nothing, or that
    stays within the limit, passes: editing and removing are always allowed, even over a limit."""
    limits = limits if limits is not None else limits_for(registry, tenant)
    limit = limits.get(key)
    if limit is None or after <= limit or after <= before:
        return
    plan, overridden = get_plan(registry, tenant.plan), key in overrides(tenant)
    # An override stays with the tenant whatever its plan: only the operator raising it lifts it.
    lifts = None if overridden else cheapest_lifting(registry, key, after)
    raise LimitReached(key, limit, before, after, plan, lifts, overridden=overridden)


# -- counting what a site holds ---------------------------------------------------------------


COUNTED = ("products", "pages_and_posts")


def counted(path: str) -> str | None:
    """The counted limit a file is one of ("products", "pages_and_posts"), as the parser reads the site
    (``folder/name.md``), or None."""
    folder, _, name = path.partition("/")
    if "/" in name or not name.endswith(".md"):
        return None
    if folder == "products":
        return "products"
    return "pages_and_posts" if folder in ("pages", "posts") else None


def counts(paths: Iterable[str]) -> dict[str, int]:
    """Products and pages/posts among a site's files, as the parser reads them (``folder/name.md``)."""
    found = {"products": 0, "pages_and_posts": 0}
    for path in paths:
        key = counted(path)
        if key is not None:
            found[key] += 1
    return found


# -- over a limit: the newest items are read-only ------------------------------------------------


def read_only_paths(registry: Registry, tenant: Tenant, repository_or_source,
                    paths: Iterable[str] | None = None) -> dict[str, str]:
    """path → limit key of every file that is read-only because the site holds more than its limit
    (after a downgrade, or a limit lowered): per limit, the oldest ``limit`` files (by the commit that
    added them, ties by path) stay editable, the newer ones can be read, published and removed, not
    changed. Empty for a site within its limits, without reading any history.

    ``repository_or_source``: a ``Repository`` (its latest version) or a ``GitSource`` (its commit).
    ``paths``: the files the site will hold, when that differs from the version's own (a push that
    also removes files: what it removes makes room first). The history is read once per version
    (``Repository.added_at``), so a large site pays for it once per commit, not once per request."""
    if hasattr(repository_or_source, "commit"):
        repo, commit = repository_or_source.repo, repository_or_source.commit
    else:
        repo, commit = repository_or_source, repository_or_source.head()
    limits = limits_for(registry, tenant)
    if commit is None or all(limits.get(key) is None for key in COUNTED):
        return {}  # unlimited: nothing to list
    present = sorted(paths) if paths is not None else repo.paths(commit)
    groups: dict[str, list[str]] = {key: [] for key in COUNTED}
    for path in present:
        key = counted(path)
        if key is not None:
            groups[key].append(path)
    over = {key: limits[key] for key in COUNTED if limits.get(key) is not None and len(groups[key]) > limits[key]}
    if not over:
        return {}
    added = repo.added_at(commit)
    newest = float("inf")  # a file the history does not show added (new in this change): the newest of all
    found: dict[str, str] = {}
    for key, limit in over.items():
        ordered = sorted(groups[key], key=lambda p: (added.get(p, newest), p))
        found.update(dict.fromkeys(ordered[limit:], key))
    return found


class ReadOnly(LimitReached):
    """The file is one of those over the site's limit: it can be read and removed, not changed. The
    message names the limit and the plan that lifts it."""

    def __init__(self, path: str, key: str, limit: int, used: int, plan: Plan, lifts: Plan | None,
                 overridden: bool = False) -> None:
        self.key, self.limit, self.current, self.after = key, limit, used, used
        self.plan, self.lifts, self.field, self.path = plan, lifts, key, path
        noun = BY_KEY[key].noun
        allows = (f"this site's limit is {amount(key, limit)} (set for it by the platform's operator)"
                  if overridden else f"your {plan.title} plan allows {amount(key, limit)}")
        message = (f"{path} is read-only: {allows} and the site has {used}, so only the {limit} oldest can be "
                   f"changed. ")
        if overridden:
            message += "Ask the platform's operator to raise the limit"
        elif lifts is not None:
            message += f"{lifts.title} allows {amount(key, lifts.limits[key])}: ask the platform's operator to move the site to it"
        else:
            message += "No plan allows more: ask the platform's operator"
        # Not LimitReached's sentence (nothing is added here); still a LimitReached, so every way in
        # that answers a limit already answers this one.
        TesseraError.__init__(self, f"{message}, or remove some {noun} first (removing this one is allowed).")


def read_only_error(registry: Registry, tenant: Tenant, path: str, key: str, used: int) -> ReadOnly:
    plan, overridden = get_plan(registry, tenant.plan), key in overrides(tenant)
    lifts = None if overridden else cheapest_lifting(registry, key, used)
    return ReadOnly(path, key, limits_for(registry, tenant)[key], used, plan, lifts, overridden)  # type: ignore[arg-type]


def check_read_only(registry: Registry, tenant: Tenant, repository_or_source, changed: Iterable[str],
                    after: Iterable[str]) -> None:
    """Refuse (``ReadOnly``) a change to a file that is read-only once the change lands (``after``: the
    files the site will hold, so removing newer ones in the same change makes room first). ``changed``:
    the files the change edits; added and removed ones are not asked about (the limit check counts
    additions, and removing is always allowed)."""
    after = list(after)
    locked = read_only_paths(registry, tenant, repository_or_source, paths=after)
    for path in sorted(changed):
        if path in locked:
            key = locked[path]
            raise read_only_error(registry, tenant, path, key, counts(after)[key])


def check_paths(registry: Registry, tenant: Tenant, before: Iterable[str], after: Iterable[str]) -> None:
    """Every counted limit, for a change from the files ``before`` to the files ``after``."""
    problems = over_limits(registry, tenant, before, after)
    if problems:
        raise problems[0]


def over_limits(registry: Registry, tenant: Tenant, before: Iterable[str], after: Iterable[str]) -> list[LimitReached]:
    limits = limits_for(registry, tenant)
    old, new = counts(before), counts(after)
    problems = []
    for key in COUNTED:
        try:
            check(registry, tenant, key, old[key], new[key], limits)
        except LimitReached as exc:
            problems.append(exc)
    return problems


def media_paths(paths: Iterable[str]) -> list[str]:
    return [p for p in paths if p.startswith("media/") and not p.endswith((".yaml", ".yml"))]


def usage(registry: Registry, tenant: Tenant, source, tenant_db: sqlite3.Connection,
          now: datetime | None = None) -> dict[str, int | None]:
    """What the tenant uses of each limit, counted where it lives: the repository's latest files, the
    registry, and ``tenant.db``. None: not counted (a rate, measured where it is enforced)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    paths = source.paths()
    used: dict[str, int | None] = {key: None for key in BY_KEY}
    used.update(counts(paths))
    used["media_bytes"] = sum(source.size(p) for p in media_paths(paths))
    used["staff_seats"] = registry.conn.execute("SELECT COUNT(*) FROM memberships WHERE tenant_id = ?",
                                                (tenant.id,)).fetchone()[0]
    used["custom_domains"] = registry.conn.execute("SELECT COUNT(*) FROM domains WHERE tenant_id = ?",
                                                   (tenant.id,)).fetchone()[0]
    used["orders_per_month"] = orders_this_month(tenant_db, now)
    used["publishes_per_day"] = publishes_today(tenant_db, now)
    return used


# -- the counted limits that are not files: seats, domains, orders, publishes ------------------------


def orders_this_month(tenant_db: sqlite3.Connection, now: datetime | None = None) -> int:
    """Orders placed since the start of the calendar month (UTC), whatever became of them since."""
    month = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-01")
    return tenant_db.execute("SELECT COUNT(*) FROM orders WHERE created_at >= ?", (month,)).fetchone()[0]


def publishes_today(tenant_db: sqlite3.Connection, now: datetime | None = None) -> int:
    """Publishes since midnight (UTC). A rollback is not counted: going back to what was live is never
    held to a limit, so a site can always undo a bad publish."""
    day = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%d")
    return tenant_db.execute("SELECT COUNT(*) FROM deploys WHERE started_at >= ? AND rollback_of IS NULL",
                             (day,)).fetchone()[0]


def check_one_more(registry: Registry, tenant: Tenant, key: str, used: int) -> None:
    """Refuse (``LimitReached``) adding one more of ``key`` to the ``used`` the site has."""
    check(registry, tenant, key, used, used + 1)


def check_publish(registry: Registry, tenant: Tenant, tenant_db: sqlite3.Connection,
                  now: datetime | None = None) -> None:
    """Refuse a publish past the day's ``publishes_per_day`` (rollbacks always pass)."""
    check_one_more(registry, tenant, "publishes_per_day", publishes_today(tenant_db, now))


def over(limits: dict[str, int | None], used: dict[str, int | None]) -> dict[str, int]:
    """By how much each limit is exceeded (after a downgrade, or an override lowered)."""
    return {key: used[key] - limit for key, limit in limits.items()  # type: ignore[operator]
            if limit is not None and used.get(key) is not None and used[key] > limit
            and key not in ("upload_bytes", "api_requests_per_minute")}


def history(registry: Registry, tenant: Tenant) -> list[dict]:
    """The tenant's plan changes, newest first, with who made them."""
    rows = registry.conn.execute(
        "SELECT plan_changes.*, users.email AS actor_email FROM plan_changes "
        "LEFT JOIN users ON users.id = plan_changes.actor_user_id WHERE tenant_id = ? ORDER BY plan_changes.id DESC",
        (tenant.id,))
    return [dict(r) for r in rows]

