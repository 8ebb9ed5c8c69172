"""The auth services and the connection pool, without HTTP."""

from __future__ import annotations

import re
import threading

import pytest

from commerce_api.auth.permissions import ACTIONS, PERMISSIONS, ROLES, allowed
from commerce_api.auth.ratelimit import (ACCOUNT_FREE_ATTEMPTS, ACCOUNT_MAX_DELAY, ADDRESS_FREE_ATTEMPTS, FREE_ATTEMPTS,
                                         LoginLimiter)
from commerce_api.errors import TooManyRequests
from commerce_api.platform import PlatformDB
from content.migrations import platform_location
from commerce_api.tenancy import TenantDatabases
from content.registry import parse_features
from content.tenants import Tenants
from tessera.settings import ROOT

# Login limits are platform state: these run on SQLite's platform.db and on PostgreSQL.
on_both_engines = pytest.mark.usefixtures("platform_engine")


def test_roles_page_matches_the_permissions_table():
    text = (ROOT / "docs" / "roles.md").read_text()
    rows = re.findall(r"^\| `([a-z:]+)` \| (.+) \|$", text, re.M)
    assert [action for action, _ in rows] == list(ACTIONS)
    for action, cells in rows:
        marks = [c.strip() for c in cells.split("|")]
        assert {r for r, m in zip(ROLES, marks) if m == "yes"} == {r for r in ROLES if action in PERMISSIONS[r]}


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        allowed("owner", "pages:delete")


@on_both_engines
def test_login_delays_grow(tmp_path):
    now = [1000.0]
    limiter = LoginLimiter(PlatformDB(platform_location(tmp_path)), clock=lambda: now[0])
    for _ in range(FREE_ATTEMPTS):
        limiter.begin("a@x.test", "1.2.3.4")  # never succeeded: each stays a failure
    waits = []
    for _ in range(4):
        with pytest.raises(TooManyRequests) as info:
            limiter.begin("a@x.test", "1.2.3.4")
        waits.append(info.value.retry_after)
        now[0] += info.value.retry_after
        limiter.begin("a@x.test", "1.2.3.4")
    assert waits == sorted(waits) and waits[-1] > waits[0]


@on_both_engines
def test_parallel_attempts_are_counted_before_they_are_checked(tmp_path):
    db = PlatformDB(platform_location(tmp_path))
    limiter = LoginLimiter(db, clock=lambda: 1000.0)
    outcomes: list[str] = []
    start = threading.Barrier(40)

    def attempt() -> None:
        start.wait()
        try:
            limiter.begin("a@x.test", "1.2.3.4")
            outcomes.append("checked")
        except TooManyRequests:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("checked") == FREE_ATTEMPTS and outcomes.count("refused") == 40 - FREE_ATTEMPTS


@on_both_engines
def test_failures_elsewhere_do_not_lock_the_owner_out(tmp_path):
    limiter = LoginLimiter(PlatformDB(platform_location(tmp_path)), clock=lambda: 1000.0)
    for _ in range(FREE_ATTEMPTS):
        limiter.begin("owner@x.test", "6.6.6.6")
    with pytest.raises(TooManyRequests):
        limiter.begin("owner@x.test", "6.6.6.6")
    limiter.succeeded(limiter.begin("owner@x.test", "5.6.7.8"))  # the owner, at home
    limiter.begin("other@x.test", "6.6.6.6")  # the guesser's address may still try another account
    with pytest.raises(TooManyRequests):  # and the owner's success did not reset the guesser's count
        limiter.begin("owner@x.test", "6.6.6.6")


@on_both_engines
def test_one_address_trying_many_accounts_is_slowed_down(tmp_path):
    limiter = LoginLimiter(PlatformDB(platform_location(tmp_path)), clock=lambda: 1000.0)
    for n in range(ADDRESS_FREE_ATTEMPTS):
        limiter.begin(f"user{n}@x.test", "6.6.6.6")
    with pytest.raises(TooManyRequests):
        limiter.begin("fresh@x.test", "6.6.6.6")
    limiter.begin("fresh@x.test", "7.7.7.7")


