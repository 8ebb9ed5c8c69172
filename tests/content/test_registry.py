from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest

from content.errors import ContentErrors, InvalidSlug, InvalidValue, TenantExists, TenantNotFound
from content.migrations import Migrations, connect, platform_location
from content.registry import Registry, TenantCache, parse_features, validate_slug
from content.schema import PLATFORM, TENANT
from tessera.settings import ROOT
from tests.conftest import write_site

# Platform state on both engines: SQLite's platform.db and PostgreSQL.
pytestmark = pytest.mark.usefixtures("platform_engine")


@pytest.mark.parametrize("slug", ["acme", "a1", "rye-and-crumb", "x" * 40, "2024-shop"])
def test_valid_slugs(slug):
    assert validate_slug(slug) == slug


@pytest.mark.parametrize("slug", ["www", "api", "admin", "A", "Acme", "a", "-acme", "acme-", "ac--me", "ac_me",
                                  "acmé", "x" * 41, "", "a.b"])
def test_invalid_slugs(slug):
    with pytest.raises(InvalidSlug):
        validate_slug(slug)


def test_features_are_checked():
    assert parse_features("cms, ecommerce") == {"cms", "ecommerce"}
    with pytest.raises(InvalidValue, match="unknown feature 'shop'"):
        parse_features("cms,shop")


def test_registry_round_trip(tmp_path):
    registry = Registry(platform_location(tmp_path))
    created = registry.add("acme", "Acme", frozenset({"cms"}))
    assert created.has("cms") and not created.has("ecommerce")
    updated = registry.update("acme", features=frozenset({"cms", "ecommerce"}), status="suspended")
    assert updated.suspended and updated.has("ecommerce")
    with pytest.raises(TenantExists):
        registry.add("acme", "Other", frozenset())
    with pytest.raises(InvalidValue):
        registry.update("acme", status="deleted")
    registry.add_domain("acme", "Shop.Example.com", primary=True)
    registry.add_domain("acme", "www.example.com", primary=True)
    assert [(d.name, d.is_primary) for d in registry.domains("acme")] == [
        ("www.example.com", True), ("shop.example.com", False)]
    with pytest.raises(TenantExists):
        registry.add_domain("acme", "shop.example.com")
    registry.remove("acme")
    with pytest.raises(TenantNotFound):
        registry.get("acme")
    assert registry.conn.execute("SELECT count(*) FROM domains").fetchone()[0] == 0


def test_migrations_are_recorded_and_an_old_file_upgrades(tmp_path):
    steps = Migrations("test")
    steps.add("0001", "CREATE TABLE a (x INTEGER)")
    conn = connect(tmp_path / "t.db", steps)
    conn.close()
    steps.add("0002", lambda c: c.execute("ALTER TABLE a ADD COLUMN y TEXT"))
    conn = connect(tmp_path / "t.db", steps)
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")] == ["0001", "0002"]
    assert [r[1] for r in conn.execute("PRAGMA table_info(a)")] == ["x", "y"]
    assert steps.pending(conn) == []


def test_a_failing_migration_leaves_the_previous_version(tmp_path):
    steps = Migrations("test")
    steps.add("0001", "CREATE TABLE a (x INTEGER)")
    steps.add("0002", "CREATE TABLE b (y INTEGER);\nCREATE TABLE a (x INTEGER)")
    with pytest.raises(sqlite3.OperationalError):
        connect(tmp_path / "t.db", steps)
    conn = sqlite3.connect(tmp_path / "t.db")
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations")] == ["0001"]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchone() is None


def test_schemas_apply_cleanly(tmp_path):
    for steps in (PLATFORM, TENANT):
        conn = connect(tmp_path / f"{steps.name}", steps)
        assert steps.pending(conn) == []


def test_create_makes_repository_db_and_row(tenants):
    tenant = tenants.create("rye", "Rye", frozenset({"cms", "ecommerce"}), starter="bakery")
    repo = tenants.repository("rye")
    assert repo.read("site.yaml").startswith(b"name: Rye & Crumb")
    assert tenant.has("ecommerce")
    conn = tenants.open_db("rye")
    assert conn.execute("SELECT value FROM meta WHERE key = 'slug'").fetchone()[0] == "rye"
    tenants.check("rye")


