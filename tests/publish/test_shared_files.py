"""The local bucket and the build folder share files instead of copying them: a blob is a hard link
of the built file (and of the shared image cache's derivative), one inode for all of them; blobs no
kept release lists are still removed, whatever else links to them; across devices, a copy."""

from __future__ import annotations

import errno
import io
import json
import os

from publish import storage as storage_module
from publish.storage import FileStorage
from tessera.sites import publish_tenant
from tests.publish.conftest import EDITOR


def edit(tenants, path: str, words: str) -> None:
    repo = tenants.repository("bakery")
    repo.write({path: repo.read(path) + f"\n{words}\n".encode()}, EDITOR, f"Edit {path}")


def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), "orange").save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_bucket_holds_the_built_files_themselves(platform):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    build = tenants.folder("bakery") / "build"
    live = FileStorage(settings.data_dir / "buckets" / "bakery").current
    built = json.loads((build / "_tessera" / "manifest.json").read_text())
    assert built
    same: dict[str, set[int]] = {}  # content → the inodes of the built files that hold it
    for rel, (sha, _, _) in built.items():
        same.setdefault(sha, set()).add(os.stat(build / rel).st_ino)
    for rel, (sha, _, _) in built.items():  # files of equal bytes (a logo and its own size) share one blob
        assert os.stat(live / rel).st_ino in same[sha], rel
    cache = {p.stat().st_ino for p in (settings.data_dir / "cache" / "images").rglob("*") if p.is_file()}
    media = [rel for rel in built if rel.startswith("media/")]
    assert media and {os.stat(live / rel).st_ino for rel in media} <= cache


def test_blobs_no_release_lists_go_though_the_build_folder_links_them(platform):
    settings, tenants = platform
    bucket = FileStorage(settings.data_dir / "buckets" / "bakery")
    repo = tenants.repository("bakery")
    repo.write({"media/extra.jpg": jpeg()}, EDITOR, "An image for a while")
    publish_tenant(settings, tenants, "bakery", actor="test")
    repo.write({"media/extra.jpg": None}, EDITOR, "Not that image after all")
    for n in range(4):  # past three releases: the oldest are recycled, their old files let go
        edit(tenants, "pages/about.md", f"Edit number {n}.")
        publish_tenant(settings, tenants, "bakery", actor="test")
    listed = set()
    for release in (bucket.root / "releases").iterdir():
        listed |= {entry[0] for entry in json.loads((release / "_tessera" / "manifest.json").read_text()).values()}
    blobs = {p.name for p in (bucket.root / "blobs").glob("*/*")}
    assert blobs == listed
    # the removed image's derivatives are still in the shared cache, but not in the bucket
    assert not [rel for release in (bucket.root / "releases").iterdir() for rel in release.rglob("extra*")]


def test_across_devices_the_bucket_copies(platform, monkeypatch):
    settings, tenants = platform

    def cross_device(source, target, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    real = os.link
    monkeypatch.setattr(storage_module.os, "link",
                        lambda s, t, *a, **k: cross_device(s, t) if "/blobs/" in str(t) else real(s, t, *a, **k))
    publish_tenant(settings, tenants, "bakery", actor="test")
    build = tenants.folder("bakery") / "build"
    live = FileStorage(settings.data_dir / "buckets" / "bakery").current
    index = "index.html"
    assert (live / index).read_bytes() == (build / index).read_bytes()
    assert os.stat(live / index).st_ino != os.stat(build / index).st_ino
    assert not list((settings.data_dir / "buckets" / "bakery" / "blobs").glob("*/.*"))  # no temporary left
