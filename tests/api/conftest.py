"""A real API server over HTTP (uvicorn in a thread) with three tenants and a user per role."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from commerce_api.app import create_app
from commerce_api.services import ApiConfig, Services
from content.registry import parse_features
from content.tenants import Tenants
from tessera.settings import ROOT
from tests.conftest import serving

PASSWORD = "correct horse battery"
ROLES = ("owner", "admin", "editor", "shop_manager")
# A published form (as a build lists it), so that /api/forms/contact runs past its 404.
CONTACT_FORM = {"title": "Contact", "page": "/contact/", "success": "Thanks.",
                "fields": [{"name": n, "label": n.title(), "type": t, "required": True, "options": []}
                           for n, t in (("name", "text"), ("email", "email"), ("message", "textarea"))]}


@dataclass
class World:
    base: str
    services: Services
    tenants: Tenants
    tokens: dict = field(default_factory=dict)

    def client(self, tenant: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Host": f"{tenant}.localhost"} if tenant else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.Client(base_url=self.base, headers=headers, timeout=10, **kwargs)

    def admin_client(self, tenant: str, **kwargs) -> httpx.Client:
        """A client on the admin's origin, at one site's pages (``/sites/<slug>``)."""
        headers = {"Host": "admin.localhost", **kwargs.pop("headers", {})}
        return httpx.Client(base_url=f"{self.base}/sites/{tenant}", headers=headers, timeout=10, **kwargs)

    def login(self, tenant: str, email: str, password: str = PASSWORD) -> dict:
        with self.client(tenant) as client:
            response = client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()

    def token(self, tenant: str, role: str) -> str:
        """An access token for the tenant's member with that role (one login per module)."""
        key = (tenant, role)
        if key not in self.tokens:
            self.tokens[key] = self.login(tenant, f"{role}@{tenant}.test")["access_token"]
        return self.tokens[key]

    def clear_login_failures(self) -> None:
        with self.services.db.conn as conn:
            conn.execute("DELETE FROM login_failures")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def populate(data_dir: Path, port: int) -> tuple[Services, Tenants, ApiConfig]:
    """Three tenants (two with a shop), a user per role in each, and a one-product catalog."""
    tenants = Tenants(data_dir, ROOT / "sites")
    for slug, features in (("alpha", "cms,ecommerce,analytics"), ("beta", "cms,ecommerce"), ("gamma", "cms")):
        # Business: a member per role is four staff, past the Starter plan's three seats.
        tenants.create(slug, slug.title(), parse_features(features), starter="bakery", plan="business")
    # Many orders from one test address: the per-address and per-email order limits are tested on
    # their own (test_order_limits.py), with the defaults.
    config = ApiConfig(data_dir, "localhost", "s" * 48, production=False, port=port,
                       orders_per_address=(10000, 600), orders_per_email=(10000, 3600))
    services = Services.build(config)
    for slug in ("alpha", "beta", "gamma"):
        tenant = tenants.registry.get(slug)
        for role in ROLES:
            user = services.users.create(f"{role}@{slug}.test", PASSWORD)
            services.users.grant(user.id, tenant.id, role)
    services.users.create("root@platform.test", PASSWORD, superadmin=True)
    from publish.catalog import import_snapshot
    for slug, name in (("alpha", "Alpha Loaf"), ("beta", "Beta Bun")):
        conn = tenants.open_db(slug)
        import_snapshot(conn, {"version": slug, "products": [{"slug": f"{slug}-loaf", "name": name, "url": "/p/",
                                                                "variants": [{"sku": f"{slug.upper()}-1", "title": name,
                                                                              "price": 450, "currency": "EUR"}]}],
                                    "forms": {"contact": CONTACT_FORM}})
        conn.close()
    return services, tenants, config


@pytest.fixture(name="world", scope="module")
def fx_world(tmp_path_factory):
    port = free_port()
    services, tenants, config = populate(tmp_path_factory.mktemp("api"), port)
    with serving(create_app(config, services), port) as base:
        yield World(base, services, tenants)
