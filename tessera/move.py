"""Moving a tenant to another node: ``tessera tenant move SLUG --to NODE``, run on the node that holds it.

1. Writes pause: the registry marks the tenant ``moving_to`` NODE, and every node answers a request
   that would change something (anything but GET, HEAD and OPTIONS) with 503 and ``Retry-After``;
   reads go on being served. Workers take none of its jobs; a job already running is waited for.
2. The tenant's ``tenant.db`` is locked for writing (a request that passed the check a moment before
   the pause finishes first, and none starts after) and exported with its repository
   (``content.archive``: SQLite's backup API, so the snapshot is consistent).
3. The archive is sent to the target node (``POST /_tessera/receive``, signed with the installation's
   secret key, the target's name and the move's id: only a node of the installation can place files on
   another, for the move under way only), which checks the headers before reading the body, unpacks it
   and publishes the site into its own bucket before it answers.
4. The placement switches to the target and writes resume there, in one registry update. The source's
   copy is sealed (every table refuses writes: a request that waited on the lock gets 503 and is
   retried where the tenant now lives) and set aside as ``tenants/.moved-<slug>-<time>``, for the
   operator to delete once satisfied.

A failure before step 4 resumes writes on the source, as it was; the target removes what it unpacked.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

from content.archive import MOVED_AWAY, export_tenant, unpack_tenant
from content.errors import TesseraError
from content.migrations import platform_location
from content.tenants import Tenants
from publish.jobs import Queue

from .settings import Settings

RECEIVE_PATH = "/_tessera/receive"
SIGNATURE_AGE = 300  # seconds a signed transfer stays acceptable
SETTLE = 0.5  # seconds for requests that passed the pause check to reach their write
RETRY_AFTER = 2
RECEIVE_TIMEOUT = 900  # seconds the source waits for the target to unpack and publish


class MoveError(TesseraError):
    """A move cannot start or did not finish; the message says which and what to do."""


@dataclass(frozen=True)
class Moved:
    slug: str
    source: str
    target: str
    archive_bytes: int
    paused_seconds: float  # how long the tenant's writes were refused
    kept: Path  # the source's copy, set aside


def sign(secret: str, slug: str, target: str, move_id: str, stamp: str, digest: str, size: int) -> str:
    """What proves a transfer comes from a node of this installation, for this move only: the tenant,
    the target, the move's id (fresh for each move, cleared when it ends), the moment, and the body's
    SHA-256 and size, under the installation's secret key."""
    message = "\n".join((slug, target, move_id, stamp, digest, str(size)))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def move_tenant(settings: Settings, tenants: Tenants, slug: str, target: str, *,
                say: Callable[[str], None] = lambda _: None) -> Moved:
    registry = tenants.registry
    tenant = registry.get(slug)
    here = settings.node
    if here is None:
        raise MoveError("moving a tenant needs nodes: set TESSERA_NODE (and TESSERA_DATABASE_URL) on every node")
    if tenant.node not in (None, here):
        raise MoveError(f"{slug} is on {tenant.node}; run the move there, with that node's settings")
    if target == here:
        raise MoveError(f"{slug} is already on {here}")
    address = registry.nodes().get(target)
    if address is None:
        raise MoveError(f"no node called {target!r}; a node registers when its `tessera serve` starts")
    if not (tenants.folder(slug) / "tenant.db").is_file():
        raise MoveError(f"this node has no files for {slug} ({tenants.folder(slug)})")
    move_id = registry.set_moving(slug, target)
    paused = time.monotonic()
    say(f"Writes to {slug} paused.")
    switched = False
    try:
        _wait_for_jobs(settings, slug)
        time.sleep(SETTLE)
        repository = tenants.repository(slug)
        with tempfile.TemporaryDirectory() as tmp, repository.locked(), _WriteLock(tenants.folder(slug) / "tenant.db") as db:
            archive = Path(tmp) / f"{slug}.tar.gz"
            export_tenant(tenants, slug, archive)
            size = archive.stat().st_size
            say(f"Exported {slug} ({size:,} bytes); sending it to {target} at {address}.")
            _send(settings, address, slug, target, move_id, archive)
            registry.place(slug, target)  # and writes resume, on the target
            switched = True
            _back_up(settings, slug, say)  # the state that moved, while this copy is still locked
            db.seal(target)  # a write that waited on the lock fails (503) instead of landing in this copy
            took = time.monotonic() - paused
            kept = tenants.root / f".moved-{slug}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}"
            tenants.folder(slug).rename(kept)
    finally:
        if not switched:
            registry.set_moving(slug, None)
    return Moved(slug, here, target, size, took, kept)


def _back_up(settings: Settings, slug: str, say: Callable[[str], None]) -> None:
    """Every move leaves a backup of the database it moved (reason ``move``), taken from the source's
    copy under the write lock, after writes resumed on the target: the pause does not wait for it. Best
    effort, as for export and import: the data is safe on the target and in the copy set aside."""
    from .backups import backups, said

    try:
        say(said(backups(settings).take(slug, "move")))
    except Exception as exc:  # noqa: BLE001 (an unreachable backup store must not undo a finished move)
        say(f"warning: {slug}'s database was not backed up: {exc}")


