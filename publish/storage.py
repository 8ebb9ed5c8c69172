"""Buckets: where a tenant's published site lives. A scheme map picks the backend.

    file://            a folder per tenant under the data directory (default; atomic switch)
    s3://NAME-{tenant} one bucket per tenant on S3-compatible storage (see publish/s3.py)

A backend knows the live manifest (path → sha256, size, type) and applies a ``Change``: upload these
files, delete those, then record the new manifest. Callers never care which backend it is.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from content import jsonio

from .errors import StorageError

MANIFEST = "_tessera/manifest.json"
DELTA = "_tessera/delta.json"  # a local release's manifest as changes to the release live before it
KEEP = 3  # releases kept: the live one, and two that requests in flight may still be reading
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
    manifest: dict[str, list]  # the new site's manifest, with its precompressed siblings
    uploads: list[str] = field(default_factory=list)  # in upload order: assets, then pages
    deletions: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # files not in build_dir (siblings) by path
    # Filled in by the backend: seconds per stage, and ``switched``, the moment the site changed.
    timings: dict[str, float] = field(default_factory=dict)

    def source(self, rel: str) -> Path:
        """Where the bytes of ``rel`` are read from."""
        return self.files.get(rel) or self.build_dir / rel

    def manifest_bytes(self) -> bytes:
        return jsonio.dumps(self.manifest)


class Storage(Protocol):
    def manifest(self) -> dict[str, list]: ...
    def apply(self, change: Change, progress: Callable[[str], None] | None = None) -> None: ...
    def read(self, path: str) -> bytes | None: ...
    def clean(self) -> None: ...  # clear what a killed publish left; only while none runs
    def remove(self) -> None: ...


def is_page(path: str) -> bool:
    """A page (or its compressed form), as opposed to an asset pages link to."""
    path = path[:-3] if path.endswith((".br", ".gz")) else path
    return path.endswith((".html", ".xml", ".txt")) or path == "_redirects"


def upload_order(paths: list[str]) -> list[str]:
    """Assets first, pages after: a page never goes live before the files it links to."""
    return sorted(paths, key=lambda p: (is_page(p), p))


class FileStorage:
    """A local bucket: content-addressed blobs, one folder of hard links per release, and a
    ``current`` symlink switched atomically. A killed publish leaves ``current`` where it was.

    A release that changes k files costs O(k) links once three releases exist: the oldest is
    recycled into the new one and patched (see ``_assemble``)."""

    def __init__(self, root: Path, parsed: dict[str, dict] | None = None) -> None:
        self.root = Path(root)
        # Parsed manifests by release folder name, kept by the caller between publishes (a worker's
        # memory of the site). A release's manifest never changes once written (a recycled release
        # gets a new name), so each is parsed once: a 10,000-page site's costs ~70 ms a read.
        # Returned manifests are shared: read them, never change them.
        self.parsed = parsed

    @property
    def current(self) -> Path:
        return self.root / "current"

    def manifest(self) -> dict[str, list]:
        try:
            return self._manifest_of(self.current.resolve(strict=True))
        except (FileNotFoundError, jsonio.JSONDecodeError):
            return {}

    def _manifest_of(self, release: Path) -> dict[str, list]:
        """``release``'s manifest (FileNotFoundError or JSONDecodeError when it has none)."""
        if self.parsed is not None and release.name in self.parsed:
            return self.parsed[release.name]
        manifest = jsonio.loads((release / MANIFEST).read_bytes())
        if self.parsed is not None:
            self.parsed[release.name] = manifest
        return manifest

    def delta(self, release: Path) -> tuple[str, dict[str, list], list[str]] | None:
        """What ``release`` changed of the release live before it: (that release's name, entries set,
        paths removed); None when it has no record of it. The edge turns the manifest it holds into
        the new one with it, in time proportional to the change."""
        try:
            data = jsonio.loads((release / DELTA).read_bytes())
            return data["from"], data["set"], data["removed"]
        except (FileNotFoundError, jsonio.JSONDecodeError, KeyError, TypeError):
            return None

    def read(self, path: str) -> bytes | None:
        try:
            return (self.current / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def apply(self, change: Change, progress: Callable[[str], None] | None = None) -> None:
        if not change.uploads and not change.deletions and self.current.exists():
            meta = self.current / "_tessera"
            if (meta / "manifest.json").exists() and (meta / "manifest.json").read_bytes() == change.manifest_bytes() \
                    and all((meta / n).exists() and (change.build_dir / "_tessera" / n).read_bytes() == (meta / n).read_bytes()
                            for n in ("catalog.json", "redirects.json")):
                return  # nothing changed: the live release stays as it is
        mark = time.perf_counter()
        blobs = self.root / "blobs"
        releases = self.root / "releases"
        blobs.mkdir(parents=True, exist_ok=True)
        releases.mkdir(parents=True, exist_ok=True)
        for rel in change.uploads:  # only changed files enter the bucket
            sha = change.manifest[rel][0]
            blob = blobs / sha[:2] / sha
            if not blob.exists():
                blob.parent.mkdir(exist_ok=True)
                _share(change.source(rel), blob)
            if progress:
                progress(rel)
        change.timings["upload"] = time.perf_counter() - mark
        mark = time.perf_counter()
        try:
            before: Path | None = self.current.resolve(strict=True)
            live = self._manifest_of(before)
        except (FileNotFoundError, jsonio.JSONDecodeError):
            before, live = None, {}
        release = releases / f"{time.time_ns()}"
        unlinked = self._assemble(release, change.manifest)
        meta = release / "_tessera"
        meta.mkdir(parents=True, exist_ok=True)
        for name in ("catalog.json", "redirects.json", "build.json"):
            source = change.build_dir / "_tessera" / name
            if source.exists():
                shutil.copyfile(source, meta / name)
        if before is not None:
            new = change.manifest
            (release / DELTA).write_bytes(jsonio.dumps({
                "from": before.name, "set": {rel: entry for rel, entry in new.items() if live.get(rel) != entry},
                "removed": [rel for rel in live if rel not in new]}))
        else:
            (release / DELTA).unlink(missing_ok=True)  # a recycled release's, from another time
        tmp = meta / f".manifest.{os.getpid()}"
        tmp.write_bytes(change.manifest_bytes())  # written last: it says what the release holds
        os.replace(tmp, meta / "manifest.json")
        if self.parsed is not None:
            self.parsed[release.name] = change.manifest
        change.timings["release"] = time.perf_counter() - mark
        link = self.root / f".current.{os.getpid()}"
        if link.is_symlink():
            link.unlink()
        os.symlink(release.relative_to(self.root), link)
        os.replace(link, self.current)  # the atomic switch
        change.timings["switched"] = time.time()
        mark = time.perf_counter()
        self._prune(releases, keep=release, candidates=unlinked)
        change.timings["prune"] = time.perf_counter() - mark

    def _assemble(self, release: Path, manifest: dict[str, list]) -> set[str] | None:
        """Make ``release`` a folder of links to ``manifest``'s blobs, in time proportional to what changed.

        Once three releases exist, the oldest (never the live one: requests read through ``current``)
        is renamed to the new release and patched: only paths whose content differs from what it
        held are unlinked and linked again. Returns the blobs it unlinked (candidates for pruning), or
        None when it linked a whole new folder."""
        previous = self._recyclable(release.parent)
        held: dict[str, list] | None = None
        if previous is not None:
            try:
                held = self._manifest_of(previous)
            except (FileNotFoundError, jsonio.JSONDecodeError):
                shutil.rmtree(previous, ignore_errors=True)  # not a whole release: start a new one
            else:
                os.rename(previous, release)
                if self.parsed is not None:
                    self.parsed.pop(previous.name, None)  # newer than the live one: a killed publish's is cleaned
        if held is None:
            for rel, (sha, _, _) in manifest.items():
                self._link(release, rel, sha)
            return None
        unlinked: set[str] = set()
        for rel, entry in held.items():
            if manifest.get(rel, [None])[0] != entry[0]:
                (release / rel).unlink(missing_ok=True)
                unlinked.add(entry[0])
                if rel not in manifest:
                    _remove_empty_parents(release / rel, release)
        for rel, entry in manifest.items():
            if held.get(rel, [None])[0] != entry[0]:
                self._link(release, rel, entry[0])
        return unlinked

    def _link(self, release: Path, rel: str, sha: str) -> None:
        target = release / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(self.root / "blobs" / sha[:2] / sha, target)

    def _recyclable(self, releases: Path) -> Path | None:
        """The oldest release when three are kept already and it is not live; else None."""
        kept = sorted((p for p in releases.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        live = self.current.resolve() if self.current.exists() else None
        if len(kept) < KEEP or kept[0].resolve() == live:
            return None
        return kept[0]

    def _prune(self, releases: Path, keep: Path, candidates: set[str] | None) -> None:
        """Keep the three newest releases (requests in flight may still read the previous one),
        then drop blobs that no kept release lists any more: of the ``candidates`` a patched release
        let go of, or of all blobs when a release was made or removed whole. Which blobs are in use
        is read from the kept releases' manifests, not from link counts: a blob is also linked from
        the build folder it came from and from the shared image cache."""
        removed = False
        kept = sorted((p for p in releases.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        for old in kept[:-KEEP]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)
                removed = True
        in_use: set[str] = set()
        if self.parsed is not None:  # only the kept releases' manifests are worth remembering
            for name in set(self.parsed) - {p.name for p in kept[-KEEP:]}:
                del self.parsed[name]
        for release in kept[-KEEP:]:
            try:
                in_use.update(entry[0] for entry in self._manifest_of(release).values())
            except (FileNotFoundError, jsonio.JSONDecodeError):
                return  # a release without its manifest: keep every blob rather than guess
        blobs = self.root / "blobs"
        if candidates is not None and not removed:
            paths = [blobs / sha[:2] / sha for sha in candidates - in_use]
        else:
            paths = [blob for folder in blobs.iterdir() for blob in folder.iterdir()
                     if not blob.name.startswith(".") and blob.name not in in_use]
        for blob in paths:
            blob.unlink(missing_ok=True)

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


def _share(source: Path, blob: Path) -> None:
    """Put ``source``'s bytes in the bucket as ``blob``: a hard link of the same file where the file
    system allows (the build folder and the bucket then hold one copy, and one inode, between them;
    both only ever replace files, never write into one), else a copy renamed into place."""
    try:
        os.link(source, blob)
        return
    except FileExistsError:
        return  # the same content, already there
    except OSError:  # another device, or a file system without hard links
        pass
    tmp = blob.with_name(f".{blob.name}.{os.getpid()}")
    shutil.copyfile(source, tmp)
    os.replace(tmp, blob)


def _remove_empty_parents(path: Path, root: Path) -> None:
    for parent in path.parents:
        if parent == root:
            return
        try:
            parent.rmdir()
        except OSError:  # not empty
            return


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
