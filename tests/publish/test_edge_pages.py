"""The edge's own pages (not published yet, suspended, no site) never put a tenant's text in the HTML raw."""

from __future__ import annotations

from content.registry import parse_features
from content.tenants import Tenants
from publish.edge import Edge
from publish.storage import FileStorage
from tessera.settings import ROOT

NAME = "<script>alert('x')</script> & <b>Co</b>"


def test_the_not_published_page_escapes_the_tenant_name(tmp_path):
    tenants = Tenants(tmp_path / "data", ROOT / "sites")
    try:
        tenants.create("acme", NAME, parse_features("cms"), starter=None)
        edge = Edge(lambda: tenants.registry, lambda slug: FileStorage(tmp_path / "buckets" / slug), "localhost")
        status, body, _ = edge.respond("GET", "/", "acme.localhost", {})
        page = body.decode()
        assert status == 404 and "This site has not been published yet." in page
        assert "<script>" not in page and "<b>" not in page
        assert "<title>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;</title>" in page
    finally:
        tenants.close()
