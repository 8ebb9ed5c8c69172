"""Moving a tenant to another node: ``tessera tenant move SLUG --to NODE``, run on the node that holds it.

1. Writes pause: the registry marks the tenant ``moving_to`` NODE, and every node answers a request
   that would change something (anything but GET, HEAD and OPTIONS) with 503 and ``Retry-After``;
   reads go on being served. Workers take none of its jobs; a job already running is waited for.
2. The tenant's ``tenant.db`` is locked for writing (a request that passed the check a moment before
   the pause finishes first, and none starts after) and exported with its repository
   (``content.archive``: SQLite's backup API, so the snapshot is consistent).
3. The archive is sent to the target node (``POST /_tessera/receive``, signed with the installation's
   secret key: only a node of the installation can place files on another), which unpacks it and
   publishes the site into its own bucket before it answers.
4. The placement switches to the target and writes resume there, in one registry update. The source
   keeps its copy of the tenant's folder, set aside as ``tenants/.moved-<slug>-<time>``, for the
   operator to delete once satisfied.

A failure before step 4 resumes writes on the source, as it was; the target removes what it unpacked.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

from content.archive import export_tenant, unpack_tenant
from content.errors import TesseraError
from content.migrations import platform_location
from content.tenants import Tenants
from publish.jobs import Queue

from .settings import Settings

RECEIVE_PATH = "/_tessera/receive"
SIGNATURE_AGE = 300  # seconds a signed transfer stays acceptable
SETTLE = 0.5  # seconds for requests that passed the pause check to reach their write
RETRY_AFTER = 2


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


def sign(secret: str, slug: str, stamp: str, digest: str) -> str:
    return hmac.new(secret.encode(), f"{slug}\n{stamp}\n{digest}".encode(), hashlib.sha256).hexdigest()


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
    registry.set_moving(slug, target)
    paused = time.monotonic()
    say(f"Writes to {slug} paused.")
    switched = False
    try:
        _wait_for_jobs(settings, slug)
        time.sleep(SETTLE)
        with tempfile.TemporaryDirectory() as tmp, _write_lock(tenants.folder(slug) / "tenant.db"):
            archive = Path(tmp) / f"{slug}.tar.gz"
            export_tenant(tenants, slug, archive)
            size = archive.stat().st_size
            say(f"Exported {slug} ({size:,} bytes); sending it to {target} at {address}.")
            _send(settings, address, slug, archive)
            registry.place(slug, target)  # and writes resume, on the target
            switched = True
            took = time.monotonic() - paused
            kept = tenants.root / f".moved-{slug}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}"
            tenants.folder(slug).rename(kept)
    finally:
        if not switched:
            registry.set_moving(slug, None)
    return Moved(slug, here, target, size, took, kept)


def _wait_for_jobs(settings: Settings, slug: str, seconds: float = 120) -> None:
    """A build or publish running for the tenant finishes before its files are copied."""
    queue = Queue(platform_location(settings.data_dir))
    deadline = time.monotonic() + seconds
    while queue.conn.execute("SELECT 1 FROM jobs WHERE tenant = ? AND status = 'running' LIMIT 1",
                             (slug,)).fetchone():
        if time.monotonic() > deadline:
            raise MoveError(f"a job of {slug} has been running for over {seconds:.0f} s; try the move again later")
        time.sleep(0.2)


class _write_lock:
    """Holds tenant.db's write lock: waits for writes under way, keeps new ones out (they wait on it)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, *exc) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def _send(settings: Settings, address: str, slug: str, archive: Path) -> None:
    body = archive.read_bytes()
    stamp = str(int(time.time()))
    digest = hashlib.sha256(body).hexdigest()
    headers = {"X-Tessera-Tenant": slug, "X-Tessera-Timestamp": stamp, "X-Tessera-Digest": digest,
               "X-Tessera-Signature": sign(settings.secret_key, slug, stamp, digest),
               "Content-Type": "application/gzip"}
    try:
        answer = httpx.post(address + RECEIVE_PATH, content=body, headers=headers, timeout=300)
    except httpx.HTTPError as exc:
        raise MoveError(f"the target node at {address} did not answer ({exc}); nothing was moved") from None
    if answer.status_code != 200:
        raise MoveError(f"the target node refused the tenant ({answer.status_code}: {answer.text[:500]}); "
                        "nothing was moved")


def receive_tenant(settings: Settings, tenants: Tenants, headers: dict[str, str], body: bytes) -> dict:
    """The target's side: check the signature, unpack the tenant's files and publish its site here.
    Raises ``MoveError`` for a transfer that is not genuine or cannot be placed."""
    slug = headers.get("x-tessera-tenant", "")
    stamp = headers.get("x-tessera-timestamp", "")
    digest = hashlib.sha256(body).hexdigest()
    expected = sign(settings.secret_key, slug, stamp, digest)
    if not (stamp.isdigit() and abs(time.time() - int(stamp)) <= SIGNATURE_AGE
            and hmac.compare_digest(expected, headers.get("x-tessera-signature", ""))
            and hmac.compare_digest(digest, headers.get("x-tessera-digest", ""))):
        raise MoveError("the transfer's signature is not valid (nodes must share TESSERA_SECRET_KEY)")
    tenant = tenants.registry.get(slug)
    if tenant.moving_to != settings.node:
        raise MoveError(f"{slug} is not being moved to this node ({settings.node})")
    from .app import _install_hooks
    from .sites import publish_tenant

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "tenant.tar.gz"
        archive.write_bytes(body)
        folder = unpack_tenant(tenants, archive, slug)
    try:
        _install_hooks(folder / "repo.git")
        _, deploy = publish_tenant(settings, tenants, slug, actor="move")
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    return {"tenant": slug, "node": settings.node, "deploy": deploy.id}
