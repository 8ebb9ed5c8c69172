"""Settings, read once from the environment into a frozen value and passed down.

Local mode (the default) needs no configuration: data under ``./data``, a secret key generated
and kept in the data directory, local buckets and manual payments. Production mode
(``TESSERA_ENV=production``) refuses to start without an explicit secret key.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from content.errors import InvalidValue
from content.migrations import platform_location
from content.retention import Retention

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    base_domain: str
    host: str
    port: int
    secret_key: str
    storage: str
    s3_endpoint_url: str | None
    s3_region: str | None
    stripe_api_base: str | None
    dns_resolver: str | None
    smtp_url: str | None
    trusted_proxies: tuple[str, ...]
    metrics_token: str | None
    metrics_allow: tuple[str, ...]
    webhook_allow: tuple[str, ...]  # private networks tenants' webhook endpoints may still reach
    orders_per_address: tuple[int, int]  # new orders a site takes from one address: (how many, seconds)
    orders_per_email: tuple[int, int]  # ... and for one shopper's email address
    mail_from: str
    demo_password: str
    sites_dir: Path
    themes_dir: Path
    admin_host: str = ""
    analytics_country_header: str = ""  # the proxy's header with the visitor's country (CF-IPCountry); "" reads none
    analytics_ignore: tuple[str, ...] = ()  # the operator's own addresses, never counted as visitors
    analytics_flush: tuple[int, int] = (1000, 5)  # page views are written after this many views or seconds
    retention: Retention = Retention()  # how long finished jobs, old sessions, the outbox and the audit log are kept
    # Billing the tenants with the operator's own Stripe account: on only with both secrets set.
    billing_stripe_key: str | None = None
    billing_webhook_secret: str | None = None
    billing_grace_days: int = 7  # past due this long, a site is suspended
    billing_trial_days: int = 14  # a new tenant's first subscription starts with this trial (0: none)
    # Backups of each tenant.db: a private store, never a site's bucket (buckets are public websites).
    backup_storage: str = "file://"  # file:// (<data>/backups/<slug>/), file:///PATH or s3://NAME
    backup_keep_days: int = 14  # every backup of these last days is kept, then the newest of each week for 8 weeks
    backup_interval: int = 24  # hours between a shop's scheduled backups; 0 turns them off
    # Platform state (tenants, people, sessions, the job queue) on PostgreSQL instead of platform.db;
    # read where it is used through ``content.migrations.platform_location``, checked here.
    database_url: str | None = None
    # Several machines: this node's name, and the URL other nodes forward its tenants' requests to.
    node: str | None = None
    node_url: str = ""

    @property
    def billing(self) -> bool:
        return bool(self.billing_stripe_key and self.billing_webhook_secret)

    @property
    def production(self) -> bool:
        return self.env == "production"

    def __repr__(self) -> str:  # never print the secret
        return f"Settings(env={self.env!r}, data_dir={str(self.data_dir)!r}, port={self.port})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mode = env.get("TESSERA_ENV", "local").strip().lower()
        if mode not in ("local", "production"):
            raise SettingsError(f"TESSERA_ENV must be 'local' or 'production', not {mode!r}")
        data_dir = Path(env.get("TESSERA_DATA_DIR") or Path.cwd() / "data").resolve()
        port_text = env.get("TESSERA_PORT", "8000")
        try:
            port = int(port_text)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            raise SettingsError(f"TESSERA_PORT must be a port number, not {port_text!r}") from None
        secret = env.get("TESSERA_SECRET_KEY", "")
        if mode == "production":
            if len(secret) < 32:
                raise SettingsError("TESSERA_SECRET_KEY must be set to at least 32 random characters "
                                    "in production (e.g. `python -c 'import secrets; "
                                    "print(secrets.token_urlsafe(48))'`)")
        elif not secret:
            secret = _local_secret(data_dir)
        storage = env.get("TESSERA_STORAGE", "file://")
        if not storage.startswith(("file://", "s3://")):
            raise SettingsError(f"TESSERA_STORAGE must start with file:// or s3://, not {storage!r}")
        base_domain = env.get("TESSERA_BASE_DOMAIN", "localhost").strip().lower()
        return cls(
            env=mode,
            data_dir=data_dir,
            base_domain=base_domain,
            host=env.get("TESSERA_HOST", "127.0.0.1"),
            port=port,
            secret_key=secret,
            storage=storage,
            s3_endpoint_url=env.get("TESSERA_S3_ENDPOINT_URL") or None,
            s3_region=env.get("TESSERA_S3_REGION") or None,
            stripe_api_base=env.get("TESSERA_STRIPE_API_BASE") or None,
            dns_resolver=env.get("TESSERA_DNS_RESOLVER") or None,
            smtp_url=_smtp_url(env.get("TESSERA_SMTP_URL") or None),
            trusted_proxies=_networks(env.get("TESSERA_TRUSTED_PROXIES", "")),
            metrics_token=env.get("TESSERA_METRICS_TOKEN") or None,
            # Loopback by default in local mode only: in production a proxy on the same machine would make
            # every visitor look local, so /metrics stays closed until a token or addresses are set.
            metrics_allow=_networks(env.get("TESSERA_METRICS_ALLOW", "" if mode == "production" else "127.0.0.1,::1"),
                                    "TESSERA_METRICS_ALLOW"),
            webhook_allow=_networks(env.get("TESSERA_WEBHOOK_ALLOW", ""), "TESSERA_WEBHOOK_ALLOW"),
            orders_per_address=_rate(env.get("TESSERA_ORDERS_PER_ADDRESS", "60/600"), "TESSERA_ORDERS_PER_ADDRESS"),
            orders_per_email=_rate(env.get("TESSERA_ORDERS_PER_EMAIL", "10/3600"), "TESSERA_ORDERS_PER_EMAIL"),
            mail_from=env.get("TESSERA_MAIL_FROM", f"Tessera <no-reply@{env.get('TESSERA_BASE_DOMAIN', 'localhost')}>"),
            demo_password=env.get("TESSERA_DEMO_PASSWORD", "tessera-demo"),
            sites_dir=Path(env.get("TESSERA_SITES_DIR") or ROOT / "sites"),
            themes_dir=Path(env.get("TESSERA_THEMES_DIR") or ROOT / "themes"),
            admin_host=_admin_host(env.get("TESSERA_ADMIN_HOST", ""), base_domain),
            analytics_country_header=_header(env.get("TESSERA_ANALYTICS_COUNTRY_HEADER", ""),
                                             "TESSERA_ANALYTICS_COUNTRY_HEADER"),
            analytics_ignore=_networks(env.get("TESSERA_ANALYTICS_IGNORE", ""), "TESSERA_ANALYTICS_IGNORE"),
            analytics_flush=_rate(env.get("TESSERA_ANALYTICS_FLUSH", "1000/5"), "TESSERA_ANALYTICS_FLUSH"),
            retention=_retention(env.get("TESSERA_RETENTION", "")),
            billing_stripe_key=env.get("TESSERA_BILLING_STRIPE_KEY") or None,
            billing_webhook_secret=env.get("TESSERA_BILLING_WEBHOOK_SECRET") or None,
            billing_grace_days=_days(env.get("TESSERA_BILLING_GRACE_DAYS", "7"), "TESSERA_BILLING_GRACE_DAYS"),
            billing_trial_days=_days(env.get("TESSERA_BILLING_TRIAL_DAYS", "14"), "TESSERA_BILLING_TRIAL_DAYS"),
            backup_storage=_backup_storage(env.get("TESSERA_BACKUP_STORAGE", "file://").strip() or "file://",
                                           storage, data_dir),
            backup_keep_days=_days(env.get("TESSERA_BACKUP_KEEP_DAYS", "14"), "TESSERA_BACKUP_KEEP_DAYS"),
            backup_interval=_hours(env.get("TESSERA_BACKUP_INTERVAL", "24"), "TESSERA_BACKUP_INTERVAL"),
            database_url=_database_url(env.get("TESSERA_DATABASE_URL", "").strip()),
            node=_node(env.get("TESSERA_NODE", ""), env.get("TESSERA_DATABASE_URL", "").strip()),
            node_url=_node_url(env.get("TESSERA_NODE_URL", ""), env.get("TESSERA_HOST", "127.0.0.1"), port),
        )

    @property
    def platform_db_shown(self) -> str:
        """Where platform state lives (``content.migrations.platform_location``), fit to print: a
        PostgreSQL URL without its password, or the platform.db file."""
        where = platform_location(self.data_dir)
        return redact_url(where) if isinstance(where, str) else str(where)


def _database_url(value: str) -> str | None:
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise SettingsError("TESSERA_DATABASE_URL must be a PostgreSQL URL such as "
                            f"postgresql://tessera:PASSWORD@db.internal:5432/tessera, not {redact_url(value)!r}")
    return value


def _node(value: str, database_url: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?", value):
        raise SettingsError(f"TESSERA_NODE must be a node name of lowercase letters, digits and hyphens, not {value!r}")
    if not database_url:
        raise SettingsError("TESSERA_NODE needs TESSERA_DATABASE_URL: nodes share platform state on PostgreSQL")
    return value


def _node_url(value: str, host: str, port: int) -> str:
    value = value.strip().rstrip("/")
    if not value:
        return f"http://{host if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{port}"
    if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", value):
        raise SettingsError(f"TESSERA_NODE_URL must be this node's address for other nodes, such as "
                            f"http://10.0.0.5:8000, not {value!r}")
    return value


def redact_url(url: str) -> str:
    """A URL with its password replaced by ***, for logs and messages."""
    return re.sub(r"^([a-z0-9+.-]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _admin_host(value: str, base_domain: str) -> str:
    """The admin's host: ``admin.<base domain>`` unless set. On a registrable domain of its own
    (admin.example.com while sites are *.example-sites.com) it is not even same-site with them."""
    host = value.strip().lower().rstrip(".") or f"admin.{base_domain}"
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", host):
        raise SettingsError(f"TESSERA_ADMIN_HOST must be a host name such as admin.example.com, not {value!r}")
    suffix = "." + base_domain
    if host.endswith(suffix) and "." not in host[: -len(suffix)] and host != f"admin{suffix}":
        raise SettingsError(f"TESSERA_ADMIN_HOST {host!r} would be a tenant's subdomain; use admin{suffix} "
                            f"or a host outside {base_domain}")
    return host


def _retention(value: str) -> Retention:
    try:
        return Retention.parse(value)
    except InvalidValue as exc:
        raise SettingsError(str(exc)) from None
def _days(value: str, name: str) -> int:
    """A whole number of days, 0 to 365."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > 365:
        raise SettingsError(f"{name} must be a whole number of days from 0 to 365, not {value!r}")
    return int(value)


