"""The platform app over real HTTP: sites by Host from their buckets, with the API alongside."""

from __future__ import annotations

import hashlib
import json
import re
from types import SimpleNamespace

import httpx
import pytest

from publish.edge import Edge

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


def test_media_is_served_with_its_decoded_type_and_nosniff(edge):
    base, _ = edge
    photo = get(base, "bakery.localhost", "/media/baguette.jpg")
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
    assert photo.headers["content-type"] == "image/jpeg" and photo.headers["x-content-type-options"] == "nosniff"
    page = get(base, "bakery.localhost", "/products/baguette/")
    webp = re.search(r"/media/baguette-\d+\.[0-9a-f]+\.webp", page.text).group(0)
    assert get(base, "bakery.localhost", webp).headers["content-type"] == "image/webp"


def _directives(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_csp_allows_only_the_themes_own_scripts(edge):
    base, _ = edge
    host = f"bakery.localhost:{base.rsplit(':', 1)[1]}"  # as a browser sends it, with the port
    page = get(base, host, "/products/croissants/")
    cart = re.search(r'<script defer src="(/assets/cart\.[0-9a-f]{10}\.js)"></script>', page.text).group(1)
    wholesale = get(base, host, "/wholesale/")
    forms = re.search(r'<script defer src="(/assets/forms\.[0-9a-f]{10}\.js)"></script>', wholesale.text).group(1)
    finder = get(base, host, "/search/")
    search = re.search(r'<script defer src="(/assets/search\.[0-9a-f]{10}\.js)"></script>', finder.text).group(1)
    checkout = re.search(r'<script defer src="(/assets/checkout\.[0-9a-f]{10}\.js)"></script>',
                         get(base, host, "/checkout/").text).group(1)
    allowed = f"{host}{cart} {host}{checkout} {host}{forms} {host}{search}"  # exact URLs, not the whole origin
    assert _directives(page)["script-src"] == allowed
    assert get(base, host, cart).headers["content-type"].startswith("text/javascript")
    assert _directives(get(base, host, "/no-such-page/"))["script-src"] == allowed  # the 404 page has the cart
    studio = get(base, "studio.localhost", "/")  # no shop: only the contact form's and the search page's
    assert _directives(studio)["script-src"] == " ".join(f"studio.localhost{s}" for s in (forms, search))
    assert _directives(get(base, "nobody.localhost", "/"))["script-src"] == "'none'"


def test_a_release_from_before_media_was_checked_serves_no_script(tmp_path):
    """Releases already in buckets may hold anything under media/ and list no scripts in build.json."""
    files = {"index.html": b"<!doctype html><p>Old</p>", "media/steal.js": b"fetch('/admin/users')",
             "media/logo.svg": b"<svg onload='alert(1)'/>", "media/shop.jpg": b"\xff\xd8old",
             "assets/cart.0123456789.js": b"// cart"}
    kinds = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
             "svg": "image/svg+xml; charset=utf-8", "jpg": "image/jpeg"}
    manifest = {p: [hashlib.sha256(d).hexdigest(), len(d), kinds[p.rsplit(".", 1)[1]]] for p, d in files.items()}
    bucket = SimpleNamespace(manifest=lambda: manifest, read=lambda path: {
        **files, "_tessera/build.json": json.dumps({"catalog_version": "x"}).encode()}.get(path))
    tenant = SimpleNamespace(slug="old", name="Old", suspended=False)
    registry = SimpleNamespace(find=lambda slug: tenant if slug == "old" else None, tenant_for_domain=lambda h: None)
    edge = Edge(lambda: registry, lambda slug: bucket, "localhost")

    def fetch(path):
        return edge.respond("GET", path, "old.localhost", {"host": "old.localhost"})

    for path in ("/media/steal.js", "/media/logo.svg"):
        status, _, headers = fetch(path)
        assert status == 200 and headers["content-type"] == "application/octet-stream", path
    assert fetch("/media/shop.jpg")[2]["content-type"] == "image/jpeg"
    assert fetch("/assets/cart.0123456789.js")[2]["content-type"].startswith("text/javascript")
    policy = fetch("/")[2]["content-security-policy"]
    assert "script-src old.localhost/assets/cart.0123456789.js;" in policy and "'self'" not in policy.split("script-src")[1].split(";")[0]


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
    assert products.status_code == 200 and products.json()["total"] == 11  # the demo bakery, gift card included
    front = get(base, "127.0.0.1", "/")
    assert front.status_code == 200 and "bakery.localhost" in front.text


def test_the_edge_keeps_a_compact_manifest_with_one_string_per_media_type():
    from publish.edge import _compact

    digest = "ab" * 32
    kept = _compact({"index.html": [digest, 10, "text/html; charset=utf-8"],
                     "about/index.html": ["cd" * 32, 20, "text/html; charset=utf-8".encode().decode()]})
    assert kept["index.html"] == (digest[:32], "text/html; charset=utf-8")  # the ETag's half, the type
    assert kept["index.html"][1] is kept["about/index.html"][1]  # one string for every page's type


def test_the_edge_patches_its_manifest_with_a_local_releases_changes(tmp_path, monkeypatch):
    """A local release records what it changed of the release live before it; the edge holding that
    release's manifest patches it instead of reading the whole new one, and reads it whole when it
    missed a release in between. Either way it holds exactly the live release's manifest."""
    from content.gitrepo import Author
    from content.registry import parse_features
    from content.tenants import Tenants
    from publish.edge import _compact
    from publish.storage import FileStorage
    from tessera.settings import ROOT, Settings

    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path / "data")})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio")
    publish_tenant(settings, tenants, "studio", actor="test")
    root = settings.data_dir / "buckets" / "studio"
    storage = FileStorage(root)
    edge = Edge(lambda: tenants.registry, lambda slug: storage, "localhost")
    assert edge._site("studio", storage)[0] == _compact(FileStorage(root).manifest())
    repo, author = tenants.repository("studio"), Author("Ed", "ed@studio.test")

    def edit(changes: dict) -> None:
        repo.write(changes, author, "edit")
        publish_tenant(settings, tenants, "studio", actor="test")

    edit({"pages/contact.md": b"---\ntitle: Contact\n---\nWrite any day.\n",
          "pages/hours.md": b"---\ntitle: Hours\n---\nNine to five.\n", "pages/about.md": None})
    monkeypatch.setattr(storage, "manifest", lambda: pytest.fail("read whole, not patched"))
    patched = edge._site("studio", storage)[0]
    live = FileStorage(root).manifest()
    assert patched == _compact(live) and "hours/index.html" in patched and "about/index.html" not in patched
    monkeypatch.undo()
    edit({"pages/extra.md": b"---\ntitle: Extra\n---\nMore.\n"})
    edit({"pages/hours.md": None})  # two releases since the edge looked: the delta is not from its release
    whole = edge._site("studio", storage)[0]
    assert whole == _compact(FileStorage(root).manifest()) and "extra/index.html" in whole
