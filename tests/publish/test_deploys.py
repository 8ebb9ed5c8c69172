"""Publishing to a local bucket: diff uploads, atomic switch, convergence after a kill, rollback."""

from __future__ import annotations

import json

import pytest

from publish import storage as storage_module
from publish.storage import DELTA, FileStorage
from tessera.sites import deploys, publish_tenant, rollback_tenant, storage
from tests.publish.conftest import EDITOR


def live_files(settings, slug) -> dict[str, bytes]:
    """The live release's files, without its record of what it changed of the one before it
    (``_tessera/delta.json``: a rollback's differs from the release it restores)."""
    root = FileStorage(settings.data_dir / "buckets" / slug).current
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() != DELTA}


def test_first_publish_uploads_everything_then_nothing(platform):
    settings, tenants = platform
    _, first = publish_tenant(settings, tenants, "bakery", actor="test")
    assert first.status == "live" and first.uploaded == first.files > 100
    _, second = publish_tenant(settings, tenants, "bakery", actor="test")
    assert (second.uploaded, second.deleted) == (0, 0)
    assert [d.status for d in deploys(tenants, "bakery")] == ["live", "superseded"]
    assert live_files(settings, "bakery")["products/croissants/index.html"].count(b"Butter Croissants") >= 2


def test_one_edit_uploads_the_page_and_the_pages_that_list_it(platform):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    repo = tenants.repository("bakery")
    text = repo.read("posts/rye-season.md").decode().replace("Kelso", "Kelso, as every year")
    repo.write({"posts/rye-season.md": text.encode()}, EDITOR, "Edit a post")
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert 1 <= deploy.uploaded <= 8, deploy
    assert b"as every year" in live_files(settings, "bakery")["blog/rye-season/index.html"]


def test_deleted_page_is_removed_last_and_the_catalog_follows(platform):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    repo = tenants.repository("bakery")
    repo.write({"products/brioche.md": None}, EDITOR, "Drop brioche")
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert deploy.deleted >= 1
    assert "products/brioche/index.html" not in live_files(settings, "bakery")
    conn = tenants.open_db("bakery")
    assert conn.execute("SELECT count(*) FROM catalog_variants WHERE sku = 'BR-500'").fetchone()[0] == 0


def test_killed_publish_leaves_the_live_site_and_the_next_converges(platform, monkeypatch):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    before = live_files(settings, "bakery")
    repo = tenants.repository("bakery")
    repo.write({"pages/about.md": repo.read("pages/about.md") + b"\nNew paragraph.\n"}, EDITOR, "Edit")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(storage_module.os, "symlink", killed)
    with pytest.raises(KeyboardInterrupt):
        publish_tenant(settings, tenants, "bakery", actor="test")
    monkeypatch.undo()
    assert live_files(settings, "bakery") == before
    assert deploys(tenants, "bakery")[0].status == "failed"
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert deploy.status == "live" and b"New paragraph." in live_files(settings, "bakery")["about/index.html"]


def test_rollback_restores_pages_and_catalog_together(platform):
    settings, tenants = platform
    _, first = publish_tenant(settings, tenants, "bakery", actor="test")
    original = live_files(settings, "bakery")
    repo = tenants.repository("bakery")
    text = repo.read("products/dark-rye.md").decode().replace('price: "7.20"', 'price: "9.90"')
    repo.write({"products/dark-rye.md": text.encode()}, EDITOR, "Raise the rye price")
    publish_tenant(settings, tenants, "bakery", actor="test")
    conn = tenants.open_db("bakery")
    price = lambda: conn.execute("SELECT price FROM catalog_variants WHERE sku = 'DR-1000'").fetchone()[0]
    assert price() == 990
    _, rolled = rollback_tenant(settings, tenants, "bakery", actor="test")
    assert rolled.rollback_of == first.id and rolled.commit == first.commit
    assert price() == 720
    assert live_files(settings, "bakery") == original


def test_rollback_without_history_is_a_clear_error(platform):
    from publish.errors import DeployNotFound

    settings, tenants = platform
    publish_tenant(settings, tenants, "studio", actor="test")
    with pytest.raises(DeployNotFound, match="no earlier deploy"):
        rollback_tenant(settings, tenants, "studio", actor="test")


def test_cache_headers_by_kind():
    assert storage_module.cache_control("assets/site.0123456789.css") == storage_module.IMMUTABLE
    assert storage_module.cache_control("media/rye-480.abcdef0123.webp") == storage_module.IMMUTABLE
    assert storage_module.cache_control("index.html") == storage_module.REVALIDATE
    assert storage_module.cache_control("media/rye.jpg") == storage_module.REVALIDATE
