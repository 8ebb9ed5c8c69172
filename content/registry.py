"""The tenant registry in ``platform.db``: tenants, their features and their domains.

Only registry rows live here; a tenant's files and ``tenant.db`` are handled by ``content.tenants``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .errors import InvalidSlug, InvalidValue, TenantExists, TenantNotFound
from .migrations import connect, immediate, postgres_url
from .schema import PLATFORM

FEATURES = ("cms", "ecommerce", "analytics")
STATUSES = ("active", "trial", "suspended")
# The plans every installation starts with; plans are rows of the ``plans`` table (``content.plans``),
# which the operator edits. A tenant's plan must name one of those rows.
PLANS = ("starter", "business", "agency")
RESERVED_SLUGS = frozenset({
    "www", "api", "admin", "app", "assets", "static", "cdn", "mail", "smtp", "imap", "ftp",
    "git", "login", "auth", "account", "accounts", "billing", "dashboard", "status", "help",
    "support", "docs", "blog", "shop", "store", "tessera", "platform", "root", "system",
    "localhost", "metrics", "healthz", "tenant", "tenants", "new", "test", "staging", "preview",
})
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def this_node() -> str | None:
    """The node this process runs on (``TESSERA_NODE``), None when the installation is one node.
    Read at every call, as ``content.migrations.platform_location`` reads the database's URL."""
    return os.environ.get("TESSERA_NODE", "").strip() or None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def validate_slug(slug: str) -> str:
    if not isinstance(slug, str) or not _SLUG.match(slug) or "--" in slug:
        raise InvalidSlug(
            f"{slug!r} is not a valid tenant slug: use 2-40 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit")
    if len(slug) < 2:
        raise InvalidSlug(f"{slug!r} is too short: a slug needs at least 2 characters")
    if slug in RESERVED_SLUGS:
        raise InvalidSlug(f"{slug!r} is reserved by the platform; pick another slug")
    return slug


NAME_MAX = 100
# Bidirectional overrides and isolates reorder the text around them: a name could show as something it is not.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_name(name: object) -> str:
    """A tenant's display name, stripped: 1-100 characters, no control characters.

    The name lands in page titles, the admin, commit messages and the terminal; a NUL, a newline or a
    bidi override there breaks or disguises what people see.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue("name", "a tenant needs a name")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise InvalidValue("name", f"a tenant's name has at most {NAME_MAX} characters, not {len(name)}")
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI_CONTROLS:
            raise InvalidValue("name", f"the name contains the control character U+{ord(char):04X}; "
                                       "use letters, digits, spaces and punctuation")
    return name


REASON_MAX = 500
SUSPENDED_BY = ("operator", "billing")


def validate_reason(reason: object) -> str:
    """A suspension's reason, stripped: 1-500 characters on one line. It is shown to the tenant's staff
    on every admin page and in the API's refusals, so it must read as one sentence there."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidValue("reason", "say why the site is suspended (its people see the reason)")
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise InvalidValue("reason", f"a reason has at most {REASON_MAX} characters, not {len(reason)}")
    for char in reason:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI_CONTROLS:
            raise InvalidValue("reason", f"write the reason on one line, without control characters "
                                         f"(found U+{ord(char):04X})")
    return reason


def parse_features(value: str | list[str] | tuple[str, ...]) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    features = {f.strip().lower() for f in items if f.strip()}
    unknown = sorted(features - set(FEATURES))
    if unknown:
        raise InvalidValue("features", f"unknown feature {', '.join(map(repr, unknown))}; "
                                       f"choose from {', '.join(FEATURES)}")
    return frozenset(features)


