"""Tenant resolution, feature gating, suspension, CORS, errors, docs, health and metrics."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("how", ["host", "path", "header"])
def test_tenant_from_host_path_or_header(world, how):
    kwargs = {"host": ("alpha", "/api/products"), "path": (None, "/api/tenant/alpha/products"),
              "header": (None, "/api/products")}[how]
    headers = {"X-Tenant-ID": "alpha"} if how == "header" else {}
    with world.client(kwargs[0], headers=headers) as client:
        response = client.get(kwargs[1])
    assert response.status_code == 200, response.text
    assert [p["slug"] for p in response.json()["items"]] == ["alpha-loaf"]


@pytest.mark.parametrize("host,path,header", [
    ("alpha", "/api/tenant/beta/products", None),
    ("alpha", "/api/products", "beta"),
    (None, "/api/tenant/alpha/products", "beta"),
])
def test_disagreeing_sources_are_a_400(world, host, path, header):
    headers = {"X-Tenant-ID": header} if header else {}
    with world.client(host, headers=headers) as client:
        response = client.get(path)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tenant_mismatch"


def test_verified_custom_domain_resolves_and_unverified_does_not(world):
    registry = world.tenants.registry
    registry.add_domain("alpha", "shop.alpha.example", primary=True)
    with world.client(headers={"Host": "shop.alpha.example"}) as client:
        assert client.get("/api/products").status_code == 404  # not verified yet
        registry.verify_domain("shop.alpha.example")
        response = client.get("/api/products")
    assert response.status_code == 200 and response.json()["items"][0]["slug"] == "alpha-loaf"


def test_unknown_tenant_is_404(world):
    with world.client("nobody") as client:
        response = client.get("/api/products")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "unknown_tenant", "message": "no tenant called 'nobody'",
                                         "field": None}}


def test_feature_off_is_403_naming_the_feature(world):
    with world.client("gamma") as client:
        response = client.get("/api/products")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "feature_disabled"
    assert "ecommerce" in response.json()["error"]["message"]


def test_shop_permissions_vanish_without_ecommerce(world):
    token = world.token("gamma", "owner")
    with world.client("gamma", headers={"Authorization": f"Bearer {token}"}) as client:
        me = client.get("/api/auth/me").json()
    assert "orders:read" not in me["permissions"] and "pages:write" in me["permissions"]


def test_suspended_tenant_reads_but_refuses_writes(world):
    token = world.token("beta", "owner")
    world.tenants.registry.update("beta", status="suspended")
    try:
        with world.client("beta", headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/api/products").status_code == 200
            response = client.patch("/api/admin/tenant", json={"name": "Renamed"})
        assert response.status_code == 403 and response.json()["error"]["code"] == "tenant_suspended"
    finally:
        world.tenants.registry.update("beta", status="active")


def test_cors_allows_the_tenants_own_origins_only(world):
    port = world.base.rsplit(":", 1)[1]
    own = f"http://alpha.localhost:{port}"
    with world.client("alpha") as client:
        ok = client.options("/api/products", headers={"Origin": own, "Access-Control-Request-Method": "POST"})
        assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == own
        foreign = client.options("/api/products", headers={"Origin": f"http://beta.localhost:{port}",
                                                           "Access-Control-Request-Method": "POST"})
        assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
        simple = client.get("/api/products", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers
        assert client.get("/api/products", headers={"Origin": own}).headers["access-control-allow-origin"] == own


@pytest.mark.parametrize("body,field", [
    ({"password": "x"}, "email"),
    ({"email": "a@b.test"}, "password"),
    ({"email": 5, "password": "x"}, "email"),
])
def test_bad_body_is_a_400_naming_the_field(world, body, field):
    with world.client("alpha") as client:
        response = client.post("/api/auth/login", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field and error["code"] == "invalid_request"


def test_malformed_json_and_oversized_bodies_get_json_errors(world):
    with world.client("alpha") as client:
        broken = client.post("/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"})
        assert broken.status_code == 400 and "error" in broken.json()
        huge = client.post("/api/auth/login", content=b"x" * (2 * 1024 * 1024),
                           headers={"Content-Type": "application/json"})
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"
        missing = client.get("/api/nothing-here")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_openapi_docs_health_and_metrics(world):
    with world.client() as client:
        schema = client.get("/api/docs/openapi.json")
        assert schema.status_code == 200 and "/api/auth/login" in schema.json()["paths"]
        assert client.get("/api/docs").status_code == 200
        assert client.get("/healthz").json() == {"status": "ok"}
        client.get("/api/tenant/alpha/products/alpha-loaf")
        metrics = client.get("/metrics").text
    assert 'route="/api/products/{slug}"' in metrics
    assert "alpha-loaf" not in metrics  # labels are route templates, never tenant-controlled text
    with world.client("alpha") as client:
        assert client.get("/metrics").status_code == 404  # operators only, not on tenant hosts
