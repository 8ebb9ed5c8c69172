"""Buckets: where a tenant's published site lives. A scheme map picks the backend.

    file://            a folder per tenant under the data directory (default; atomic switch)
    s3://NAME-{tenant} one bucket per tenant on S3-compatible storage (see publish/s3.py)

A backend knows the live manifest (path → sha256, size, type) and applies a ``Change``: upload these
files, delete those, then record the new manifest. Callers never care which backend it is.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from .errors import StorageError

MANIFEST = "_tessera/manifest.json"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"


def cache_control(path: str) -> str:
    """Fingerprinted assets are cached for a year; everything else is revalidated."""
    name = path.rsplit("/", 1)[-1]
    fingerprinted = path.startswith(("assets/", "media/")) and name.count(".") >= 2
    return IMMUTABLE if fingerprinted else REVALIDATE


@dataclass
class Change:
    build_dir: Path
    manifest: dict[str, list]  # the new site's manifest
    uploads: list[str] = field(default_factory=list)  # in upload order: assets, then pages
    deletions: list[str] = field(default_factory=list)


class Storage(Protocol):
    def manifest(self) -> dict[str, list]: ...
    def apply(self, change: Change, progress: Callable[[str], None] | None = None) -> None: ...
    def read(self, path: str) -> bytes | None: ...
    def clean(self) -> None: ...  # clear what a killed publish left; only while none runs
    def remove(self) -> None: ...


def upload_order(paths: list[str]) -> list[str]:
    """Assets first, pages after: a page never goes live before the files it links to."""
    return sorted(paths, key=lambda p: (p.endswith((".html", ".xml", ".txt")) or p == "_redirects", p))


class FileStorage:
    """A local bucket: content-addressed blobs, one folder of hard links per release, and a
    ``current`` symlink switched atomically. A killed publish leaves ``current`` where it was."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def current(self) -> Path:
        return self.root / "current"

    def manifest(self) -> dict[str, list]:
        try:
            return json.loads((self.current / MANIFEST).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def read(self, path: str) -> bytes | None:
        try:
            return (self.current / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def apply(self, change: Change, progress: Callable[[str], None] | None = None) -> None:
        if not change.uploads and not change.deletions and self.current.exists():
            meta = self.current / "_tessera"
            if all((meta / n).exists() and (change.build_dir / "_tessera" / n).read_bytes() == (meta / n).read_bytes()
                   for n in ("manifest.json", "catalog.json", "redirects.json")):
                return  # nothing changed: the live release stays as it is
        blobs = self.root / "blobs"
        releases = self.root / "releases"
        blobs.mkdir(parents=True, exist_ok=True)
        releases.mkdir(parents=True, exist_ok=True)
        for rel in change.uploads:  # only changed files are copied into the bucket
            sha = change.manifest[rel][0]
            blob = blobs / sha[:2] / sha
            if not blob.exists():
                blob.parent.mkdir(exist_ok=True)
                tmp = blob.with_name(f".{sha}.{os.getpid()}")
                shutil.copyfile(change.build_dir / rel, tmp)
                os.replace(tmp, blob)
            if progress:
                progress(rel)
        release = releases / f"{time.time_ns()}"
        for rel, (sha, _, _) in change.manifest.items():
            target = release / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(blobs / sha[:2] / sha, target)
        meta = release / "_tessera"
        meta.mkdir(parents=True, exist_ok=True)
        for name in ("manifest.json", "catalog.json", "redirects.json", "build.json"):
            source = change.build_dir / "_tessera" / name
            if source.exists():
                shutil.copyfile(source, meta / name)
        link = self.root / f".current.{os.getpid()}"
        if link.is_symlink():
            link.unlink()
        os.symlink(release.relative_to(self.root), link)
        os.replace(link, self.current)  # the atomic switch
        self._prune(releases, keep=release)

    def _prune(self, releases: Path, keep: Path) -> None:
        """Keep the three newest releases (requests in flight may still read the previous one),
        then drop blobs that no release links to any more."""
        for old in sorted(releases.iterdir(), key=lambda p: int(p.name))[:-3]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)
        for folder in (self.root / "blobs").iterdir():
            for blob in folder.iterdir():
                if blob.stat().st_nlink == 1 and not blob.name.startswith("."):
                    blob.unlink()

    def clean(self) -> None:
        """Remove what a killed publish left: temporary blobs and links, and the release it was
        assembling (any release newer than the live one never went live)."""
        for link in self.root.glob(".current.*"):
            link.unlink(missing_ok=True)
        for temporary in self.root.glob("blobs/*/.*"):
            temporary.unlink(missing_ok=True)
        live = os.readlink(self.current) if self.current.is_symlink() else None
        live_id = int(Path(live).name) if live else -1
        releases = self.root / "releases"
        for release in releases.iterdir() if releases.is_dir() else ():
            if not release.name.isdigit() or int(release.name) > live_id:
                shutil.rmtree(release, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def open_storage(spec: str, tenant: str, data_dir: Path, endpoint_url: str | None = None,
                 region: str | None = None) -> Storage:
    """``file://`` or ``s3://bucket-{tenant}``; the tenant's own bucket either way."""
    if spec.startswith("file://"):
        base = spec[len("file://"):] or str(data_dir / "buckets")
        return FileStorage(Path(base) / tenant)
    if spec.startswith("s3://"):
        from .s3 import S3Storage  # only that module imports boto3

        name = spec[len("s3://"):].format(tenant=tenant)
        if "{" in name or not name:
            raise StorageError(f"TESSERA_STORAGE {spec!r} must name a bucket, e.g. s3://sites-{{tenant}}")
        return S3Storage(name, endpoint_url=endpoint_url, region=region)
    raise StorageError(f"unknown storage {spec!r}; use file:// or s3://bucket-{{tenant}}")
