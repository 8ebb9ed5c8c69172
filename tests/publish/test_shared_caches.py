"""One installation, many tenants from the same starter: each image is decoded and encoded once for
all of them (the shared derivative cache), and what a tenant's build holds is what it would hold
without the shared cache, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

from builder import images
from content.registry import parse_features
from tessera.sites import build_tenant


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def count_encodes(monkeypatch) -> list[Path]:
    encoded: list[Path] = []
    real = images._save
    monkeypatch.setattr(images, "_save", lambda image, path, fmt: encoded.append(path) or real(image, path, fmt))
    return encoded


def test_two_tenants_from_one_starter_encode_each_image_once(platform, monkeypatch):
    settings, tenants = platform
    tenants.create("bakery2", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    encoded = count_encodes(monkeypatch)
    build_tenant(settings, tenants, "bakery")
    first = len(encoded)
    media = [p for p in tenants.repository("bakery").source().paths() if p.startswith("media/") and not p.endswith(".yaml")]
    assert first >= 2 * len(media)  # every image: at least one width, WebP and JPEG
    build_tenant(settings, tenants, "bakery2")
    assert len(encoded) == first  # the second tenant encoded nothing
    one, two = tenants.folder("bakery") / "build", tenants.folder("bakery2") / "build"
    shared = {rel: data for rel, data in files(one).items() if rel.startswith("media/")}
    assert shared == {rel: data for rel, data in files(two).items() if rel.startswith("media/")}
    # and the derivatives are the cache's files, not copies of them
    cached = {p.stat().st_ino for p in (settings.data_dir / "cache" / "images").rglob("*") if p.is_file()}
    assert {(one / rel).stat().st_ino for rel in shared} <= cached


def test_a_build_with_the_shared_cache_is_the_build_without_it(platform, monkeypatch, tmp_path):
    settings, tenants = platform
    build_tenant(settings, tenants, "bakery")
    with_shared = files(tenants.folder("bakery") / "build")
    # the same tenant built again from nothing, its images in a cache of its own
    shutil.rmtree(tenants.folder("bakery") / "build")
    shutil.rmtree(tenants.folder("bakery") / "cache")
    shutil.rmtree(settings.data_dir / "cache")
    from builder import build as buildlib

    real = buildlib.BuildConfig
    monkeypatch.setattr("tessera.sites.BuildConfig", lambda **kw: real(**{**kw, "image_cache": None}))
    build_tenant(settings, tenants, "bakery")
    assert not (settings.data_dir / "cache" / "images").exists()
    assert files(tenants.folder("bakery") / "build") == with_shared


def test_the_shared_cache_may_be_deleted_between_builds(platform):
    settings, tenants = platform
    build_tenant(settings, tenants, "bakery")
    before = files(tenants.folder("bakery") / "build")
    shutil.rmtree(settings.data_dir / "cache" / "images")
    shutil.rmtree(tenants.folder("bakery") / "build")  # a clean build: every image is needed again
    build_tenant(settings, tenants, "bakery")
    assert files(tenants.folder("bakery") / "build") == before
