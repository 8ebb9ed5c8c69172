"""A served platform with two published sites: bakery counts its traffic, studio does not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
import pytest

from content.registry import parse_features
from content.tenants import Tenants
from publish.analytics import Counter
from tessera.app import Platform, analytics_config, make_app
from tessera.settings import ROOT, Settings
from tessera.sites import publish_tenant
from tests.api.conftest import PASSWORD, ROLES, free_port
from tests.conftest import serving

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
# What a browser sends when a person follows a link: HTML wanted, languages named.
BROWSER = {"User-Agent": FIREFOX, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
           "Accept-Language": "en-GB,en;q=0.5"}
ANALYTICS_TABLES = ("analytics_days", "analytics_pages", "analytics_referrers", "analytics_devices",
                    "analytics_countries", "analytics_visitors")


class Clock:
    """A settable wall clock for the counter: tests move it across midnight."""

    def __init__(self, moment: str = "2026-03-02T10:00:00") -> None:
        self.now = datetime.fromisoformat(moment).replace(tzinfo=timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: str) -> None:
        self.now = datetime.fromisoformat(moment).replace(tzinfo=timezone.utc).timestamp()


@dataclass
class Site:
    base: str
    settings: Settings
    tenants: Tenants
    platform: Platform

    def visit(self, path: str = "/", *, host: str = "bakery.localhost", method: str = "GET",
              visitor: str = "203.0.113.5", **headers: str) -> httpx.Response:
        """A request from ``visitor`` (through the trusted proxy on 127.0.0.1) with a browser's headers."""
        sent = {**BROWSER, "Host": host, "X-Forwarded-For": visitor}
        for name, value in headers.items():
            name = name.replace("_", "-")
            if value is None:
                sent.pop(name, None)
            else:
                sent[name] = value
        return httpx.request(method, self.base + path, headers=sent, follow_redirects=False, timeout=10)

    def counter(self, clock: Clock, **options) -> Counter:
        """A fresh counter on the edge and the API's beacon (so each test starts from an empty buffer),
        with ``clock``."""
        config = analytics_config(self.settings, "admin.localhost")
        config = type(config)(**{**config.__dict__, "flush_views": 10**6, "flush_seconds": 3600, **options})
        counter = Counter(config, self.settings.data_dir / "tenants", clock=clock)
        self.platform.edge.counter = counter
        self.platform.services.page_views = counter  # beacons count through the same counter
        counter.pages = self.platform.edge.page_of  # as tessera.app wires it
        return counter

    def db(self, slug: str = "bakery"):
        return self.tenants.open_db(slug)

    def clear(self) -> None:
        for slug in ("bakery", "studio"):
            conn = self.db(slug)
            with conn:
                for table in ANALYTICS_TABLES:
                    conn.execute(f"DELETE FROM {table}")
            conn.close()


@pytest.fixture(name="served", scope="package")
def fx_served(tmp_path_factory):
    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path_factory.mktemp("analytics") / "data"),
                                  "TESSERA_PORT": str(port), "TESSERA_TRUSTED_PROXIES": "127.0.0.1",
                                  "TESSERA_ANALYTICS_IGNORE": "198.51.100.0/24",
                                  "TESSERA_ANALYTICS_COUNTRY_HEADER": "CF-IPCountry"})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    # Business: a member per role is four staff, past the Starter plan's three seats.
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce,analytics"), starter="bakery", plan="business")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio", plan="business")
    publish_tenant(settings, tenants, "bakery", actor="test")
    publish_tenant(settings, tenants, "studio", actor="test")
    platform = make_app(settings)
    users = platform.services.users
    for slug in ("bakery", "studio"):
        tenant = tenants.registry.get(slug)
        for role in ROLES:
            users.grant(users.create(f"{role}@{slug}.test", PASSWORD).id, tenant.id, role)
    with serving(platform, port) as base:
        yield Site(base, settings, tenants, platform)
    tenants.close()


@pytest.fixture(name="site")
def fx_site(served):
    """The served platform with empty rollups, and the features as the fixture made them."""
    served.clear()
    yield served
    served.tenants.registry.update("bakery", features=parse_features("cms,ecommerce,analytics"))
    served.tenants.registry.update("studio", features=parse_features("cms"))
    counter = served.platform.edge.counter
    if counter is not None:
        counter.close()


@pytest.fixture(name="clock")
def fx_clock() -> Clock:
    return Clock()
