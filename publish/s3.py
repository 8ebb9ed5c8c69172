"""S3-compatible buckets (AWS S3, Cloudflare R2, MinIO) through boto3: the only module that imports it.

Two uses: a tenant's site bucket (``S3Storage``, public, served by a CDN) and the private backup bucket
(``S3Objects``, plain objects by key, never served).

The bucket holds the live site under its own keys, plus ``_tessera/manifest.json``. A publish uploads
only files whose hash changed (nothing is downloaded to compare), new assets before pages, then the
manifest, and deletes stale keys last; a publish killed part-way leaves pages that still link to
assets that exist, and the next publish converges.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from content import jsonio

from .errors import StorageError
from .compress import is_sibling
from .storage import MANIFEST, Change, cache_control, is_page

UPLOAD_THREADS = 8  # boto3 clients are thread-safe; uploads are network-bound
MISSING = ("NoSuchKey", "404", "NoSuchBucket", "NotFound")


_clients: dict[tuple, object] = {}  # one client per endpoint, region and credentials, for the process
_clients_lock = threading.Lock()


def make_client(endpoint_url: str | None = None, region: str | None = None):
    """The process's S3 client for this endpoint and region (boto3 clients are thread-safe, and making
    one costs milliseconds and memory: the edge asks for a site's storage on every request)."""
    key = (endpoint_url, region, *(os.environ.get(name) for name in
                                   ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = boto3.client(
                "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
                config=Config(retries={"max_attempts": 5, "mode": "standard"}))
        return client


def _missing(exc: ClientError) -> bool:
    """A key or bucket that is not there (S3's codes vary by call and by service)."""
    return exc.response.get("Error", {}).get("Code") in MISSING


def ensure_bucket(client, bucket: str) -> None:
    """Create ``bucket`` if it does not exist (private: S3's default)."""
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if not _missing(exc):
            raise StorageError(f"bucket {bucket!r} cannot be reached: {exc}") from None
        client.create_bucket(Bucket=bucket)


class S3Storage:
    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 client=None) -> None:
        self.bucket = bucket
        self.client = client or make_client(endpoint_url, region)
        self.puts = 0
        self.deletes = 0
        self._count = threading.Lock()

    def _ensure_bucket(self) -> None:
        ensure_bucket(self.client, self.bucket)

    def manifest(self) -> dict[str, list]:
        data = self.read(MANIFEST)
        return jsonio.loads(data) if data else {}

    def read(self, path: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=path)["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                return None
            raise StorageError(f"reading {path} from {self.bucket!r} failed: {exc}") from None
        except BotoCoreError as exc:
            raise StorageError(f"reading {path} from {self.bucket!r} failed: {exc}") from None

    def apply(self, change: Change, progress: Callable[[str], None] | None = None) -> None:
        if not change.uploads and not change.deletions and self.manifest() == change.manifest:
            return  # nothing changed: not a single request more
        try:
            self._ensure_bucket()
            # Two phases, each uploaded in parallel: every asset is in place before any page.
            assets = [r for r in change.uploads if not is_page(r)]
            pages = [r for r in change.uploads if is_page(r)]
            with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
                for phase in (assets, pages):
                    for rel in pool.map(lambda rel: self._put(change, rel), phase):
                        if progress:
                            progress(rel)
            for name in ("catalog.json", "redirects.json", "build.json", "manifest.json"):  # manifest last
                source = change.build_dir / "_tessera" / name
                # The bucket's manifest is the change's: the build's plus the precompressed siblings.
                body = change.manifest_bytes() if name == "manifest.json" else \
                    source.read_bytes() if source.exists() else None
                if body is not None:
                    self.client.put_object(Bucket=self.bucket, Key=f"_tessera/{name}", Body=body,
                                           ContentType="application/json", CacheControl="no-store")
                    self.puts += 1
            change.timings["switched"] = time.time()
            for start in range(0, len(change.deletions), 1000):
                batch = change.deletions[start:start + 1000]
                self.client.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
                self.deletes += len(batch)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"publishing to bucket {self.bucket!r} failed: {exc}") from None

    def _put(self, change: Change, rel: str) -> str:
        sha, _, kind = change.manifest[rel]
        extra = {}
        if is_sibling(rel, change.manifest):  # page.html.br: the page's type, and how it is encoded
            extra["ContentEncoding"] = "br" if rel.endswith(".br") else "gzip"
        self.client.put_object(Bucket=self.bucket, Key=rel, Body=change.source(rel).read_bytes(),
                               ContentType=kind, CacheControl=cache_control(rel[:-3] if extra else rel),
                               Metadata={"sha256": sha}, **extra)
        with self._count:
            self.puts += 1
        return rel

    def clean(self) -> None:
        """Nothing to clear: a killed publish leaves only objects that the next publish's diff
        overwrites or deletes (the manifest, written last, still describes the live site)."""

    def remove(self) -> None:
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
            self.client.delete_bucket(Bucket=self.bucket)
        except ClientError:
            pass


class S3Objects:
    """Plain objects by key in one bucket (the private backup store): nothing here is a website.
    A bucket that does not exist yet is created (private, S3's default) at the first write."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 client=None) -> None:
        self.bucket = bucket
        self.client = client or make_client(endpoint_url, region)
        self._ready = False

    def _fail(self, what: str, exc: Exception) -> StorageError:
        return StorageError(f"{what} in bucket {self.bucket!r} failed: {exc} (check TESSERA_BACKUP_STORAGE, "
                            f"the endpoint and the credentials)")

    def _ensure_bucket(self) -> None:
        if not self._ready:
            ensure_bucket(self.client, self.bucket)
            self._ready = True

    @contextmanager
    def _failing(self, what: str):
        """boto3's errors as one StorageError naming what was done (a missing key is the caller's)."""
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(what, exc) from None

    def put_file(self, key: str, path) -> None:
        with self._failing(f"writing {key}"):
            self._ensure_bucket()
            self.client.upload_file(str(path), self.bucket, key)  # multipart past a few MB

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._failing(f"writing {key}"):
            self._ensure_bucket()
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        with self._failing(f"reading {key}"):
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise

    def get_file(self, key: str, path) -> bool:
        with self._failing(f"reading {key}"):
            try:
                self.client.download_file(self.bucket, key, str(path))
                return True
            except ClientError as exc:
                if _missing(exc):
                    return False
                raise

    def keys(self, prefix: str) -> list[str]:
        with self._failing(f"listing {prefix}"):
            try:
                found: list[str] = []
                for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                    found.extend(o["Key"] for o in page.get("Contents", []))
                return found
            except ClientError as exc:
                if _missing(exc):
                    return []
                raise

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def delete(self, keys: list[str]) -> None:
        with self._failing("deleting old backups"):
            for start in range(0, len(keys), 1000):
                batch = keys[start:start + 1000]
                self.client.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