def _choice(field_name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidValue(field_name, f"{value!r} is not one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class Domain:
    name: str
    tenant_id: int
    is_primary: bool
    verification_token: str
    verified_at: str | None


@dataclass(frozen=True)
class Tenant:
    id: int
    slug: str
    name: str
    status: str
    plan: str
    features: frozenset[str]
    settings: dict = field(hash=False, compare=False)
    created_at: str = ""
    updated_at: str = ""
    # The features the tenant's plan includes (None: not read, e.g. a row from an archive).
    plan_features: frozenset[str] | None = field(default=None, compare=False)
    node: str | None = None  # the node holding its files (None: the installation is one node)
    moving_to: str | None = None  # a move to this node is under way: writes are paused

    def has(self, feature: str) -> bool:
        """Whether the feature is on. For ``FEATURES`` (cms, ecommerce, analytics): the operator turned it
        on for this tenant AND its plan includes it. For the features only plans carry (custom domains,
        git, webhooks, forms): its plan includes it. A plan without a feature hides it; the tenant's own
        list and the feature's data stay as they were."""
        in_plan = self.plan_features is None or feature in self.plan_features
        return in_plan and (feature in self.features or feature not in FEATURES)

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"

    @property
    def suspension(self) -> dict | None:
        """Why the site is suspended: ``{"reason", "at", "by", "actor"}``, or None when it is not (a
        site suspended before reasons were recorded gets a record that says so)."""
        if not self.suspended:
            return None
        record = (self.settings or {}).get("suspension")
        if not isinstance(record, dict):
            return {"reason": "Suspended by the platform's operator", "at": self.updated_at, "by": "operator",
                    "actor": None}
        return record

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Tenant:
        plan_features = row["plan_features"] if "plan_features" in row.keys() else None
        return cls(row["id"], row["slug"], row["name"], row["status"], row["plan"],
                   frozenset(json.loads(row["features"])), json.loads(row["settings"]),
                   row["created_at"], row["updated_at"],
                   frozenset(json.loads(plan_features)) if plan_features is not None else None,
                   row["node"] if "node" in row.keys() else None,
                   row["moving_to"] if "moving_to" in row.keys() else None)


# Every read of a tenant carries its plan's features, so that ``Tenant.has`` answers for both.
_TENANTS = ("SELECT tenants.*, plans.features AS plan_features FROM tenants "
            "LEFT JOIN plans ON plans.name = tenants.plan")


class Registry:
    def __init__(self, path: Path | str) -> None:
        self.path: Path | str = path if postgres_url(path) else Path(path)
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.path, PLATFORM)

    def close(self) -> None:
        self.conn.close()

    # -- tenants ----------------------------------------------------------------------------

    def add(self, slug: str, name: str, features: frozenset[str], *, plan: str = "starter",
            status: str = "active", settings: dict | None = None, node: str | None = None) -> Tenant:
        validate_slug(slug)
        self._plan_name(plan)
        _choice("status", status, STATUSES)
        name = validate_name(name)
        stamp = now_iso()
        try:
            with self.conn:
                # Never a deleted tenant's id: the audit log keeps that tenant's entries under it, and a
                # site's Activity page lists the entries with its id. One statement, so two adds at once
                # cannot pick the same id.
                self.conn.execute(
                    "INSERT INTO tenants (id, slug, name, status, plan, features, settings, created_at, updated_at,"
                    " node) SELECT 1 + max(used), ?, ?, ?, ?, ?, ?, ?, ?, ? FROM (SELECT max(id) AS used FROM tenants"
                    " UNION ALL SELECT max(tenant_id) FROM audit_log UNION ALL SELECT 0) AS ids",
                    (slug, name, status, plan, json.dumps(sorted(features)),
                     json.dumps(settings or {}), stamp, stamp, node if node is not None else this_node()))
        except sqlite3.IntegrityError:
            raise TenantExists(f"a tenant with the slug {slug!r} already exists") from None
        return self.get(slug)

    def find(self, slug: str) -> Tenant | None:
        row = self.conn.execute(f"{_TENANTS} WHERE tenants.slug = ?", (slug,)).fetchone()
        return Tenant.from_row(row) if row else None

    def get(self, slug: str) -> Tenant:
        tenant = self.find(slug)
        if tenant is None:
            raise TenantNotFound(f"no tenant called {slug!r}; `tessera tenant list` shows them all")
        return tenant

    def all(self) -> list[Tenant]:
        return [Tenant.from_row(r) for r in self.conn.execute(f"{_TENANTS} ORDER BY tenants.slug")]

    def update(self, slug: str, *, name: str | None = None, features: frozenset[str] | None = None,
               plan: str | None = None, status: str | None = None,
               settings: dict | None = None, actor: int | None = None, note: str = "",
               via: str = "admin") -> Tenant:
        """Change a tenant's row. A change of plan also writes its history row and its audit entry, in
        the same transaction: there is no way to move a tenant between plans that leaves no trace."""
        tenant = self.get(slug)
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = validate_name(name)
        if features is not None:
            changes["features"] = json.dumps(sorted(features))
        if plan is not None and plan != tenant.plan:
            changes["plan"] = self._plan_name(plan)
        if status is not None:
            changes["status"] = _choice("status", status, STATUSES)
        if settings is not None:
            changes["settings"] = json.dumps({**tenant.settings, **settings})
        if changes:
            changes["updated_at"] = now_iso()
            assignments = ", ".join(f"{column} = ?" for column in changes)
            with self.conn:
                self.conn.execute(f"UPDATE tenants SET {assignments} WHERE id = ?",
                                  (*changes.values(), tenant.id))
                if "plan" in changes:
                    self._record_plan_change(tenant, str(changes["plan"]), changes["updated_at"], actor, note, via)
        return self.get(slug)

    def suspend(self, slug: str, reason: str, *, by: str = "operator", actor: int | None = None) -> Tenant:
        """Suspend a site with a reason its people see: the status and the record in one write. A new
        suspension replaces an earlier one's record (the latest reason and who gave it count)."""
        reason = validate_reason(reason)
        _choice("by", by, SUSPENDED_BY)
        tenant = self.get(slug)
        stamp = now_iso()
        record = {"reason": reason, "at": stamp, "by": by, "actor": actor}
        with self.conn:
            self.conn.execute("UPDATE tenants SET status = 'suspended', settings = ?, updated_at = ? WHERE id = ?",
                              (json.dumps({**tenant.settings, "suspension": record}), stamp, tenant.id))
        return self.get(slug)

    def resume(self, slug: str) -> Tenant:
        """Lift a suspension, whoever made it: the site is active again and the record is gone."""
        tenant = self.get(slug)
        settings = {k: v for k, v in tenant.settings.items() if k != "suspension"}
        with self.conn:
            self.conn.execute("UPDATE tenants SET status = 'active', settings = ?, updated_at = ? WHERE id = ?",
                              (json.dumps(settings), now_iso(), tenant.id))
        return self.get(slug)

    def _plan_name(self, plan: str) -> str:
        names = [r[0] for r in self.conn.execute("SELECT name FROM plans ORDER BY position, name")]
        if plan not in names:
            raise InvalidValue("plan", f"{plan!r} is not one of {', '.join(names)}")
        return plan

    def _record_plan_change(self, tenant: Tenant, plan: str, at: object, actor: int | None, note: str,
                            via: str) -> None:
        note = " ".join(str(note or "").split())[:500]
        self.conn.execute("INSERT INTO plan_changes (tenant_id, at, from_plan, to_plan, actor_user_id, note) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (tenant.id, at, tenant.plan, plan, actor, note))
        detail = {"from": tenant.plan, "to": plan, "note": note, "via": via}
        self.conn.execute("INSERT INTO audit_log (at, actor_user_id, tenant_id, event, detail) VALUES (?, ?, ?, ?, ?)",
                          (at, actor, tenant.id, "plan.changed", json.dumps(detail, sort_keys=True)))

    def remove(self, slug: str) -> None:
        """Remove the tenant's row (its domains, members and sessions go with it) and its jobs still
        waiting: a queued publish of a tenant that is gone would only fail, and a new tenant given the
        same slug must not inherit it."""
        tenant = self.get(slug)
        with self.conn:
            self.conn.execute("DELETE FROM tenants WHERE id = ?", (tenant.id,))
            self.conn.execute("DELETE FROM jobs WHERE tenant = ? AND status = 'queued'", (slug,))

    # -- domains ----------------------------------------------------------------------------

    def add_domain(self, slug: str, name: str, *, primary: bool = False,
                   within: Callable[[Tenant, int], None] | None = None) -> Domain:
        """``within(tenant, domains it has)`` may refuse the addition (the plan's limit): it is called
        in the write transaction, so two additions at once cannot both take the last one."""
        tenant = self.get(slug)
        name = name.strip().lower().rstrip(".")
        if not _DOMAIN.match(name):
            raise InvalidValue("domain", f"{name!r} is not a domain name such as shop.example.com")
        try:
            with immediate(self.conn):
                if within is not None:
                    within(tenant, self.conn.execute("SELECT COUNT(*) FROM domains WHERE tenant_id = ?",
                                                     (tenant.id,)).fetchone()[0])
                if primary:
                    self.conn.execute("UPDATE domains SET is_primary = 0 WHERE tenant_id = ?", (tenant.id,))
                self.conn.execute(
                    "INSERT INTO domains (tenant_id, name, is_primary, verification_token, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (tenant.id, name, int(primary), secrets.token_urlsafe(24), now_iso()))
        except sqlite3.IntegrityError:
            raise TenantExists(f"the domain {name!r} is already registered") from None
        return self.domain(name)

    def tenant_for_domain(self, name: str) -> Tenant | None:
        """The tenant serving a verified custom domain, if any."""
        row = self.conn.execute(
            f"{_TENANTS} JOIN domains ON tenants.id = domains.tenant_id "
            "WHERE domains.name = ? AND domains.verified_at IS NOT NULL", (name.lower(),)).fetchone()
        return Tenant.from_row(row) if row else None

    def by_id(self, tenant_id: int) -> Tenant | None:
        row = self.conn.execute(f"{_TENANTS} WHERE tenants.id = ?", (tenant_id,)).fetchone()
        return Tenant.from_row(row) if row else None

    def verify_domain(self, name: str) -> Domain:
        with self.conn:
            self.conn.execute("UPDATE domains SET verified_at = ? WHERE name = ?", (now_iso(), name.lower()))
        return self.domain(name)

    def domain(self, name: str) -> Domain:
        row = self.conn.execute("SELECT * FROM domains WHERE name = ?", (name.lower(),)).fetchone()
        if row is None:
            raise TenantNotFound(f"no domain called {name!r}")
        return Domain(row["name"], row["tenant_id"], bool(row["is_primary"]),
                      row["verification_token"], row["verified_at"])

    def set_primary(self, slug: str, name: str) -> Domain:
        """Make a verified domain the one the site's links and canonical URLs use."""
        tenant, domain = self.get(slug), self.domain(name)
        if domain.tenant_id != tenant.id:
            raise TenantNotFound(f"no domain called {name!r}")
        if not domain.verified_at:
            raise InvalidValue("domain", f"verify {name} before making it the primary domain")
        with self.conn:
            self.conn.execute("UPDATE domains SET is_primary = (name = ?) WHERE tenant_id = ?", (domain.name, tenant.id))
        return self.domain(name)

    def remove_domain(self, slug: str, name: str) -> None:
        tenant, domain = self.get(slug), self.domain(name)
        if domain.tenant_id != tenant.id:
            raise TenantNotFound(f"no domain called {name!r}")
        with self.conn:
            self.conn.execute("DELETE FROM domains WHERE name = ?", (domain.name,))

    def domains(self, slug: str) -> list[Domain]:
        tenant = self.get(slug)
        rows = self.conn.execute("SELECT * FROM domains WHERE tenant_id = ? ORDER BY is_primary DESC, name",
                                 (tenant.id,))
        return [Domain(r["name"], r["tenant_id"], bool(r["is_primary"]), r["verification_token"],
                       r["verified_at"]) for r in rows]

    # -- nodes --------------------------------------------------------------------------------

    def register_node(self, name: str, url: str) -> None:
        """This node serves at ``url`` (other nodes forward its tenants' requests there)."""
        validate_node(name)
        with self.conn:
            self.conn.execute("INSERT INTO nodes (name, url, seen_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                              "DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at", (name, url, now_iso()))

    def nodes(self) -> dict[str, str]:
        """Each node's name and URL."""
        return {row["name"]: row["url"] for row in self.conn.execute("SELECT name, url FROM nodes ORDER BY name")}

    def place(self, slug: str, node: str | None) -> Tenant:
        """Record that ``node`` now holds the tenant's files (and end a move to it)."""
        tenant = self.get(slug)
        if node is not None and node not in self.nodes():
            raise InvalidValue("node", f"no node called {node!r}; nodes register when `tessera serve` starts "
                                       "with TESSERA_NODE set")
        with self.conn:
            self.conn.execute("UPDATE tenants SET node = ?, moving_to = NULL, move_id = NULL, updated_at = ? WHERE id = ?",
                              (node, now_iso(), tenant.id))
        return self.get(slug)

    def set_moving(self, slug: str, node: str | None) -> str | None:
        """Pause the tenant's writes for a move to ``node``; returns the move's id, which its transfer
        is signed with. ``None``: the move ended or was abandoned, writes resume."""
        tenant = self.get(slug)
        move_id = secrets.token_hex(16) if node is not None else None
        with immediate(self.conn):
            if node is not None:
                row = self.conn.execute("SELECT moving_to FROM tenants WHERE id = ?", (tenant.id,)).fetchone()
                if row["moving_to"]:
                    raise InvalidValue("node", f"{slug} is already being moved to {row['moving_to']}; if that "
                                               f"move died, `tessera tenant move {slug} --abort` ends it")
            self.conn.execute("UPDATE tenants SET moving_to = ?, move_id = ? WHERE id = ?", (node, move_id, tenant.id))
        return move_id

    def move_of(self, slug: str) -> tuple[str | None, str | None]:
        """The node a move is taking the tenant to, and that move's id (both None: no move)."""
        row = self.conn.execute("SELECT moving_to, move_id FROM tenants WHERE slug = ?", (slug,)).fetchone()
        return (row["moving_to"], row["move_id"]) if row else (None, None)


_NODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


def validate_node(name: str) -> str:
    if not isinstance(name, str) or not _NODE.match(name):
        raise InvalidValue("node", f"{name!r} is not a node name: use 1-40 lowercase letters, digits and hyphens")
    return name


CACHED_TENANTS = 4096  # per thread; past it the cache starts again (a miss is one query)


class TenantCache:
    """Tenants looked up by the request path (by slug, by domain), cached per thread until
    ``platform.db`` changes.

    A cache is only valid while nothing wrote ``platform.db``: a connection of the cache's own that
    never writes asks SQLite's ``PRAGMA data_version``, which moves whenever another connection (in
    this process or any other) commits, so a suspension, a plan change or a new domain is seen by
    the very next request. On PostgreSQL, triggers NOTIFY each change and a thread listens
    (``content.postgres``): this process's own changes are seen by its next request, other processes'
    within milliseconds, and while the listener is not connected nothing is cached."""

    def __init__(self, path: Path | str) -> None:
        self.path: Path | str = path if postgres_url(path) else Path(path)
        self._local = threading.local()

    def get(self, key: tuple[str, str], read: Callable[[], Tenant | None]) -> Tenant | None:
        local = self._local
        if not hasattr(local, "cache"):
            local.cache, local.version = {}, None
        if isinstance(self.path, Path):
            watch = getattr(local, "watch", None)
            if watch is None:
                watch = local.watch = sqlite3.connect(self.path)
            version = watch.execute("PRAGMA data_version").fetchone()[0]
        else:
            from .postgres import changes_version

            version = changes_version(self.path)
            if version is None:  # not hearing of changes yet (or any more): nothing is cached
                return read()
        cache = local.cache
        if version != local.version or len(cache) > CACHED_TENANTS:
            cache.clear()
            local.version = version
        if key not in cache:
            cache[key] = read()  # read after the version: a commit in between is seen next time
        return cache[key]
