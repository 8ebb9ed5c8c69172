"""Backups of each tenant's ``tenant.db`` (orders, customers, stock, payments): consistent snapshots
taken with SQLite's backup API while checkouts write, gzipped into a private store; listing,
retention, and restore to a moment. Content needs none: it is versioned in the tenant's git repository.

    file://          <data>/backups/<slug>/<stamp>.db.gz, with <stamp>.json beside it
    file:///PATH     PATH/<slug>/...
    s3://NAME        one private bucket (``{tenant}`` allowed in NAME): keys <slug>/<stamp>.db.gz and .json

``<stamp>`` is the UTC moment, sortable: ``20261201T031500Z``. The JSON sidecar (sha256, sizes, schema,
reason) is written after the data: a backup without one is incomplete, never listed nor restored.
The store must never be a site's bucket, which is a public website (the settings refuse it).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Protocol

from content.errors import TenantNotFound
from content.migrations import connect
from content.schema import TENANT

from .errors import BackupError, BackupNotFound, CorruptBackup, NewerSchema, StorageError
from .jobs import spread

STAMP = "%Y%m%dT%H%M%SZ"
_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
WEEKS = 8  # past the daily window, the newest backup of each week is kept this many weeks
CHUNK = 1 << 20


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP).replace(tzinfo=timezone.utc)


def words(moment: datetime) -> str:
    """As people read a backup's time: 2026-12-01 03:15:00 UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Backup:
    slug: str
    stamp: str
    sha256: str  # of the database file, before compression
    size: int  # bytes of the database
    stored: int  # bytes in the store (gzipped)
    schema: str  # the latest tenant migration the database has
    reason: str  # scheduled, manual, before-restore, export, import

    @property
    def taken_at(self) -> datetime:
        return parse_stamp(self.stamp)

    @property
    def key(self) -> str:
        return f"{self.slug}/{self.stamp}.db.gz"

    @property
    def meta_key(self) -> str:
        return f"{self.slug}/{self.stamp}.json"

    def record(self) -> dict:
        return {"time": self.taken_at.isoformat(), **asdict(self)}


@dataclass(frozen=True)
class Taken:
    backup: Backup
    new: bool  # False: the database had not changed since the newest backup, which stands for it
    where: str
    pruned: list[str] = field(default_factory=list)  # stamps removed by retention


@dataclass(frozen=True)
class Restored:
    backup: Backup
    before: Taken  # the live database as it was, kept first
    migrated: list[str]  # migrations applied to bring the backup up to this schema


class BackupStore(Protocol):
    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def get_file(self, key: str, path: Path) -> bool: ...
    def keys(self, prefix: str) -> list[str]: ...
    def delete(self, keys: list[str]) -> None: ...
    def where(self, key: str) -> str: ...


class FileBackupStore:
    """Backups in a local folder, readable by this installation's user only (customers' data)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = self.root / key
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        try:
            shutil.copyfile(path, tmp)
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)  # whole or not at all
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def get_file(self, key: str, path: Path) -> bool:
        try:
            shutil.copyfile(self.root / key, path)
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False

    def keys(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return [f"{prefix}{p.name}" for p in folder.iterdir() if not p.name.startswith(".")]

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)

    def where(self, key: str) -> str:
        return str(self.root / key)


def open_store(spec: str, slug: str, data_dir: Path, endpoint_url: str | None = None,
               region: str | None = None) -> BackupStore:
    """``file://`` (``<data>/backups``), ``file:///PATH`` or ``s3://NAME`` (``{tenant}`` allowed)."""
    if spec.startswith("file://"):
        return FileBackupStore(Path(spec[len("file://"):] or data_dir / "backups"))
    if spec.startswith("s3://"):
        from .s3 import S3Objects  # only that module imports boto3

        name = spec[len("s3://"):].format(tenant=slug)
        if not name or "{" in name:
            raise StorageError(f"TESSERA_BACKUP_STORAGE {spec!r} must name a bucket, e.g. s3://tessera-backups")
        return S3Objects(name, endpoint_url=endpoint_url, region=region)
    raise StorageError(f"unknown backup storage {spec!r}; use file:// or s3://NAME")


# -- the database file ------------------------------------------------------------------------