@on_both_engines
def test_guesses_from_many_addresses_meet_a_ceiling_that_costs_the_owner_a_minute_at_most(tmp_path):
    now = [1000.0]
    limiter = LoginLimiter(PlatformDB(platform_location(tmp_path)), clock=lambda: now[0])
    for n in range(ACCOUNT_FREE_ATTEMPTS + 400):
        try:
            limiter.begin("owner@x.test", f"10.0.{n // 250}.{n % 250}")
        except TooManyRequests as exc:
            assert exc.retry_after <= ACCOUNT_MAX_DELAY + 1
            now[0] += exc.retry_after
            limiter.begin("owner@x.test", f"10.0.{n // 250}.{n % 250}")
    with pytest.raises(TooManyRequests) as info:
        limiter.begin("owner@x.test", "5.6.7.8")
    assert info.value.retry_after <= ACCOUNT_MAX_DELAY + 1
    now[0] += info.value.retry_after
    limiter.succeeded(limiter.begin("owner@x.test", "5.6.7.8"))


@on_both_engines
def test_a_guesser_rotating_addresses_never_keeps_the_owner_out_of_their_usual_address(tmp_path):
    """The account-wide ceiling is kept up by a trickle of guesses from ever new addresses; at an
    address where the owner signed in before, it does not apply (the per-address rules still do)."""
    now = [1000.0]
    limiter = LoginLimiter(PlatformDB(platform_location(tmp_path)), clock=lambda: now[0])
    limiter.succeeded(limiter.begin("owner@x.test", "5.6.7.8"))  # the owner's usual place
    for n in range(ACCOUNT_FREE_ATTEMPTS + 300):
        now[0] += 0.2  # five guesses a second, each from the next address
        try:
            limiter.begin("owner@x.test", f"10.1.{n // 250}.{n % 250}")
        except TooManyRequests:
            pass
    with pytest.raises(TooManyRequests):  # the ceiling holds for the guesser's next new address
        limiter.begin("owner@x.test", "10.9.9.9")
    limiter.succeeded(limiter.begin("owner@x.test", "5.6.7.8"))  # the owner is not kept waiting
    for _ in range(FREE_ATTEMPTS):  # and a guesser at the owner's address is still slowed down there
        limiter.begin("owner@x.test", "5.6.7.8")
    with pytest.raises(TooManyRequests):
        limiter.begin("owner@x.test", "5.6.7.8")


def test_pool_stays_bounded_with_many_tenants(tmp_path):
    tenants = Tenants(tmp_path, ROOT / "sites")
    for n in range(30):
        tenants.create(f"t{n:02d}", f"T{n}", parse_features("cms"), starter=None)
    pool = TenantDatabases(tmp_path / "tenants", max_open=8)
    errors = []

    def work(offset: int) -> None:
        try:
            for round_ in range(5):
                for n in range(30):
                    slug = f"t{(n + offset) % 30:02d}"
                    with pool.connection(slug) as conn:
                        assert conn.execute("SELECT value FROM meta WHERE key = 'slug'").fetchone()[0] == slug
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i * 7,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pool.open_count <= 8
    pool.close()


def test_pool_keeps_every_busy_tenant_open_and_reuses_it(tmp_path, monkeypatch):
    import commerce_api.tenancy as tenancy

    tenants = Tenants(tmp_path, ROOT / "sites")
    for n in range(40):
        tenants.create(f"s{n:02d}", f"S{n}", parse_features("cms"), starter=None)
    opened = []
    real_connect = tenancy.connect
    monkeypatch.setattr(tenancy, "connect", lambda *a, **k: opened.append(a[0]) or real_connect(*a, **k))
    pool = TenantDatabases(tmp_path / "tenants")
    assert pool.max_open == tenancy.default_max_open() >= 40
    for _ in range(3):  # traffic spread over every site: each is opened once, then reused
        for n in range(40):
            with pool.connection(f"s{n:02d}") as conn:
                assert conn.execute("SELECT value FROM meta WHERE key = 'slug'").fetchone()[0] == f"s{n:02d}"
    assert len(opened) == 40 and pool.open_count == 40
    pool.forget("s07")
    assert pool.open_count == 39
    with pool.connection("s07"):
        pass
    assert len(opened) == 41
    pool.close()
    assert pool.open_count == 0


def test_the_default_pool_size_follows_the_file_handles(monkeypatch):
    import resource

    from commerce_api.tenancy import default_max_open

    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 1024))
    assert default_max_open() == 128
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1_048_576, 1_048_576))
    assert default_max_open() == 2048
