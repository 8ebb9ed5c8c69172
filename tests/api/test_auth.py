"""Credentials, roles and isolation, through real HTTP."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from commerce_api.auth.permissions import PERMISSIONS, ROLES
from tests.api.conftest import PASSWORD

# Every staff route, with what it needs (an action from the permissions table, or just a login).
ROUTES = [
    ("GET", "/api/admin/tenant", None, "settings:read"),
    ("PATCH", "/api/admin/tenant", {"name": "Alpha"}, "settings:write"),
    ("GET", "/api/admin/members", None, "users:read"),
    ("POST", "/api/admin/members", {"email": "editor@alpha.test", "role": "editor"}, "users:write"),
    ("GET", "/api/admin/audit", None, "users:read"),
    ("GET", "/api/admin/tokens", None, "login"),
    ("POST", "/api/admin/tokens", {"name": "ci"}, "login"),
    ("GET", "/api/auth/me", None, "login"),
    ("POST", "/api/admin/publish", None, "publish"),
    ("GET", "/api/admin/jobs", None, "publish"),
    ("GET", "/api/admin/webhooks", None, "webhooks:read"),
    ("POST", "/api/admin/webhooks", {"url": "https://hooks.example.com/t", "events": ["*"]}, "webhooks:write"),
    ("GET", "/api/admin/discounts", None, "discounts:read"),
    ("POST", "/api/admin/discounts", {"title": "Matrix", "kind": "percent", "value": 500, "status": "paused"},
     "discounts:write"),
    ("GET", "/api/admin/reports/traffic", None, "analytics:read"),
    ("GET", "/api/admin/reports/sales", None, "orders:read"),
]


def call(client, method, path, body):
    return client.request(method, path, json=body)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,body,needs", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_role_matrix(world, role, method, path, body, needs):
    token = world.token("alpha", role)
    with world.client("alpha", headers={"Authorization": f"Bearer {token}"}) as client:
        response = call(client, method, path, body)
    expected = needs == "login" or needs in PERMISSIONS[role]
    assert (response.status_code < 400) == expected, (role, response.status_code, response.text)
    if not expected:
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("method,path,body,needs", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_anonymous_is_refused_everywhere(world, method, path, body, needs):
    with world.client("alpha") as client:
        response = call(client, method, path, body)
    assert response.status_code == 401


@pytest.fixture(name="foreign")
def fx_foreign(world):
    """Credentials of beta's owner: an access token, an API token and a session cookie."""
    access = world.token("beta", "owner")
    with world.client("beta", headers={"Authorization": f"Bearer {access}"}) as client:
        api_token = client.post("/api/admin/tokens", json={"name": "foreign"}).json()["token"]
    with world.admin_client("beta") as client:
        session = client.post("/api/auth/session", data={"email": "owner@beta.test", "password": PASSWORD})
        cookie = session.cookies["tessera_session"]
        csrf = session.json()["csrf_token"]
    return {"access": {"Authorization": f"Bearer {access}"}, "api": {"Authorization": f"Bearer {api_token}"},
            "session": {"Cookie": f"tessera_session={cookie}", "X-CSRF-Token": csrf}}


