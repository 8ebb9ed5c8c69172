"""The OpenAPI document and its viewer: the page names only files this server serves."""

from __future__ import annotations

import re

ERROR_STATUSES = {"400", "401", "403", "404"}


def test_the_docs_page_loads_its_viewer_from_this_server(world):
    with world.client() as client:
        html = client.get("/api/docs").text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert urls and all(url.startswith("/api/docs/assets/") for url in urls), urls
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200 and len(response.content) > 500, url
    assert "cdn." not in html and "googleapis" not in html


def test_every_operation_documents_the_error_envelope(world):
    with world.client() as client:
        spec = client.get("/api/docs/openapi.json").json()
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    assert set(spec["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message", "field"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            if path.startswith("/api/"):
                assert ERROR_STATUSES <= documented, (method, path, documented)
            for status, answer in operation["responses"].items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)
    login = spec["paths"]["/api/auth/login"]["post"]["responses"]
    assert {"413", "429"} <= set(login)
    assert "409" in spec["paths"]["/api/checkout"]["post"]["responses"]
    csv = spec["paths"]["/api/admin/orders.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv) == ["text/csv"]


def test_the_csv_export_names_its_charset_once(world):
    token = world.token("alpha", "owner")
    with world.client("alpha", headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get("/api/admin/orders.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
