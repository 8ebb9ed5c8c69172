"""Everything a request handler may need, built once per app and reached through ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from content.migrations import platform_location
from publish.analytics import Counter
from publish.jobs import Queue
from publish.storage import Storage

from .audit import Audit
from .auth.credentials import Credentials
from .auth.invitations import Invitations
from .auth.ratelimit import LoginLimiter
from .auth.users import Users
from .platform import PlatformDB
from .quota import RequestQuota
from .tenancy import Resolver, TenantDatabases


@dataclass(frozen=True)
class ApiConfig:
    data_dir: Path
    base_domain: str
    secret_key: str
    production: bool
    port: int | None = None
    max_body: int = 1024 * 1024
    stripe_api_base: str | None = None
    dns_resolver: str | None = None
    smtp_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    mail_from: str = "Tessera <no-reply@localhost>"
    themes_dir: Path | None = None
    sites_dir: Path | None = None
    # /metrics: a bearer token, and/or networks allowed without one (loopback unless configured otherwise)
    metrics_token: str | None = None
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    admin_hostname: str | None = None  # TESSERA_ADMIN_HOST; default admin.<base domain>
    webhook_allow: tuple[str, ...] = ()  # TESSERA_WEBHOOK_ALLOW: private networks webhook endpoints may reach
    # New orders a site takes (each mails its shopper) per address (an IPv6 /64) and per shopper's
    # email: (how many, in how many seconds). Retries with the same Idempotency-Key count too.
    orders_per_address: tuple[int, int] = (60, 600)
    orders_per_email: tuple[int, int] = (10, 3600)
    # The operator's Stripe account, billing tenants for their plans (commerce_api.billing): on only
    # when both secrets are set. Never printed (see __repr__).
    billing_stripe_key: str | None = None
    billing_webhook_secret: str | None = None
    billing_grace_days: int = 7
    billing_trial_days: int = 14

    @property
    def billing(self) -> bool:
        return bool(self.billing_stripe_key and self.billing_webhook_secret)

    @property
    def admin_host(self) -> str:
        """The admin's own host: it serves no tenant content, so its cookies meet no tenant's script."""
        return self.admin_hostname or f"admin.{self.base_domain}"

    @property
    def admin_origin(self) -> str:
        return self.origin(self.admin_host)

    def origin(self, host: str) -> str:
        """``host`` as browsers reach it: https in production (behind the TLS proxy), else the port."""
        scheme = "https" if self.production else "http"
        port = "" if self.production or not self.port or self.port in (80, 443) else f":{self.port}"
        return f"{scheme}://{host}{port}"

    def __repr__(self) -> str:  # never print the secret
        return f"ApiConfig(data_dir={str(self.data_dir)!r}, base_domain={self.base_domain!r})"


def public_origin(config: ApiConfig, registry, slug: str) -> str:
    """Where a tenant's site is: its verified primary domain, else its subdomain."""
    for domain in registry.domains(slug):
        if domain.is_primary and domain.verified_at:
            return f"https://{domain.name}"
    return config.origin(f"{slug}.{config.base_domain}")


@dataclass
class Services:
    config: ApiConfig
    db: PlatformDB
    users: Users
    credentials: Credentials
    limiter: LoginLimiter
    audit: Audit
    resolver: Resolver
    databases: TenantDatabases
    queue: Queue
    invitations: Invitations
    # The edge's page-view counter (publish.analytics.Counter), set by whoever serves the edge
    # beside the API (tessera.app.Platform); None for the API alone. Beacons count through it.
    page_views: Counter | None = None
    # The plan's api_requests_per_minute, counted per site by the access guard (``quota.py``).
    quota: RequestQuota = field(default=None, repr=False)  # type: ignore[assignment]
    # A tenant's bucket by slug (publish.storage), set by the composition root that knows the storage
    # settings; deleting a tenant from the admin removes its bucket through it. None for the API alone.
    storages: Callable[[str], Storage] | None = None
    _parse_caches: dict = field(default_factory=dict, repr=False)
    _parse_locks: dict = field(default_factory=dict, repr=False)
    _git_histories: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, config: ApiConfig) -> Services:
        db = PlatformDB(platform_location(config.data_dir))
        queue = Queue(platform_location(config.data_dir))
        databases = TenantDatabases(config.data_dir / "tenants",
                                    on_events=lambda slug: queue.enqueue(slug, "notify", actor="system"))
        return cls(config, db, Users(db), Credentials(db, config.secret_key), LoginLimiter(db), Audit(db),
                   Resolver(db, config.base_domain, config.admin_host), databases, queue, Invitations(db))

    def __post_init__(self) -> None:
        if self.quota is None:
            self.quota = RequestQuota(lambda: self.db.registry)

    def notifier(self):
        """What renders and sends the outbox (the admin's previews use it too)."""
        from .notify.deliver import Notifier

        return Notifier.from_config(self.config, self.db)

    def parse_lock(self, slug: str):
        """One parse per tenant at a time: a request arriving during a warm-up waits for it and then
        finds everything cached, instead of parsing the same files a second time."""
        import threading

        return self._parse_locks.setdefault(slug, threading.Lock())

    def parse_cache(self, slug: str) -> dict:
        """A per-tenant cache of parsed files for the admin (keyed by blob and timestamps, so it is never
        stale): a site of thousands of pages parses again in tens of milliseconds, not seconds. It
        starts from what the site's last build saved, so the first save after a restart does not
        parse the whole site either."""
        caches = self._parse_caches
        cache = caches.pop(slug, None)
        cache = self._built_parse_cache(slug) if cache is None else cache
        caches[slug] = cache  # most recently used last
        while len(caches) > 32:
            caches.pop(next(iter(caches)))
        return cache

    def _built_parse_cache(self, slug: str) -> dict:
        """The parse cache the site's builds keep on disk (entries whose bodies are read when asked),
        or an empty one. The same keys as the admin's: the same files parse to the same entries."""
        from builder import parsecache
        from builder.build import VERSION

        try:
            return parsecache.load(self.config.data_dir / "tenants" / slug / "cache" / "build", VERSION)
        except Exception:  # noqa: BLE001 (a cache that cannot be read is a cold parse, never an error)
            return {}

    def git_history(self, slug: str) -> dict:
        """A per-tenant record of what was read of the repository's history (who wrote each file,
        when), by commit: a save on top of the last one reads one commit's log, not the whole
        history's. Used under ``parse_lock``, like the parse cache."""
        histories = self._git_histories
        history = histories.pop(slug, None)
        histories[slug] = {} if history is None else history
        while len(histories) > 32:
            histories.pop(next(iter(histories)))
        return histories[slug]

    def close(self) -> None:
        self.databases.close()