@pytest.mark.parametrize("kind", ["access", "api", "session"])
@pytest.mark.parametrize("how", ["host", "path", "header", "admin"])
@pytest.mark.parametrize("method,path,body,needs", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_foreign_credentials_are_refused(world, foreign, kind, how, method, path, body, needs):
    headers = dict(foreign[kind])
    if how == "header":
        headers["X-Tenant-ID"] = "alpha"
    url = path.replace("/api/", "/api/tenant/alpha/", 1) if how == "path" else path
    client = world.admin_client("alpha", headers=headers) if how == "admin" else \
        world.client("alpha" if how == "host" else None, headers=headers)
    with client:
        response = call(client, method, url, body)
    assert response.status_code == 401, response.text
    # A session cookie is a credential only on the admin's origin; anywhere else it is not even read.
    expected = "unauthorized" if kind == "session" and how != "admin" else "wrong_tenant"
    assert response.json()["error"]["code"] == expected


def test_foreign_ids_are_never_reached(world):
    beta_owner = world.token("beta", "owner")
    with world.client("beta", headers={"Authorization": f"Bearer {beta_owner}"}) as beta:
        beta_token_id = beta.post("/api/admin/tokens", json={"name": "mine"}).json()["id"]
        beta_members = beta.get("/api/admin/members").json()
    beta_editor = next(m for m in beta_members if m["email"] == "editor@beta.test")
    alpha_owner = world.token("alpha", "owner")
    with world.client("alpha", headers={"Authorization": f"Bearer {alpha_owner}"}) as alpha:
        assert alpha.delete(f"/api/admin/tokens/{beta_token_id}").status_code == 404
        assert alpha.put(f"/api/admin/members/{beta_editor['id']}", json={"role": "owner"}).status_code == 404
        assert alpha.delete(f"/api/admin/members/{beta_editor['id']}").status_code == 404
        listing = alpha.get("/api/admin/members").json()
        assert all(m["email"].endswith("@alpha.test") for m in listing)
        assert all("beta" not in json.dumps(entry) for entry in alpha.get("/api/admin/audit").json()
                   if entry["event"] != "login.failed")
    with world.client("beta", headers={"Authorization": f"Bearer {beta_owner}"}) as beta:
        assert [t["id"] for t in beta.get("/api/admin/tokens").json() if not t["revoked_at"]].count(beta_token_id) == 1
        assert any(m["email"] == "editor@beta.test" and m["role"] == "editor" for m in beta.get("/api/admin/members").json())


def _forge(payload: dict, header: dict) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{enc(header)}.{enc(payload)}."


@pytest.mark.parametrize("make", ["expired", "tampered", "alg_none", "wrong_key", "wrong_tenant", "garbage"])
def test_bad_access_tokens_are_refused(world, make):
    good = world.token("alpha", "owner")
    claims = jwt.decode(good, options={"verify_signature": False})
    token = {
        "expired": lambda: jwt.encode({**claims, "exp": int(time.time()) - 10}, "s" * 48, algorithm="HS256"),
        "tampered": lambda: good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "alg_none": lambda: _forge({**claims, "role": "owner"}, {"alg": "none", "typ": "JWT"}),
        "wrong_key": lambda: jwt.encode(claims, "another secret of the right length!!", algorithm="HS256"),
        "wrong_tenant": lambda: jwt.encode({**claims, "tid": "beta"}, "s" * 48, algorithm="HS256"),
        "garbage": lambda: "not.a.token",
    }[make]()
    with world.client("alpha", headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get("/api/auth/me")
    assert response.status_code == 401
    if make == "expired":
        assert response.json()["error"]["code"] == "token_expired"


def test_refresh_rotates_and_reuse_revokes_the_family(world):
    first = world.login("alpha", "editor@alpha.test")
    with world.client("alpha") as client:
        second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
        reuse = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "token_reused"
        after = client.post("/api/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
        assert after.status_code == 401  # the whole family is revoked
    with world.client("beta") as client:  # a refresh token is bound to its tenant too
        other = world.login("alpha", "editor@alpha.test")
        assert client.post("/api/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 401


def test_logout_revokes_the_refresh_token(world):
    tokens = world.login("alpha", "shop_manager@alpha.test")
    with world.client("alpha") as client:
        assert client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 200
        assert client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_password_change_revokes_tokens_and_sessions(world):
    world.services.users.create("changer@alpha.test", PASSWORD)
    alpha = world.tenants.registry.get("alpha")
    world.services.users.grant(world.services.users.by_email("changer@alpha.test").id, alpha.id, "editor")
    tokens = world.login("alpha", "changer@alpha.test")
    time.sleep(1.1)  # tokens carry whole seconds; the change must come strictly after
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    with world.client("alpha", headers=headers) as client:
        response = client.post("/api/auth/password", json={"current_password": PASSWORD,
                                                          "new_password": "a much longer new secret"})
        assert response.status_code == 200
        assert client.get("/api/auth/me").status_code == 401
    with world.client("alpha") as client:
        assert client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    world.login("alpha", "changer@alpha.test", "a much longer new secret")


def test_weak_password_is_refused_with_the_field(world):
    token = world.token("alpha", "editor")
    with world.client("alpha", headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "password"


def test_login_failures_look_the_same_and_are_rate_limited(world):
    world.clear_login_failures()
    try:
        with world.client("gamma") as client:
            unknown = client.post("/api/auth/login", json={"email": "ghost@gamma.test", "password": "whatever-it-is"})
            wrong = client.post("/api/auth/login", json={"email": "owner@gamma.test", "password": "wrong password"})
            assert unknown.status_code == wrong.status_code == 401
            assert unknown.json() == wrong.json()
            for _ in range(5):
                client.post("/api/auth/login", json={"email": "owner@gamma.test", "password": "wrong password"})
            limited = client.post("/api/auth/login", json={"email": "owner@gamma.test", "password": PASSWORD})
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
            assert limited.json()["error"]["code"] == "too_many_requests"
        events = [e["event"] for e in world.services.audit.entries(world.tenants.registry.get("gamma").id)]
        assert "login.failed" in events
        assert all("wrong password" not in json.dumps(e) for e in world.services.audit.entries())
    finally:
        world.clear_login_failures()


def test_session_cookie_needs_csrf_for_writes(world):
    with world.client("alpha") as storefront:  # never on a tenant's own host, where its scripts run
        refused = storefront.post("/api/auth/session", data={"email": "admin@alpha.test", "password": PASSWORD})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        assert refused.json()["error"]["code"] == "admin_origin_only"
    with world.admin_client("alpha") as client:
        login = client.post("/api/auth/session", data={"email": "admin@alpha.test", "password": PASSWORD})
        assert login.status_code == 200
        set_cookie = login.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "path=/sites/alpha" in set_cookie
        csrf = login.json()["csrf_token"]
        assert client.get("/api/admin/tenant").status_code == 200  # reads need no token
        refused = client.patch("/api/admin/tenant", json={"name": "Alpha"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        wrong = client.patch("/api/admin/tenant", json={"name": "Alpha"}, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        ok = client.patch("/api/admin/tenant", json={"name": "Alpha"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200
        client.delete("/api/auth/session", headers={"X-CSRF-Token": csrf})
        assert client.get("/api/admin/tenant").status_code == 401


def test_api_tokens_are_shown_once_listed_and_revocable(world):
    access = world.token("alpha", "editor")
    with world.client("alpha", headers={"Authorization": f"Bearer {access}"}) as client:
        created = client.post("/api/admin/tokens", json={"name": "git push"}).json()
        assert created["token"].startswith("tsr_")
        listing = client.get("/api/admin/tokens").json()
        assert all("token" not in t and created["token"] not in json.dumps(t) for t in listing)
    with world.client("alpha", headers={"Authorization": f"Bearer {created['token']}"}) as client:
        me = client.get("/api/auth/me").json()
        assert me["via"] == "api_token" and me["role"] == "editor"
        assert client.delete(f"/api/admin/tokens/{created['id']}").status_code == 200
        assert client.get("/api/auth/me").status_code == 401


def test_the_last_owner_cannot_be_removed_or_demoted(world):
    owner = world.services.users.by_email("owner@gamma.test")
    token = world.token("gamma", "owner")
    with world.client("gamma", headers={"Authorization": f"Bearer {token}"}) as client:
        demote = client.put(f"/api/admin/members/{owner.id}", json={"role": "admin"})
        assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_owner"
        assert client.delete(f"/api/admin/members/{owner.id}").status_code == 409
    admin_token = world.token("gamma", "admin")
    with world.client("gamma", headers={"Authorization": f"Bearer {admin_token}"}) as client:
        assert client.put(f"/api/admin/members/{owner.id}", json={"role": "editor"}).status_code == 403


def test_superadmin_works_on_every_tenant(world):
    for slug in ("alpha", "gamma"):
        token = world.login(slug, "root@platform.test")["access_token"]
        with world.client(slug, headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/api/admin/members").status_code == 200


def test_audit_log_records_security_events(world):
    token = world.token("alpha", "owner")
    with world.client("alpha", headers={"Authorization": f"Bearer {token}"}) as client:
        client.post("/api/admin/tokens", json={"name": "audited"})
        events = {e["event"] for e in client.get("/api/admin/audit").json()}
    assert {"login", "token.created"} <= events


def test_forwarded_addresses_count_only_from_trusted_proxies():
    from commerce_api.security import client_address

    def scope(peer, forwarded=None):
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return {"client": (peer, 5000), "headers": headers}

    proxies = ("10.0.0.0/8", "127.0.0.1/32")
    assert client_address(scope("203.0.113.9", "198.51.100.1"), proxies) == "203.0.113.9"  # not a proxy: ignored
    assert client_address(scope("10.0.0.2", "198.51.100.1"), proxies) == "198.51.100.1"
    # A client may send its own header; only what trusted proxies appended counts.
    assert client_address(scope("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.7"), proxies) == "198.51.100.1"
    assert client_address(scope("10.0.0.2", "not-an-ip"), proxies) == "10.0.0.2"
    assert client_address(scope("10.0.0.2"), proxies) == "10.0.0.2"
    assert client_address(scope("10.0.0.2", "198.51.100.1"), ()) == "10.0.0.2"  # no proxies configured


def test_parallel_guesses_get_five_password_checks_not_more(world):
    """Checking and counting are one step: of 40 guesses at once, 5 are checked (401) and the rest refused
    (429); a sixth may pass if the burst outlasts the first one-second delay, never ten as before."""
    from concurrent.futures import ThreadPoolExecutor

    world.clear_login_failures()
    try:
        def guess(n: int) -> int:
            with world.client("gamma") as client:
                return client.post("/api/auth/login", json={"email": "editor@gamma.test",
                                                            "password": f"guess number {n}"}).status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            statuses = list(pool.map(guess, range(40)))
        checked = statuses.count(401)
        assert 5 <= checked <= 6 and statuses.count(429) == 40 - checked, statuses
    finally:
        world.clear_login_failures()
