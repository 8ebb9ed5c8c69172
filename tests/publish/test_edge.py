"""The platform app over real HTTP: sites by Host from their buckets, with the API alongside."""

from __future__ import annotations

import httpx
import pytest

from tessera.app import make_app
from tessera.sites import publish_tenant
from tests.api.conftest import free_port
from tests.conftest import serving


@pytest.fixture(name="edge", scope="module")
def fx_edge(tmp_path_factory):
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.settings import ROOT, Settings

    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path_factory.mktemp("edge")), "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio")
    tenants.create("empty", "Empty", parse_features("cms"), starter="studio")
    publish_tenant(settings, tenants, "bakery", actor="test")
    publish_tenant(settings, tenants, "studio", actor="test")
    with serving(make_app(settings), port) as base:
        yield base, tenants


def get(base, host, path, **kwargs):
    headers = {"Host": host, **kwargs.pop("headers", {})}
    return httpx.get(base + path, headers=headers, follow_redirects=False, timeout=10, **kwargs)


def test_each_host_gets_its_own_site(edge):
    base, _ = edge
    bakery = get(base, "bakery.localhost", "/")
    studio = get(base, "studio.localhost", "/")
    assert bakery.status_code == studio.status_code == 200
    assert "Rye &amp; Crumb" in bakery.text and "Studio Lumen" in studio.text
    assert bakery.headers["content-type"] == "text/html; charset=utf-8"


def test_pretty_urls_redirects_and_404(edge):
    base, _ = edge
    assert get(base, "bakery.localhost", "/about/").status_code == 200
    slash = get(base, "bakery.localhost", "/about")
    assert slash.status_code == 301 and slash.headers["location"] == "/about/"
    rule = get(base, "bakery.localhost", "/shop/")  # from site.yaml redirects
    assert rule.status_code == 301 and rule.headers["location"] == "/products/"
    missing = get(base, "bakery.localhost", "/no-such-page/")
    assert missing.status_code == 404 and "Page not found" in missing.text and "Rye &amp; Crumb" in missing.text
    assert get(base, "bakery.localhost", "/_tessera/catalog.json").status_code == 404
    assert get(base, "bakery.localhost", "/../../etc/passwd").status_code in (400, 404)


def test_security_and_cache_headers(edge):
    base, _ = edge
    page = get(base, "bakery.localhost", "/products/croissants/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert page.headers["cache-control"] == "public, max-age=0, must-revalidate"
    css = page.text.split('rel="stylesheet" href="')[1].split('"')[0]
    asset = get(base, "bakery.localhost", css)
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-type"] == "text/css; charset=utf-8"


def test_etag_and_head(edge):
    base, _ = edge
    first = get(base, "bakery.localhost", "/about/")
    etag = first.headers["etag"]
    again = get(base, "bakery.localhost", "/about/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    head = httpx.head(base + "/about/", headers={"Host": "bakery.localhost"})
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag


def test_suspended_unknown_and_unpublished(edge):
    base, tenants = edge
    tenants.registry.update("studio", status="suspended")
    try:
        suspended = get(base, "studio.localhost", "/")
        assert suspended.status_code == 503 and "temporarily unavailable" in suspended.text
    finally:
        tenants.registry.update("studio", status="active")
    assert get(base, "nobody.localhost", "/").status_code == 404
    assert "not been published" in get(base, "empty.localhost", "/").text
    assert get(base, "bakery.localhost", "/", ).status_code == 200
    assert httpx.post(base + "/about/", headers={"Host": "bakery.localhost"}).status_code == 405


def test_api_and_front_page_share_the_port(edge):
    base, _ = edge
    products = get(base, "bakery.localhost", "/api/products")
    assert products.status_code == 200 and products.json()["total"] == 10
    front = get(base, "127.0.0.1", "/")
    assert front.status_code == 200 and "bakery.localhost" in front.text
