"""Many tenants' publishes queued at once on a running job runner: none fails, and each tenant's
build and live site are exactly its own clean build."""

from __future__ import annotations

import pytest

import json
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import builder.build
from content.migrations import platform_location
from content.registry import parse_features
from publish.jobs import Queue
from tessera.app import job_runner
from tessera.sites import build_tenant, publish_tenant
from tests.builder.conftest import files
from tests.publish.conftest import EDITOR

# Platform state on both engines: SQLite's platform.db and PostgreSQL.
pytestmark = pytest.mark.usefixtures("platform_engine")


def tenant_with_pages_of_its_own(tenants, n: int, posts: int = 60) -> str:
    slug = f"t{n}"
    shop = n % 2 == 0
    tenants.create(slug, f"Tenant {n}", parse_features("cms,ecommerce" if shop else "cms"),
                   starter="bakery" if shop else "studio")
    tenants.repository(slug).write(
        {f"posts/own-{i}.md": f"---\ntitle: {slug} post {i}\npublished_at: 2025-01-01\n---\nOnly {slug}.\n".encode()
         for i in range(posts)}, EDITOR, "Posts of our own")
    return slug


def served(folder: Path) -> dict[str, bytes]:
    """The site's files in ``folder``; a release's precompressed forms must hold exactly their file."""
    import gzip

    import brotli

    found = {k: v for k, v in files(folder).items() if not k.startswith("_tessera/")}
    for rel in [k for k in found if k.endswith((".br", ".gz")) and k[:-3] in found]:
        packed = found.pop(rel)
        assert (brotli.decompress(packed) if rel.endswith(".br") else gzip.decompress(packed)) == found[rel[:-3]], rel
    return found


def test_publishes_queued_at_once_each_publish_their_own_site(platform, tmp_path, monkeypatch):
    settings, tenants = platform
    slugs = [tenant_with_pages_of_its_own(tenants, n) for n in range(6)]
    expected = {}
    for slug in slugs:  # each tenant's clean build, one after another
        build_tenant(settings, tenants, slug, out_dir=tmp_path / "alone" / slug)
        expected[slug] = files(tmp_path / "alone" / slug)

    # The first two builds meet at their process pools before either forks: the interleaving that
    # used to hand one tenant's pages to the other's workers.
    gate, seen, lock = threading.Barrier(2, timeout=120), [], threading.Lock()

    class GatedPool(ProcessPoolExecutor):
        def __init__(self, *args, **kwargs) -> None:
            with lock:
                seen.append(1)
                first_two = len(seen) <= 2
            if first_two:
                gate.wait()
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(builder.build, "ProcessPoolExecutor", GatedPool)
    queue = Queue(platform_location(settings.data_dir))
    jobs = [queue.enqueue(slug, actor="test") for slug in slugs]
    finished_ids, everything_done = set(), threading.Event()

    def on_finish(job) -> None:
        finished_ids.add(job.id)
        if finished_ids >= {j.id for j in jobs}:
            everything_done.set()

    runner = job_runner(settings, workers=2, poll=0.05, on_finish=on_finish)
    runner.start()
    try:
        assert everything_done.wait(timeout=600)
    finally:
        runner.stop()
    finished = [queue.get(job.id) for job in jobs]
    assert [(j.tenant, j.status) for j in finished] == [(slug, "done") for slug in slugs], \
        [j.log for j in finished if j.status != "done"]
    for slug in slugs:
        assert files(tenants.folder(slug) / "build") == expected[slug], f"{slug}: build differs"
        assert served(settings.data_dir / "buckets" / slug / "current") == served(tmp_path / "alone" / slug)


def test_a_build_folder_whose_manifest_lists_missing_files_publishes_again(platform):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    build = tenants.folder("bakery") / "build"
    manifest = json.loads((build / "_tessera" / "manifest.json").read_text())
    manifest["work/index.html"] = ["0" * 64, 10, "text/html; charset=utf-8"]  # another starter's page
    (build / "_tessera" / "manifest.json").write_text(json.dumps(manifest))
    (build / "about" / "index.html").unlink()
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert deploy.status == "live"
    live = settings.data_dir / "buckets" / "bakery" / "current"
    assert (live / "about" / "index.html").exists() and not (live / "work").exists()