def _hours(value: str, name: str) -> int:
    """A whole number of hours, 0 to 8760 (a year)."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > 8760:
        raise SettingsError(f"{name} must be a whole number of hours from 0 (off) to 8760, not {value!r}")
    return int(value)


def _backup_storage(value: str, storage: str, data_dir: Path) -> str:
    """Where tenant.db backups go. Never where sites are published: a bucket is a public website
    (served by the edge or a CDN as it is), and tenant.db holds customers' names, addresses and orders."""
    name = "TESSERA_BACKUP_STORAGE"
    if value.startswith("s3://"):
        bucket = value[len("s3://"):]
        if not bucket or "/" in bucket or "{" in bucket.replace("{tenant}", ""):
            raise SettingsError(f"{name} must name one private bucket, e.g. s3://tessera-backups, not {value!r}")
        if storage.startswith("s3://") and storage[len("s3://"):].format(tenant="x") == bucket.format(tenant="x"):
            raise SettingsError(f"{name} must not be the sites' buckets ({storage}): those are public; "
                                f"name a private bucket of its own, e.g. s3://tessera-backups")
        return value
    if not value.startswith("file://"):
        raise SettingsError(f"{name} must start with file:// or s3://, not {value!r}")
    backups = Path(value[len("file://"):] or data_dir / "backups").resolve()
    if storage.startswith("file://"):
        buckets = Path(storage[len("file://"):] or data_dir / "buckets").resolve()
        if backups == buckets or buckets in backups.parents or backups in buckets.parents:
            raise SettingsError(f"{name} ({backups}) must be a folder apart from the sites' buckets ({buckets}), "
                                f"which the edge serves; e.g. file://{data_dir / 'backups'}")
    return value


