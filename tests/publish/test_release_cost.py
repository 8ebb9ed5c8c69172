"""A release costs what changed, not the size of the site; text files go out precompressed."""

from __future__ import annotations

import gzip
import json
import os

import brotli

from publish import storage as storage_module
from publish.edge import Edge
from publish.storage import FileStorage
from tessera.sites import publish_tenant, rollback_tenant, storage
from tests.publish.conftest import EDITOR


def edit(tenants, path: str, words: str) -> None:
    repo = tenants.repository("bakery")
    repo.write({path: repo.read(path) + f"\n{words}\n".encode()}, EDITOR, f"Edit {path}")


def count_links(monkeypatch) -> list[str]:
    made: list[str] = []
    original = os.link

    def counting(source, target, *args, **kwargs):
        made.append(str(target))
        return original(source, target, *args, **kwargs)

    monkeypatch.setattr(storage_module.os, "link", counting)
    return made


def release_manifest(release) -> dict:
    return json.loads((release / "_tessera" / "manifest.json").read_text())


def test_a_one_page_edit_links_only_what_changed(platform, monkeypatch):
    settings, tenants = platform
    bucket = FileStorage(settings.data_dir / "buckets" / "bakery")
    publish_tenant(settings, tenants, "bakery", actor="test")
    for n in range(2):  # three releases: from now on the oldest is recycled into the next one
        edit(tenants, "pages/about.md", f"Edit number {n}.")
        publish_tenant(settings, tenants, "bakery", actor="test")
    releases = sorted(bucket.root.glob("releases/*"), key=lambda p: int(p.name))
    assert len(releases) == 3
    oldest = release_manifest(releases[0])
    links = count_links(monkeypatch)
    edit(tenants, "pages/delivery.md", "We now deliver on Saturdays.")
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    live = bucket.manifest()
    # Linked again: only the paths whose content differs from the recycled release's (this edit's
    # and the two before it), never the whole site.
    differing = {p for p, entry in live.items() if oldest.get(p, [None])[0] != entry[0]}
    # (Blobs entering the bucket are links too, of the built files: only the release's are counted here.)
    release_links = [link for link in links if "/releases/" in link]
    assert sorted(release_links) == sorted(str(bucket.current.resolve() / p) for p in differing)
    assert 0 < len(release_links) <= 30 < deploy.files
    # The release is exactly the manifest, byte for byte, and holds nothing else.
    root = bucket.current
    files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not str(p.relative_to(root)).startswith("_tessera/")}
    assert files == set(live)
    for rel in ("delivery/index.html", "about/index.html", "index.html"):
        assert (root / rel).stat().st_ino == (bucket.root / "blobs" / live[rel][0][:2] / live[rel][0]).stat().st_ino
    assert b"Saturdays" in bucket.read("delivery/index.html")
    assert len(list(bucket.root.glob("releases/*"))) == 3
    # Pruning still drops every blob that no release links to.
    assert all(blob.stat().st_nlink > 1 for blob in bucket.root.glob("blobs/*/*"))


def test_recycling_survives_deleted_pages_and_rollback(platform):
    settings, tenants = platform
    bucket = FileStorage(settings.data_dir / "buckets" / "bakery")
    publish_tenant(settings, tenants, "bakery", actor="test")
    first = bucket.manifest()
    for n in range(3):
        edit(tenants, "pages/about.md", f"Edit number {n}.")
        publish_tenant(settings, tenants, "bakery", actor="test")
    repo = tenants.repository("bakery")
    repo.write({"products/brioche.md": None}, EDITOR, "Drop brioche")
    publish_tenant(settings, tenants, "bakery", actor="test")
    assert bucket.read("products/brioche/index.html") is None
    assert not (bucket.current / "products" / "brioche").exists()  # no empty folders left behind
    from tessera.sites import deploys

    _, back = rollback_tenant(settings, tenants, "bakery", actor="test", deploy_id=deploys(tenants, "bakery")[-1].id)
    assert back.status == "live" and bucket.manifest() == first
    root = bucket.current
    for rel, (sha, size, _) in first.items():
        assert (root / rel).stat().st_size == size, rel