def abort_move(tenants: Tenants, slug: str) -> str | None:
    """End a move that died half-way (its process killed): writes resume where the tenant is placed.
    Returns the node the move was going to (None: there was no move). What the target may have
    unpacked is set aside by the next move there."""
    target, _ = tenants.registry.move_of(slug)
    tenants.registry.set_moving(slug, None)
    return target


def _wait_for_jobs(settings: Settings, slug: str, seconds: float = 120) -> None:
    """A build or publish running for the tenant finishes before its files are copied."""
    queue = Queue(platform_location(settings.data_dir))
    deadline = time.monotonic() + seconds
    while queue.conn.execute("SELECT 1 FROM jobs WHERE tenant = ? AND status = 'running' LIMIT 1",
                             (slug,)).fetchone():
        if time.monotonic() > deadline:
            raise MoveError(f"a job of {slug} has been running for over {seconds:.0f} s; try the move again later")
        time.sleep(0.2)


class _WriteLock:
    """Holds tenant.db's write lock: waits for writes under way, keeps new ones out (they wait on it).
    ``seal``: before letting go, make every later write to this copy fail, so that a request that
    waited on the lock is refused (and retried where the tenant now lives) instead of landing here."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.sealed = False

    def __enter__(self) -> _WriteLock:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def seal(self, target: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES ('moved_to', ?) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (target,))
        tables = [row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL%'")]  # a virtual table's writes go to its own tables
        for table in tables:
            for action in ("INSERT", "UPDATE", "DELETE"):
                self.conn.execute(f'CREATE TRIGGER "moved_{action.lower()}_{table}" BEFORE {action} ON "{table}" '
                                  f"BEGIN SELECT RAISE(ABORT, '{MOVED_AWAY}'); END")
        self.conn.execute("COMMIT")
        self.sealed = True

    def __exit__(self, *exc) -> None:
        if not self.sealed:
            self.conn.execute("ROLLBACK")
        self.conn.close()


def _send(settings: Settings, address: str, slug: str, target: str, move_id: str, archive: Path) -> None:
    size = archive.stat().st_size
    digest = hashlib.sha256()
    with archive.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    stamp = str(int(time.time()))
    headers = {"X-Tessera-Tenant": slug, "X-Tessera-Target": target, "X-Tessera-Move": move_id,
               "X-Tessera-Timestamp": stamp, "X-Tessera-Digest": digest.hexdigest(),
               "X-Tessera-Signature": sign(settings.secret_key, slug, target, move_id, stamp, digest.hexdigest(), size),
               "Content-Type": "application/gzip", "Content-Length": str(size)}
    try:
        with archive.open("rb") as body:
            answer = httpx.post(address + RECEIVE_PATH, content=body, headers=headers, timeout=RECEIVE_TIMEOUT)
    except httpx.HTTPError as exc:
        raise MoveError(f"the target node at {address} did not answer ({exc}); the tenant stays here. What the "
                        "target may have unpacked is set aside by the next move there") from None
    if answer.status_code != 200:
        raise MoveError(f"the target node refused the tenant ({answer.status_code}: {answer.text[:500]}); "
                        "the tenant stays here")


class Transfer:
    """The target's side, step by step, so the body is read only once the headers proved genuine."""

    def __init__(self, settings: Settings, headers: dict[str, str]) -> None:
        self.settings = settings
        self.slug = headers.get("x-tessera-tenant", "")
        self.target = headers.get("x-tessera-target", "")
        self.move_id = headers.get("x-tessera-move", "")
        self.stamp = headers.get("x-tessera-timestamp", "")
        self.digest = headers.get("x-tessera-digest", "")
        length = headers.get("content-length", "")
        self.size = int(length) if length.isdigit() else -1
        expected = sign(settings.secret_key, self.slug, self.target, self.move_id, self.stamp, self.digest, self.size)
        if not (self.size >= 0 and self.stamp.isdigit() and abs(time.time() - int(self.stamp)) <= SIGNATURE_AGE
                and self.target == settings.node
                and hmac.compare_digest(expected, headers.get("x-tessera-signature", ""))):
            raise MoveError("not a transfer from a node of this installation")

    def check_move(self, tenants: Tenants) -> None:
        """The move this transfer names is the tenant's move under way, to this node."""
        target, move_id = tenants.registry.move_of(self.slug)
        if target != self.settings.node or not move_id or not hmac.compare_digest(move_id, self.move_id):
            raise MoveError(f"no move of {self.slug} to this node is under way with that id")

    def place(self, tenants: Tenants, archive: Path) -> dict:
        """Unpack the tenant's files and publish its site here (the body was checked against the digest)."""
        from .app import _install_hooks
        from .sites import publish_tenant

        self.check_move(tenants)
        tenant = tenants.registry.get(self.slug)
        folder = tenants.folder(self.slug)
        if folder.exists():
            if tenant.node == self.settings.node:
                raise MoveError(f"{self.slug} already lives on this node")
            # Left by a move that failed after unpacking here: kept aside, never mixed with this one.
            folder.rename(tenants.root / f".stale-{self.slug}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}")
        folder = unpack_tenant(tenants, archive, self.slug)
        try:
            _install_hooks(folder / "repo.git")
            _, deploy = publish_tenant(self.settings, tenants, self.slug, actor="move")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"tenant": self.slug, "node": self.settings.node, "deploy": deploy.id}


