"""The edge's page-view counter: decides on each response whether it is a person's page view,
keeps it in memory, and writes batches into each tenant's daily rollups from one thread.

A request never writes SQLite: ``offer`` does a few header checks, a keyed hash and a list
append under a lock. The flusher thread wakes every ``flush_seconds`` or after ``flush_views``
views (and at shutdown), classifies User-Agents, drops crawlers and stores the rest. A crash loses
at most the views not yet flushed.

The visitor hash is keyed by a random salt made for the day, held only in this object's memory
and replaced when the day changes: the same person gets another hash tomorrow, and nobody,
not even with the database, can tell which address a hash came from. Addresses are never stored.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple
from urllib.parse import urlsplit

from content.migrations import connect
from content.schema import TENANT

from .agents import Agents
from .rollups import View, forget_visitors, store

log = logging.getLogger(__name__)
EPOCH = date(1970, 1, 1)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_OPEN = 32  # tenant databases kept open between flushes, the most recently written
UNKNOWN_COUNTRIES = frozenset({"XX", "T1", "ZZ"})  # proxies' "unknown" and "Tor" codes


@dataclass(frozen=True)
class AnalyticsConfig:
    country_header: str = ""  # lower-case name of the proxy's country header; "" never reads one
    ignore: tuple[str, ...] = ()  # the operator's own networks, never counted
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For is believed
    admin_host: str = ""
    flush_views: int = 1000
    flush_seconds: float = 5.0
    max_buffer: int = 200_000  # past this (the database stuck for a long while) views are dropped, not memory


class Hit(NamedTuple):
    """A view waiting in memory: no address, only its keyed hash."""

    tenant: str
    day: int  # days since 1970-01-01, UTC
    path: str
    referer: str
    host: str
    user_agent: str
    country: str | None
    visitor: bytes


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def client_address(scope: Mapping[str, Any], headers: Mapping[str, str], trusted: Networks) -> str:
    """The visitor's address: the peer, or behind a trusted proxy the nearest X-Forwarded-For hop
    that is not one (the same rule as the API's ``commerce_api.security.client_address``)."""
    peer = (scope.get("client") or ("unknown",))[0]
    if not trusted or not _within(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]):
        if not _within(hop, trusted):
            return hop if _ip(hop) else peer
    return peer


def _ip(address: str):
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _within(address: str, networks: Networks) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in networks)


def referrer_host(referer: str, own_host: str) -> str | None:
    """The referring page's host only (never its path or query); none for the site itself."""
    if not referer:
        return None
    try:
        host = urlsplit(referer).hostname
    except ValueError:
        return None
    if not host or host == own_host:
        return None
    return host[:253]


def page_path(path: str) -> str:
    """The page as people link to it: ``/about/index.html`` is ``/about/``."""
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    return path[:512]


def is_prefetch(headers: Mapping[str, str]) -> bool:
    purpose = headers.get("sec-purpose", "") + headers.get("purpose", "") + headers.get("x-moz", "")
    return "prefetch" in purpose or "prerender" in purpose