def snapshot(database: Path, target: Path) -> None:
    """A consistent copy of ``database`` at one moment (one read transaction over the WAL), while
    other connections go on writing."""
    source = sqlite3.connect(str(database), timeout=30)
    copy = sqlite3.connect(str(target))
    try:
        source.execute("PRAGMA busy_timeout=30000")
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def applied(path: Path) -> set[str]:
    """The tenant migrations a database file has."""
    conn = sqlite3.connect(str(path))
    try:
        return {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    finally:
        conn.close()


def latest(names: set[str]) -> str:
    return max(names) if names else ""


KNOWN = frozenset(name for name, _ in TENANT.steps)


def _newer(slug: str, stamp: str, names: set[str]) -> NewerSchema | None:
    unknown = set(names) - KNOWN
    if not unknown:
        return None
    return NewerSchema(f"the backup of {slug} from {words(parse_stamp(stamp))} was made by a newer Tessera (its "
                       f"database has migration {max(unknown)}; this installation knows up to "
                       f"{latest(set(KNOWN))}): upgrade Tessera before restoring it. Nothing was restored.")


# -- retention ---------------------------------------------------------------------------------


def retained(stamps: list[str], now: datetime, keep_days: int, weeks: int = WEEKS) -> set[str]:
    """Which backups retention keeps: every one of the last ``keep_days`` days, the newest of each
    calendar week (ISO, UTC) for ``weeks`` weeks before that, and always the newest of all."""
    if not stamps:
        return set()
    recent = now - timedelta(days=keep_days)
    oldest = recent - timedelta(weeks=weeks)
    keep = {max(stamps)}
    weekly: dict[tuple[int, int], str] = {}
    for stamp in sorted(stamps):
        moment = parse_stamp(stamp)
        if moment >= recent:
            keep.add(stamp)
        elif moment >= oldest:
            weekly[moment.isocalendar()[:2]] = stamp  # in order: the newest of its week wins
    return keep | set(weekly.values())


# -- when a shop's scheduled backup comes due -------------------------------------------------------


def slot(slug: str, hours: int, now: datetime) -> datetime:
    """The start of ``slug``'s current backup slot. Slots are ``hours`` apart, each tenant's at its own
    offset in the interval (a stable hash of its slug), so a thousand shops are not backed up in the
    same second."""
    period = hours * 3600
    offset = spread(slug, period).total_seconds()
    start = (now.timestamp() - offset) // period * period + offset
    return datetime.fromtimestamp(start, timezone.utc)


def next_slot(slug: str, hours: int, now: datetime) -> datetime:
    return slot(slug, hours, now) + timedelta(hours=hours)


# -- backups of every tenant ------------------------------------------------------------------


class Backups:
    """Every tenant's backups: ``store_for(slug)`` is the store that tenant's go to."""

    def __init__(self, tenants_root: Path, store_for: Callable[[str], BackupStore], keep_days: int = 14) -> None:
        self.root = Path(tenants_root)
        self.store_for = store_for
        self.keep_days = keep_days

    def database(self, slug: str) -> Path:
        path = self.root / slug / "tenant.db"
        if not path.is_file():
            raise TenantNotFound(f"no tenant called {slug!r}; `tessera tenant list` shows them all")
        return path

    @staticmethod
    def _stamps(store: BackupStore, slug: str, suffix: str) -> list[str]:
        stamps = (key[len(slug) + 1:-len(suffix)] for key in store.keys(f"{slug}/") if key.endswith(suffix))
        return sorted(s for s in stamps if _STAMP.match(s))

    @staticmethod
    def _read(store: BackupStore, slug: str, stamp: str) -> Backup | None:
        data = store.get_bytes(f"{slug}/{stamp}.json")
        try:
            meta = json.loads(data) if data else None
            return Backup(slug, stamp, meta["sha256"], int(meta["size"]), int(meta["stored"]), meta["schema"],
                          meta["reason"]) if meta else None
        except (ValueError, KeyError, TypeError):
            return None  # a sidecar we cannot read: not a backup we can vouch for

    def list(self, slug: str) -> list[Backup]:
        """The tenant's whole backups, oldest first."""
        store = self.store_for(slug)
        found = (self._read(store, slug, stamp) for stamp in self._stamps(store, slug, ".json"))
        return [backup for backup in found if backup is not None]

    def newest(self, slug: str) -> Backup | None:
        store = self.store_for(slug)
        for stamp in reversed(self._stamps(store, slug, ".json")):
            backup = self._read(store, slug, stamp)
            if backup is not None:
                return backup
        return None

    def take(self, slug: str, reason: str, now: datetime | None = None) -> Taken:
        """Back up the tenant's database; an unchanged one (same sha256 as the newest backup) makes no
        new object. Retention runs after each new backup."""
        database = self.database(slug)
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        store = self.store_for(slug)
        # Beside the database: the same file system and free space, never a shared /tmp.
        with tempfile.TemporaryDirectory(prefix=".backup-", dir=database.parent) as tmp:
            raw = Path(tmp) / "tenant.db"
            snapshot(database, raw)
            sha, size = digest(raw)
            newest = self.newest(slug)
            if newest is not None and newest.sha256 == sha:
                return Taken(newest, False, store.where(newest.key))
            stamp = moment.strftime(STAMP)
            if newest is not None and stamp <= newest.stamp:  # the same second, or a clock set back
                stamp = (newest.taken_at + timedelta(seconds=1)).strftime(STAMP)
            packed = Path(tmp) / "tenant.db.gz"
            with open(raw, "rb") as source, open(packed, "wb") as out, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as packing:
                shutil.copyfileobj(source, packing, CHUNK)
            backup = Backup(slug, stamp, sha, size, packed.stat().st_size, latest(applied(raw)), reason)
            store.put_file(backup.key, packed)
            meta = {k: v for k, v in backup.record().items() if k not in ("slug", "stamp")}
            store.put_bytes(backup.meta_key, json.dumps(meta, indent=1).encode())  # last: the backup is whole
        return Taken(backup, True, store.where(backup.key), self.prune(slug, moment))

    def prune(self, slug: str, now: datetime | None = None) -> list[str]:
        """Remove what retention no longer keeps (see ``retained``); returns the stamps removed."""
        moment = now or datetime.now(timezone.utc)
        store = self.store_for(slug)
        whole = self._stamps(store, slug, ".json")
        if not whole:
            return []
        keep = retained(whole, moment, self.keep_days)
        drop = [stamp for stamp in whole if stamp not in keep]
        # Data without its sidecar, older than a whole backup: a backup that died half-written.
        orphans = [s for s in self._stamps(store, slug, ".db.gz") if s not in whole and s < whole[-1]]
        store.delete([f"{slug}/{s}.json" for s in drop])  # the sidecar first: it never names missing data
        store.delete([f"{slug}/{s}.db.gz" for s in drop + orphans])
        return drop

    def choose(self, slug: str, at: datetime | None) -> Backup:
        """The newest backup at or before ``at`` (None: the newest of all)."""
        self.database(slug)
        backups = self.list(slug)
        if not backups:
            raise BackupNotFound(f"{slug} has no backups yet; take one with `tessera tenant backup {slug}`")
        chosen = [b for b in backups if at is None or b.taken_at <= at]
        if not chosen:
            raise BackupNotFound(f"{slug} has no backup at or before {words(at)}; the oldest is from "  # type: ignore[arg-type]
                                 f"{words(backups[0].taken_at)} (`tessera tenant backups {slug}` lists them)")
        return chosen[-1]

    def verify(self, backup: Backup, target: Path) -> None:
        """Fetch ``backup`` into ``target`` and prove it: its sha256, SQLite's integrity check, and a
        schema this code knows. Raises ``CorruptBackup`` or ``NewerSchema``."""
        refused = _newer(backup.slug, backup.stamp, {backup.schema} - {""})  # what the sidecar says, first
        if refused is not None:
            raise refused
        when = words(backup.taken_at)
        packed = target.with_name(target.name + ".gz")
        if not self.store_for(backup.slug).get_file(backup.key, packed):
            raise CorruptBackup(f"the backup of {backup.slug} from {when} has lost its data; choose another with --at")
        try:
            with gzip.open(packed, "rb") as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
        except (OSError, EOFError, zlib.error):
            raise CorruptBackup(f"the backup of {backup.slug} from {when} is not a readable gzip file; "
                                f"nothing was restored. Choose another with --at") from None
        finally:
            packed.unlink(missing_ok=True)
        sha, _ = digest(target)
        if sha != backup.sha256:
            raise CorruptBackup(f"the backup of {backup.slug} from {when} does not match its checksum (sha256 "
                                f"{sha[:12]}…, recorded {backup.sha256[:12]}…): it was changed or damaged. Nothing "
                                f"was restored; choose another with --at")
        try:
            conn = sqlite3.connect(str(target))
            try:
                checked = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            finally:
                conn.close()
            names = applied(target)
        except sqlite3.DatabaseError as exc:
            raise CorruptBackup(f"the backup of {backup.slug} from {when} is not a sound tenant database ({exc}); "
                                f"nothing was restored") from None
        if checked != ["ok"]:
            raise CorruptBackup(f"the backup of {backup.slug} from {when} fails SQLite's integrity check "
                                f"({'; '.join(checked[:3])}); nothing was restored")
        refused = _newer(backup.slug, backup.stamp, names)
        if refused is not None:
            raise refused

    def restore(self, slug: str, backup: Backup, now: datetime | None = None) -> Restored:
        """Put ``backup`` in place of the tenant's live database, after proving it and backing up the
        live one ("before-restore"). Copied in with SQLite's backup API, in one write transaction:
        connections already open (a running server's) see the restored data at their next
        transaction, and a checkout waits for the copy instead of failing."""
        database = self.database(slug)
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=database.parent) as tmp:
            copy = Path(tmp) / "restore.db"
            self.verify(backup, copy)
            before = self.take(slug, "before-restore", now)
            conn = connect(copy)  # WAL like the live file: the copy's pages go in through its log
            target = sqlite3.connect(str(database), timeout=30)
            try:
                migrated = TENANT.apply(conn)  # an older backup is brought up to this code's schema first
                target.execute("PRAGMA busy_timeout=30000")
                conn.backup(target)
            except sqlite3.Error as exc:
                raise BackupError(f"restoring {slug} from the backup of {words(backup.taken_at)} failed ({exc}); "
                                  f"the live database is as it was") from None
            finally:
                target.close()
                conn.close()
        return Restored(backup, before, migrated)