def served(settings, tenants, path: str, encoding: str) -> tuple[int, bytes, dict]:
    edge = Edge(lambda: tenants.registry, lambda slug: storage(settings, slug), "localhost")
    return edge.respond("GET", path, "bakery.localhost", {"accept-encoding": encoding})


def test_the_edge_serves_precompressed_pages_and_a_rollback_serves_the_old_ones(platform):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    status, plain, headers = served(settings, tenants, "/delivery/", "")
    assert status == 200 and "content-encoding" not in headers
    status, body, headers = served(settings, tenants, "/delivery/", "gzip, deflate, br")
    assert status == 200 and headers["content-encoding"] == "br" and headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "text/html; charset=utf-8" and len(body) < len(plain)
    assert brotli.decompress(body) == plain
    status, body, headers = served(settings, tenants, "/delivery/", "gzip")
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body) == plain
    # The compressed forms are no pages of their own.
    assert served(settings, tenants, "/delivery/index.html.br", "")[0] == 404

    edit(tenants, "pages/delivery.md", "We now deliver on Saturdays.")
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert 1 <= deploy.uploaded <= 8  # people are told of the site's files, not of their compressed forms
    _, body, headers = served(settings, tenants, "/delivery/", "br")
    assert headers["content-encoding"] == "br" and b"Saturdays" in brotli.decompress(body)

    rollback_tenant(settings, tenants, "bakery", actor="test")
    _, body, headers = served(settings, tenants, "/delivery/", "br")
    assert brotli.decompress(body) == plain
    _, body, _ = served(settings, tenants, "/delivery/", "gzip")
    assert gzip.decompress(body) == plain


def test_compressed_forms_are_made_once_per_content(platform, monkeypatch):
    from publish import compress

    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    compressed: list[int] = []
    original = compress.brotli.compress
    monkeypatch.setattr(compress.brotli, "compress", lambda data, **kw: compressed.append(len(data)) or original(data, **kw))
    edit(tenants, "pages/delivery.md", "We now deliver on Saturdays.")
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert 1 <= len(compressed) <= deploy.uploaded  # only the changed text files, not the site
    manifest = storage(settings, "bakery").manifest()
    # Only text, and only where it is smaller.
    assert not any(p.startswith("media/") and p.endswith((".br", ".gz")) for p in manifest)
    for rel, (_, size, _) in manifest.items():
        if rel.endswith((".br", ".gz")) and rel[:-3] in manifest:
            assert size < manifest[rel[:-3]][1], rel


def test_each_encoding_has_its_own_etag(platform):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    edge = Edge(lambda: tenants.registry, lambda slug: storage(settings, slug), "localhost")
    _, _, plain = edge.respond("GET", "/delivery/", "bakery.localhost", {"accept-encoding": ""})
    _, _, br = edge.respond("GET", "/delivery/", "bakery.localhost", {"accept-encoding": "br"})
    _, _, gz = edge.respond("GET", "/delivery/", "bakery.localhost", {"accept-encoding": "gzip"})
    assert len({plain["etag"], br["etag"], gz["etag"]}) == 3
    # A revalidation is answered 304 only for the representation the tag names.
    assert edge.respond("GET", "/delivery/", "bakery.localhost",
                        {"accept-encoding": "br", "if-none-match": br["etag"]})[0] == 304
    assert edge.respond("GET", "/delivery/", "bakery.localhost",
                        {"accept-encoding": "", "if-none-match": br["etag"]})[0] == 200


def test_the_edge_keeps_manifests_within_its_bound(platform, monkeypatch):
    import publish.edge as edge_module

    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    edge = Edge(lambda: tenants.registry, lambda slug: storage(settings, slug), "localhost")
    entries = len(storage(settings, "bakery").manifest())
    monkeypatch.setattr(edge_module, "MAX_MANIFEST_ENTRIES", entries)  # room for one site's manifest
    assert edge.respond("GET", "/delivery/", "bakery.localhost", {})[0] == 200
    assert list(edge._manifests) == ["bakery"] and edge._entries == entries
    # Another site's manifest pushes the least recently served one out; serving it again reads it back.
    edge._site("other", FakeStorage({"index.html": ["0" * 64, 10, "text/html"]}))
    assert list(edge._manifests) == ["other"] and edge._entries == 1
    assert edge.respond("GET", "/delivery/", "bakery.localhost", {})[0] == 200
    assert list(edge._manifests) == ["bakery"]


