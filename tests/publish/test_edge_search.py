"""Search without JavaScript: the edge answers /search/?q= from the build's search.json, escaped."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import httpx
import pytest

from publish.search import Index, answer, matches

from tessera.app import make_app
from tessera.sites import publish_tenant
from tests.api.conftest import free_port
from tests.conftest import serving
from tests.publish.conftest import EDITOR


@pytest.fixture(name="edge_site", scope="module")
def fx_edge_site(tmp_path_factory):
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.settings import ROOT, Settings

    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path_factory.mktemp("edge")), "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    publish_tenant(settings, tenants, "bakery", actor="test")
    with serving(make_app(settings), port) as base:
        yield SimpleNamespace(base=base, settings=settings, tenants=tenants)


@pytest.fixture(name="edge")
def fx_edge(edge_site):
    return edge_site.base


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
    out = answer(page, Index(index), "rye").decode()
    assert "&lt;b&gt;Rye&lt;/b&gt;" in out and "&lt;img src=x" in out
    assert 'href="/"' in out and "javascript:" not in out and "evil.example" not in out
    assert answer(page, Index(b"not json"), "rye").decode().count("Nothing found") == 1
    assert answer(page, Index(b'{"items": [1, "x", null]}'), "rye").decode().count("Nothing found") == 1


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
    index = Index(json.dumps({"items": items}).encode())
    assert [i["title"] for i in matches(index, query)] == expected


def test_a_query_repeating_a_word_costs_what_the_word_costs():
    """Each distinct word is one pass over the index: fifty copies of a word are one word."""
    index = Index(json.dumps({"items": [{"title": f"Post {n}", "text": "sourdough rye " * 15}
                                        for n in range(10_000)]}).encode())
    looked = []

    class Counting(str):
        def __contains__(self, word):
            looked.append(word)
            return str.__contains__(self, word)

    index.texts = [Counting(t) for t in index.texts]
    assert len(matches(index, "Rye " * 50)) == 50
    assert looked.count("rye") == 10_000 and set(looked) == {"rye"}


def test_the_slash_redirect_keeps_the_query(edge):
    moved = httpx.get(edge + "/search?q=rye", headers={"Host": "bakery.localhost"}, timeout=10)
    assert moved.status_code == 301 and moved.headers["location"] == "/search/?q=rye"
    followed = httpx.get(edge + moved.headers["location"], headers={"Host": "bakery.localhost"}, timeout=10)
    assert 'value="rye" data-search-query' in followed.text


def test_a_new_release_is_searched_as_soon_as_it_is_live(edge_site):
    """The edge keeps a site's parsed index per release: a publish that adds a page is found at once."""
    edge, settings, tenants = edge_site.base, edge_site.settings, edge_site.tenants
    assert "Nothing found" in search(edge, "quinceloaf").text
    repo = tenants.repository("bakery")
    text = repo.read("posts/rye-season.md").decode().replace("Rye season is here", "Rye and quinceloaf season")
    repo.write({"posts/rye-season.md": text.encode()}, EDITOR, "Quince")
    publish_tenant(settings, tenants, "bakery", actor="test")
    assert "/blog/rye-season/" in search(edge, "quinceloaf").text


def test_parsed_indexes_are_bounded_by_their_items_over_all_sites(monkeypatch):
    """The edge keeps the most recently searched sites' indexes within MAX_SEARCH_ITEMS items in all."""
    from publish import edge as edge_module

    class Bucket:
        def __init__(self, items: int) -> None:
            self.reads = 0
            self.data = json.dumps({"items": [{"title": f"T{n}"} for n in range(items)]}).encode()

        def read(self, path):
            self.reads += 1
            return self.data

    monkeypatch.setattr(edge_module, "MAX_SEARCH_ITEMS", 250)
    server = edge_module.Edge(lambda: None, lambda slug: None, "localhost")
    buckets = {slug: Bucket(100) for slug in ("a", "b", "c")}
    for slug in ("a", "b", "a", "c"):  # c pushes out the least recently searched, b
        server._index(slug, buckets[slug], {"search.json": ["sha-1", 1, "application/json"]})
    assert list(server._indexes) == ["a", "c"] and server._index_items == 200
    assert (buckets["a"].reads, buckets["b"].reads) == (1, 1)  # a's second search parsed nothing
    server._index("a", buckets["a"], {"search.json": ["sha-2", 1, "application/json"]})  # a new release
    assert buckets["a"].reads == 2 and server._index_items == 200