class Counter:
    """Counts page views for every tenant of one process. Thread- and event-loop safe."""

    def __init__(self, config: AnalyticsConfig, tenants_root: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.root = Path(tenants_root)
        self.clock = clock
        self._ignore = tuple(ipaddress.ip_network(net) for net in config.ignore)
        self._trusted = tuple(ipaddress.ip_network(net) for net in config.trusted_proxies)
        self._lock = threading.Lock()  # the buffer and the salt
        self._flush_lock = threading.Lock()  # one flush at a time; owns the connections and the classifier
        self._flushed = threading.Condition()
        self._wake = threading.Event()
        self._buffer: list[Hit] = []
        self._salt_day = -1
        self._salt = b""
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._agents: Agents | None = None
        self._conns: dict[str, tuple[int, sqlite3.Connection]] = {}
        self._swept = ""
        # (slug, path) → the live page it names, or None (set by whoever serves the edge): a beacon
        # counts only pages the site has.
        self.pages: Callable[[str, str], str | None] | None = None
        self.flushes = 0
        self.dropped = 0

    # -- the request side ----------------------------------------------------------------------

    def offer(self, tenant, scope: Mapping[str, Any], host: str, headers: Mapping[str, str],
              status: int, content_type: str, served: str | None = None) -> bool:
        """Keep this response as a page view if it is one a person asked for; True when kept.

        ``served`` is the file that answered (``/about/index.html``): a view counts under it, never
        under the address as typed, so ``//about/`` and ``/x/../about/`` are ``/about/`` and nobody can
        add rows by spelling a page differently. A 304 of a page (someone opening it again) counts."""
        if not tenant.has("analytics") or status not in (200, 304) or scope.get("method") != "GET" \
                or not content_type.startswith("text/html") or host == self.config.admin_host:
            return False
        served = served or scope.get("path", "/")
        if served == "/404.html":  # the not-found page, opened by its own name
            return False
        # A browser navigating asks for HTML and names its languages; scripts and most bots do neither.
        if "text/html" not in headers.get("accept", "") or is_prefetch(headers):
            return False
        return self._keep(tenant, scope, host, headers, served, headers.get("referer", ""))

    def offer_beacon(self, tenant, scope: Mapping[str, Any], host: str, headers: Mapping[str, str],
                     path: str, referrer: str) -> bool:
        """Keep a view a page reported itself (the beacon of a site behind a CDN, which the edge
        does not count): the same rules but those only a navigation can meet (``Accept: text/html``).
        ``path`` and ``referrer`` are the page's, as its script read them; True when kept."""
        if not tenant.has("analytics") or host == self.config.admin_host or is_prefetch(headers):
            return False
        # Only the site's own pages may report themselves: another site could otherwise make its
        # visitors' browsers send views (a text/plain beacon needs no CORS preflight).
        origin = headers.get("origin", "")
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none") or \
                (origin and (urlsplit(origin).hostname or "") != host):
            return False
        if self.pages is not None:  # only pages the live site has, under the name the edge would count
            path = self.pages(tenant.slug, path)
            if path is None:
                return False
        return self._keep(tenant, scope, host, headers, path, referrer)

    def _keep(self, tenant, scope: Mapping[str, Any], host: str, headers: Mapping[str, str],
              path: str, referrer: str) -> bool:
        ua = headers.get("user-agent", "")
        if not ua or not headers.get("accept-language"):
            return False
        address = client_address(scope, headers, self._trusted)
        if self._ignore and _within(address, self._ignore):
            return False
        country = None
        if self.config.country_header:
            code = headers.get(self.config.country_header, "").strip().upper()
            country = code if _COUNTRY.match(code) and code not in UNKNOWN_COUNTRIES else None
        day = int(self.clock() // 86400)
        with self._lock:
            if day != self._salt_day:  # a new day, a new salt; yesterday's is gone for good
                self._salt_day, self._salt = day, os.urandom(32)
            visitor = hashlib.blake2b(f"{tenant.slug}\0{address}\0{ua}".encode(), key=self._salt,
                                      digest_size=16).digest()
            if len(self._buffer) >= self.config.max_buffer:
                self.dropped += 1
                return False
            self._buffer.append(Hit(tenant.slug, day, page_path(path), referrer[:2048], host, ua[:512], country,
                                    visitor))
            full = len(self._buffer) >= self.config.flush_views
            started = self._thread is not None
        if not started:
            self.start()
        if full:
            self._wake.set()
        return True

    # -- the flushing side ---------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="analytics-flush", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread and flush what is left (the server is shutting down)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
        self._wake.set()
        if thread is not None:
            thread.join(timeout=30)
        self.flush()
        with self._flush_lock:
            for _, conn in self._conns.values():
                conn.close()
            self._conns.clear()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.config.flush_seconds)
            self._wake.clear()
            with self._lock:
                if self._stopping:
                    return
            try:
                self.flush()
            except Exception:  # the counter must outlive one bad batch
                log.exception("could not write page views")

    def wait_flushed(self, after: int, timeout: float = 10) -> bool:
        """Wait until more than ``after`` flushes have run (for tests and the shutdown path)."""
        with self._flushed:
            return self._flushed.wait_for(lambda: self.flushes > after, timeout)

    def flush(self) -> int:
        """Write every buffered view into its tenant's rollups; returns how many were stored."""
        with self._flush_lock:
            with self._lock:
                hits, self._buffer = self._buffer, []
                today = int(self.clock() // 86400)
            stored = 0
            if self._agents is None and hits:
                self._agents = Agents()
            by_tenant: dict[str, list[Hit]] = {}
            for hit in hits:
                by_tenant.setdefault(hit.tenant, []).append(hit)
            today_iso = (EPOCH + timedelta(days=today)).isoformat()
            for slug, tenant_hits in by_tenant.items():
                try:
                    conn = self._connection(slug)
                    if conn is not None:
                        stored += store(conn, self._views(tenant_hits), today=today_iso)
                except Exception:  # one tenant's broken database must not lose the others' views
                    log.exception("could not write page views of %s", slug)
            if self._swept != today_iso:
                self._sweep(today_iso, skip=set(by_tenant))
            with self._flushed:
                self.flushes += 1
                self._flushed.notify_all()
            return stored

    def _views(self, hits: list[Hit]):
        days: dict[int, str] = {}
        for hit in hits:
            agent = self._agents.classify(hit.user_agent)  # type: ignore[union-attr]
            if agent.bot:
                continue
            day = days.get(hit.day) or days.setdefault(hit.day, (EPOCH + timedelta(days=hit.day)).isoformat())
            yield View(day, hit.path, referrer_host(hit.referer, hit.host), agent.device, agent.browser,
                       hit.country, hit.visitor)

    def _sweep(self, today: str, skip: set[str]) -> None:
        """Once a day (and at start, after a crash): forget past days' visitor hashes everywhere,
        also at sites nobody visited today."""
        for path in sorted(self.root.glob("*/tenant.db")) if self.root.is_dir() else []:
            if path.parent.name in skip:
                continue
            try:
                conn = connect(path, TENANT)
                try:
                    with conn:
                        forget_visitors(conn, before=today)
                finally:
                    conn.close()
            except Exception:
                log.exception("could not forget past visitors of %s", path.parent.name)
        self._swept = today

    def _connection(self, slug: str) -> sqlite3.Connection | None:
        """This tenant's database, kept open between flushes; None when the tenant is gone. A
        tenant deleted and made again has a new file: compare inodes, never write to the old one."""
        path = self.root / slug / "tenant.db"
        try:
            inode = path.stat().st_ino
        except FileNotFoundError:
            inode = None
        cached = self._conns.pop(slug, None)
        if cached and cached[0] == inode:
            self._conns[slug] = cached  # most recently used last
            return cached[1]
        if cached:
            cached[1].close()
        if inode is None:
            return None
        while len(self._conns) >= MAX_OPEN:  # the least recently written site's goes first
            _, (_, oldest) = next(iter(self._conns.items()))
            oldest.close()
            del self._conns[next(iter(self._conns))]
        conn = connect(path, TENANT)
        self._conns[slug] = (inode, conn)
        return conn