class FakeStorage:
    """A remote bucket's manifest (the edge re-reads those every few seconds)."""

    def __init__(self, manifest: dict) -> None:
        self._manifest = manifest

    def manifest(self) -> dict:
        return self._manifest

    def read(self, path: str) -> bytes | None:
        return None


def test_a_worker_parses_each_release_manifest_once_and_publishes_the_same_bucket(platform, monkeypatch):
    """With a worker's memory, a publish reads no manifest back: not the build's (the builder hands it
    over) nor the bucket's releases (remembered by name; a recycled release gets a new name)."""
    from content import jsonio
    from tessera.sites import BuildMemory

    settings, tenants = platform
    memory = BuildMemory()
    parsed: list[str] = []
    real = jsonio.loads

    def counting(data):
        result = real(data)
        if isinstance(result, dict) and "index.html" in result:
            parsed.append("manifest")
        return result

    for module in ("publish.storage", "publish.deploy"):
        monkeypatch.setattr(f"{module}.jsonio.loads", counting)
    publish_tenant(settings, tenants, "bakery", actor="test", memory=memory)
    for n in range(4):  # past three releases: the oldest is recycled into the new one each time
        edit(tenants, "pages/about.md", f"Edit number {n}.")
        parsed.clear()
        _, deploy = publish_tenant(settings, tenants, "bakery", actor="test", memory=memory)
        assert deploy.status == "live" and parsed == [], n
    bucket = storage(settings, "bakery")
    releases = sorted((bucket.root / "releases").iterdir(), key=lambda p: int(p.name))
    assert set(memory.of("bakery")["releases"]) == {r.name for r in releases[-3:]}
    live = bucket.current.resolve()
    for rel, (sha, size, _) in release_manifest(live).items():  # what is live is what the manifest says
        assert (live / rel).stat().st_size == size, rel
    assert b"Edit number 3." in (live / "about" / "index.html").read_bytes()
    assert memory.of("bakery")["releases"][live.name] == release_manifest(live)


def test_the_admin_starts_from_the_parse_cache_the_last_build_saved(platform, monkeypatch):
    """After a restart the admin's first save parses no file the last build parsed: its cache starts
    from the build's on disk (same keys), so a 10,000-page site's first save is not a cold parse."""
    from commerce_api.admin.common import _with_history
    from commerce_api.services import Services
    from content import parse as parse_module
    from tessera.app import api_config

    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    services = Services.build(api_config(settings))
    parsed: list[str] = []
    real = parse_module._parse_item
    monkeypatch.setattr(parse_module, "_parse_item", lambda source, path, *rest: parsed.append(path) or real(source, path, *rest))
    source = tenants.repository("bakery").source()
    try:
        _with_history(source, services.git_history("bakery"))
        content = parse_module.parse_site(source, cache=services.parse_cache("bakery"))
    finally:
        source.close()
    assert parsed == [] and len(content.posts) >= 3 and len(content.products) >= 5
    assert content.posts[0].body.strip()  # bodies are read from the build's cache when asked
    edit(tenants, "pages/about.md", "A new line.")  # a changed file is parsed again, the rest is not
    source = tenants.repository("bakery").source()
    try:
        _with_history(source, services.git_history("bakery"))
        parse_module.parse_site(source, cache=services.parse_cache("bakery"))
    finally:
        source.close()
    assert parsed == ["pages/about.md"]
    (settings.data_dir / "tenants" / "bakery" / "cache" / "build" / "parse.pickle").write_bytes(b"not a pickle")
    assert Services.build(api_config(settings)).parse_cache("bakery") == {}  # unreadable: a cold parse