def _header(value: str, name: str) -> str:
    """An HTTP header name, lower-cased as the edge reads headers; empty for none."""
    value = value.strip().lower()
    if value and not re.fullmatch(r"[a-z0-9-]+", value):
        raise SettingsError(f"{name} must be a header name such as CF-IPCountry, not {value!r}")
    return value


def _rate(value: str, name: str) -> tuple[int, int]:
    """``60/600``: at most 60 in 600 seconds."""
    count, _, seconds = value.strip().partition("/")
    if not (count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
        raise SettingsError(f"{name} must look like 60/600 (at most 60 in 600 seconds), not {value!r}")
    return int(count), int(seconds)


def _networks(value: str, name: str = "TESSERA_TRUSTED_PROXIES") -> tuple[str, ...]:
    import ipaddress

    networks = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"{name} must list addresses or networks such as 10.0.0.0/8, "
                                f"not {item!r}") from None
    return tuple(networks)


def _smtp_url(value: str | None) -> str | None:
    if value and not value.startswith(("smtp://", "smtps://")):
        raise SettingsError(f"TESSERA_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465, "
                            f"not {value.split('@')[-1]!r}")
    return value


def _local_secret(data_dir: Path) -> str:
    """A per-installation key for local mode, kept so sessions survive a restart."""
    path = data_dir / ".secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
