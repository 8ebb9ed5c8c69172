"""Which tenant a request is for, and a bounded pool of connections to tenants' databases.

Sources, in order: a verified custom domain in Host; ``<slug>.<base domain>`` in Host; the path
prefix ``/api/tenant/<slug>/``; the ``X-Tenant-ID`` header. Two sources that disagree are a 400,
never a guess. An unknown tenant is a 404.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from content.migrations import connect
from content.registry import Tenant, TenantCache
from content.schema import TENANT

from .errors import NotFound, TenantMismatch
from .notify.outbox import has_new
from .platform import PlatformDB

log = logging.getLogger(__name__)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "testserver"}


def host_name(host: str | None) -> str:
    host = (host or "").strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


class Resolver:
    """Requests' tenants, cached until ``platform.db`` changes (``content.registry.TenantCache``):
    every request needs its tenant, and reading the row each time was the largest single cost of a
    basket request."""

    def __init__(self, db: PlatformDB, base_domain: str, admin_host: str | None = None) -> None:
        self.db = db
        self.base_domain = base_domain.lower()
        self.admin_host = admin_host or f"admin.{self.base_domain}"
        self._cache = TenantCache(db.path)

    def is_platform_host(self, host: str) -> bool:
        return host in LOCAL_HOSTS or host in (self.base_domain, f"api.{self.base_domain}", self.admin_host)

    def resolve(self, host: str | None, path_slug: str | None, header: str | None) -> Tenant | None:
        name = host_name(host)
        claims: list[tuple[str, str]] = []
        if name and not self.is_platform_host(name):
            suffix = "." + self.base_domain
            if name.endswith(suffix) and "." not in name[: -len(suffix)]:
                claims.append(("host", name[: -len(suffix)]))
            else:
                tenant = self._cache.get(("domain", name), lambda: self.db.registry.tenant_for_domain(name))
                if tenant is None:
                    raise NotFound(f"no site is served at {name}", code="unknown_host")
                claims.append(("domain", tenant.slug))
        if path_slug:
            claims.append(("path", path_slug))
        if header:
            claims.append(("header", header.strip()))
        slugs = {slug for _, slug in claims}
        if len(slugs) > 1:
            described = ", ".join(f"{source} says {slug!r}" for source, slug in claims)
            raise TenantMismatch(f"the request names two tenants ({described})")
        if not slugs:
            return None
        slug = slugs.pop()
        tenant = self._cache.get(("slug", slug), lambda: self.db.registry.find(slug))
        if tenant is None:
            raise NotFound(f"no tenant called {slug!r}", code="unknown_tenant")
        return tenant

    def origins(self, tenant: Tenant, port: int | None) -> set[str]:
        """Browser origins allowed to call the API for this tenant: its subdomain and verified domains."""
        suffix = f":{port}" if port and port not in (80, 443) else ""
        origins = {f"https://{tenant.slug}.{self.base_domain}", f"http://{tenant.slug}.{self.base_domain}{suffix}",
                   f"https://{tenant.slug}.{self.base_domain}{suffix}"}
        for domain in self.db.registry.domains(tenant.slug):
            if domain.verified_at:
                origins |= {f"https://{domain.name}", f"http://{domain.name}{suffix}"}
        return origins


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def default_max_open() -> int:
    """Idle connections kept: enough for a thousand busy sites, within the process's file handles
    (a connection in WAL mode holds three: the database, its log and the shared memory)."""
    import resource

    handles = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if handles == resource.RLIM_INFINITY or handles <= 0:
        handles = 65536
    return max(16, min(2048, handles // 8))


# SQLite's page caches over every connection of the process: past this, SQLite gives back cached
# pages before growing, so many open tenants cost memory by what they use, not by their number.
SOFT_HEAP_BYTES = 192 * 2**20
PAGE_CACHE_KIB = 1024  # at most this much cache per tenant connection (the sites' databases are small)


class TenantDatabases:
    """Connections to tenants' own ``tenant.db``, reused across requests.

    Idle connections are kept per tenant, least recently used first out, up to ``max_open`` in
    all (by default sized from the file handles the process may open: about two thousand), so a
    thousand sites' traffic reuses its connections instead of reopening one per request, and never
    exhausts file handles. Memory is bounded by SQLite's soft heap limit and a small page cache per
    connection. A connection is lent to one request at a time; the schema is brought up to date the
    first time a tenant is opened.
    """

    def __init__(self, tenants_root: Path, max_open: int | None = None,
                 on_events: Callable[[str], None] | None = None) -> None:
        self.root = Path(tenants_root)
        self.max_open = max_open if max_open is not None else default_max_open()
        self.on_events = on_events
        self._idle: OrderedDict[tuple[str, int], sqlite3.Connection] = OrderedDict()  # oldest first
        self._keys: dict[str, list[tuple[str, int]]] = {}  # each tenant's idle keys, newest last
        self._migrated: set[str] = set()
        self._files: dict[int, tuple[int, int] | None] = {}  # each open connection's file (device, inode)
        self._lock = threading.Lock()
        self._serial = 0

    @contextmanager
    def connection(self, slug: str) -> Iterator[sqlite3.Connection]:
        conn = self._borrow(slug)
        changes = conn.total_changes
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        finally:
            try:
                # Whatever wrote an event (an order, a payment, a form) gets the notify job queued,
                # on every way in, without each route having to remember it.
                if self.on_events and conn.total_changes != changes and not conn.in_transaction and has_new(conn):
                    self.on_events(slug)
            except Exception:  # the request's change is committed; the job runner's start-up sweep
                log.exception("could not queue notifications for %s", slug)  # sends it later
            finally:
                self._give_back(slug, conn)

    def _borrow(self, slug: str) -> sqlite3.Connection:
        path = self.root / slug / "tenant.db"
        with self._lock:
            keys = self._keys.get(slug)
            idle = None
            if keys:
                key = keys.pop()
                if not keys:
                    del self._keys[slug]
                idle = self._idle.pop(key)
            migrate = slug not in self._migrated
        if idle is not None:
            # The same file, or one that replaced it (a restore, a tenant moved away and back): a
            # connection to the file it replaced would read and write a copy nobody serves any more.
            if _identity(path) == self._files.get(id(idle)):
                return idle
            self._close(idle)
        if not path.exists():
            raise NotFound(f"tenant {slug!r} has no database", code="unknown_tenant")
        conn = connect(path, TENANT if migrate else None)
        self._files[id(conn)] = _identity(path)
        conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        if not TenantDatabases._heap_limited:
            conn.execute(f"PRAGMA soft_heap_limit = {SOFT_HEAP_BYTES}")  # for the whole process
            TenantDatabases._heap_limited = True
        with self._lock:
            self._migrated.add(slug)
        return conn

    _heap_limited = False

    def _give_back(self, slug: str, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._serial += 1
            key = (slug, self._serial)
            self._idle[key] = conn
            self._keys.setdefault(slug, []).append(key)
            while len(self._idle) > self.max_open:
                (old_slug, serial), old = self._idle.popitem(last=False)
                keys = self._keys[old_slug]
                keys.remove((old_slug, serial))  # the oldest of few: at the front
                if not keys:
                    del self._keys[old_slug]
                self._close(old)

    def forget(self, slug: str) -> None:
        """Close a tenant's connections (before deleting or restoring it)."""
        with self._lock:
            for key in self._keys.pop(slug, []):
                self._close(self._idle.pop(key))
            self._migrated.discard(slug)

    def close(self) -> None:
        with self._lock:
            while self._idle:
                self._close(self._idle.popitem()[1])
            self._keys.clear()

    def _close(self, conn: sqlite3.Connection) -> None:
        self._files.pop(id(conn), None)
        conn.close()

    @property
    def open_count(self) -> int:
        return len(self._idle)