def test_failed_create_leaves_nothing(tenants, tmp_path, monkeypatch):
    broken = write_site(tmp_path / "sites" / "broken", {"site.yaml": "name: [oops\n"})
    tenants.sites_dir = broken.parent
    with pytest.raises(ContentErrors):
        tenants.create("acme", "Acme", frozenset({"cms"}), starter="broken")
    with pytest.raises(InvalidValue, match="no starter site called 'nope'"):
        tenants.create("acme", "Acme", frozenset({"cms"}), starter="nope")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tenants.registry, "add", fail)
    tenants.sites_dir = tmp_path.parent  # any folder; starter=None needs none
    with pytest.raises(RuntimeError):
        tenants.create("acme", "Acme", frozenset({"cms"}), starter=None)
    assert list(tenants.root.iterdir()) == []
    assert tenants.registry.find("acme") is None


def test_create_twice_is_refused_and_keeps_the_first(tenants):
    tenants.create("acme", "Acme", frozenset({"cms"}), starter="studio")
    head = tenants.repository("acme").head()
    with pytest.raises(TenantExists):
        tenants.create("acme", "Acme again", frozenset({"cms"}), starter="bakery")
    assert tenants.repository("acme").head() == head


BAD_NAMES = [
    ("", "a tenant needs a name"),
    ("   ", "a tenant needs a name"),
    ("Rye\x00Crumb", "control character U+0000"),
    ("Rye\nCrumb", "control character U+000A"),
    ("Rye\tCrumb", "control character U+0009"),
    ("Rye\x7f", "control character U+007F"),
    ("Rye\u2028Crumb", "control character U+2028"),
    ("evil\u202egnp.exe", "control character U+202E"),
    ("x" * 101, "at most 100 characters"),
    ("x" * 100_000, "at most 100 characters"),
]


@pytest.mark.parametrize("name,message", BAD_NAMES, ids=lambda v: repr(v)[:20])
def test_tenant_names_are_checked_wherever_they_are_set(tmp_path, name, message):
    registry = Registry(platform_location(tmp_path))
    with pytest.raises(InvalidValue, match=f"^name: .*{re.escape(message)}") as raised:
        registry.add("acme", name, frozenset())
    assert raised.value.field == "name"
    registry.add("acme", "Acme", frozenset())
    with pytest.raises(InvalidValue, match=f"^name: .*{re.escape(message)}"):
        registry.update("acme", name=name)
    assert registry.get("acme").name == "Acme"


@pytest.mark.parametrize("name", ["Rye & Crumb <Bakery>", "Café Noir", "パン屋", "Brot 🍞", "x" * 100,
                                  "Bäckerei \u200dZWJ"])
def test_real_names_are_kept(tmp_path, name):
    registry = Registry(platform_location(tmp_path))
    assert registry.add("acme", f"  {name} ", frozenset()).name == name


def test_cached_tenants_see_a_change_made_by_another_process(tmp_path):
    """A suspension made elsewhere (the CLI, another node) reaches every process's cache of tenants:
    at once on SQLite (data_version), within moments on PostgreSQL (NOTIFY)."""
    where = platform_location(tmp_path)
    Registry(where).add("acme", "Acme", frozenset({"cms"}))
    cache, reads = TenantCache(where), []

    def read():
        reads.append(1)
        return Registry(where).find("acme")

    deadline = time.monotonic() + 10
    while True:  # until the cache holds it (on PostgreSQL, once the listener listens)
        before = len(reads)
        assert cache.get(("slug", "acme"), read).status == "active"
        if len(reads) == before or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(reads) == before  # served from the cache, no read
    subprocess.run([sys.executable, "-c", "import sys; from content.registry import Registry; "
                    "Registry(sys.argv[1]).update('acme', status='suspended')", str(where)],
                   check=True, env=os.environ, cwd=ROOT)
    deadline = time.monotonic() + 5
    while cache.get(("slug", "acme"), read).status != "suspended":
        assert time.monotonic() < deadline, "the cache still says active"
        time.sleep(0.01)
