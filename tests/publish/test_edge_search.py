"""Search without JavaScript: the edge answers /search/?q= from the build's search.json, escaped."""

from __future__ import annotations

import re

import httpx
import pytest

from publish.search import answer, matches

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
    publish_tenant(settings, tenants, "bakery", actor="test")
    with serving(make_app(settings), port) as base:
        yield base


def search(base, query, headers=None):
    return httpx.get(base + "/search/", params={"q": query}, headers={"Host": "bakery.localhost",
                                                                       "Accept-Encoding": "identity", **(headers or {})},
                     timeout=10)


def test_the_edge_answers_a_search_with_products_and_posts_in_the_page(edge):
    found = search(edge, "rye")
    assert found.status_code == 200 and found.headers["cache-control"] == "no-store"
    results = found.text.split("data-search-results data-searched", 1)[1].split("</div>\n</div>", 1)[0]
    titles = re.findall(r'<h2><a href="([^"]+)">([^<]+)</a></h2>', results)
    assert ("/products/dark-rye/", "Dark Rye") in titles[:1] or titles[0][0] == "/products/dark-rye/"
    assert any(url.startswith("/blog/") for url, _ in titles)  # posts too
    assert 'value="rye" data-search-query' in found.text  # the box keeps the words
    assert "'none'" not in found.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    none = search(edge, "marzipan unicorn")
    assert "Nothing found for “marzipan unicorn”." in none.text and "<ol>" not in none.text
    packed = search(edge, "rye", headers={"Accept-Encoding": "gzip"})  # httpx unpacks it
    assert packed.headers["content-encoding"] == "gzip" and packed.text == found.text
    plain = httpx.get(edge + "/search/", headers={"Host": "bakery.localhost"}, timeout=10)
    assert plain.status_code == 200 and "<!--tessera:search-results-->" in plain.text  # no query: the built page


def test_the_query_and_the_index_are_escaped(edge):
    hostile = '"><script>alert(1)</script>'
    page = search(edge, hostile).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'value="&quot;&gt;&lt;script&gt;' in page


def test_answer_escapes_what_tenants_wrote_and_refuses_odd_links():
    page = b'<input value="" data-search-query><div data-search-results aria-live="polite"><!--tessera:search-results--></div>'
    index = (b'{"items": [{"kind": "post", "title": "<b>Rye</b>", "url": "javascript:alert(1)", '
             b'"text": "<img src=x onerror=alert(1)>", "terms": "", "image": "https://evil.example/x.png"}]}')
    out = answer(page, index, "rye").decode()
    assert "&lt;b&gt;Rye&lt;/b&gt;" in out and "&lt;img src=x" in out
    assert 'href="/"' in out and "javascript:" not in out and "evil.example" not in out
    assert answer(page, b"not json", "rye").decode().count("Nothing found") == 1


@pytest.mark.parametrize("query,expected", [
    ("RYE", ["Rye bread notes", "Dark Rye", "Loaves"]),  # any case; titles that match before texts that do
    ("rye notes", ["Rye bread notes"]),  # every word
    ("sourdough", ["Rye bread notes"]),  # the excerpt counts
    ("pastries", ["Croissants"]),  # categories and tags count
    ("   ", []),
])
def test_matches(query, expected):
    items = [{"title": "Croissants", "text": "", "terms": "pastries"},
             {"title": "Loaves", "text": "Wheat and rye flour", "terms": ""},
             {"title": "Rye bread notes", "text": "On sourdough", "terms": ""},
             {"title": "Dark Rye", "text": "", "terms": "bread"}]
    assert [i["title"] for i in matches(items, query)] == expected
