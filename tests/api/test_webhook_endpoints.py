"""Webhook endpoints through the API: owners and admins only, the secret in the creation answer and
nowhere else, another site's endpoints out of reach, bad input a 400 naming the field."""

from __future__ import annotations

import json

import pytest


def owner(world, tenant: str = "alpha"):
    return world.client(tenant, headers={"Authorization": f"Bearer {world.token(tenant, 'owner')}"})


def test_an_owner_adds_lists_tests_and_removes_an_endpoint(world):
    with owner(world) as client:
        made = client.post("/api/admin/webhooks", json={"url": "https://hooks.example.com/orders",
                                                        "events": ["order.paid", "order.placed"], "description": "books"})
        assert made.status_code == 201, made.text
        endpoint = made.json()
        secret = endpoint["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        assert endpoint["events"] == ["order.placed", "order.paid"] and endpoint["enabled"] is True
        assert endpoint["created_by"] == "owner@alpha.test"

        listed = client.get("/api/admin/webhooks")
        one = client.get(f"/api/admin/webhooks/{endpoint['id']}")
        assert listed.status_code == 200 and one.status_code == 200
        assert secret not in listed.text and secret not in one.text
        assert one.json()["secret_hint"] == f"whsec_…{secret[-4:]}" and one.json()["deliveries"] == []

        tested = client.post(f"/api/admin/webhooks/{endpoint['id']}/test")
        assert tested.status_code == 202 and tested.json()["status"] == "queued"
        again = client.post(f"/api/admin/webhooks/{endpoint['id']}/test")  # no job runner here: still waiting
        assert again.status_code == 409 and again.json()["error"]["code"] == "test_waiting"
        with world.services.databases.connection("alpha") as conn:
            event = conn.execute("SELECT kind, data FROM events WHERE id = ?", (tested.json()["event"],)).fetchone()
        assert event["kind"] == "webhook.test" and json.loads(event["data"]) == {"endpoint_id": endpoint["id"]}

        assert client.post(f"/api/admin/webhooks/{endpoint['id']}/enable").json()["enabled"] is True
        assert client.delete(f"/api/admin/webhooks/{endpoint['id']}").json() == {"ok": True}
        assert client.get(f"/api/admin/webhooks/{endpoint['id']}").status_code == 404
        assert client.delete(f"/api/admin/webhooks/{endpoint['id']}").status_code == 404

    audit = world.services.audit.entries(world.tenants.registry.get("alpha").id)
    events = {e["event"]: e["detail"] for e in audit if e["event"].startswith("webhook.")}
    assert events["webhook.added"]["url"] == "https://hooks.example.com/orders"
    assert events["webhook.removed"]["endpoint"] == endpoint["id"]
    assert secret not in json.dumps(audit)


@pytest.mark.parametrize("body,field", [
    ({"url": "http://hooks.example.com/x", "events": ["*"]}, "url"),
    ({"url": "https://10.0.0.7/x", "events": ["*"]}, "url"),
    ({"url": "https://169.254.169.254/latest", "events": ["*"]}, "url"),
    ({"url": "https://localhost:8000/x", "events": ["*"]}, "url"),
    ({"url": "https://hooks.example.com/x", "events": []}, "events"),
    ({"url": "https://hooks.example.com/x", "events": ["order.exploded"]}, "events"),
    ({"url": "https://hooks.example.com/x", "events": ["*"], "description": "a\nb"}, "description"),
    ({"events": ["*"]}, "url"),
])
def test_bad_endpoints_are_a_400_naming_the_field(world, body, field):
    with owner(world) as client:
        response = client.post("/api/admin/webhooks", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("role", ["editor", "shop_manager"])
def test_editors_and_shop_managers_may_not_see_or_change_endpoints(world, role):
    with owner(world) as client:
        endpoint = client.post("/api/admin/webhooks", json={"url": "https://hooks.example.com/r", "events": ["*"]}).json()
    token = world.token("alpha", role)
    with world.client("alpha", headers={"Authorization": f"Bearer {token}"}) as client:
        for method, path in [("GET", "/api/admin/webhooks"), ("GET", f"/api/admin/webhooks/{endpoint['id']}"),
                             ("DELETE", f"/api/admin/webhooks/{endpoint['id']}"),
                             ("POST", f"/api/admin/webhooks/{endpoint['id']}/test"),
                             ("POST", f"/api/admin/webhooks/{endpoint['id']}/enable")]:
            response = client.request(method, path)
            assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden", (method, path)
    with owner(world) as client:
        client.delete(f"/api/admin/webhooks/{endpoint['id']}")


def test_another_sites_endpoints_are_out_of_reach(world):
    with owner(world, "beta") as beta:
        theirs = beta.post("/api/admin/webhooks", json={"url": "https://hooks.example.com/beta", "events": ["*"]}).json()
    with owner(world, "alpha") as alpha:
        listed = alpha.get("/api/admin/webhooks").json()
        assert all("beta" not in e["url"] for e in listed)
        mine = {e["id"] for e in listed}
        assert theirs["id"] not in mine  # (a number alpha also used would simply name alpha's own)
        assert alpha.get(f"/api/admin/webhooks/{theirs['id']}").status_code == 404
        assert alpha.delete(f"/api/admin/webhooks/{theirs['id']}").status_code == 404
        assert alpha.post(f"/api/admin/webhooks/{theirs['id']}/test").status_code == 404
    beta_token = world.token("beta", "owner")
    with world.client("alpha", headers={"Authorization": f"Bearer {beta_token}"}) as foreign:
        assert foreign.get("/api/admin/webhooks").status_code == 401
        assert foreign.delete(f"/api/admin/webhooks/{theirs['id']}").status_code == 401
    with owner(world, "beta") as beta:
        assert beta.get(f"/api/admin/webhooks/{theirs['id']}").json()["url"] == "https://hooks.example.com/beta"
        beta.delete(f"/api/admin/webhooks/{theirs['id']}")


def test_at_most_ten_endpoints(world):
    with owner(world, "gamma") as client:
        made = [client.post("/api/admin/webhooks", json={"url": f"https://hooks.example.com/{n}", "events": ["*"]})
                for n in range(11)]
        assert [r.status_code for r in made] == [201] * 10 + [409]
        assert "at most 10" in made[-1].json()["error"]["message"]
        for r in made[:10]:
            client.delete(f"/api/admin/webhooks/{r.json()['id']}")
