"""Deploys: compare a build's manifest with the bucket's, upload what changed, record it.

Each deploy is a row in ``tenant.db`` (commit, catalog version, manifest hash, who, when, counts,
duration, status). The catalog snapshot goes live in the same step as the pages, so prices and
pages always come from the same commit; a rollback rebuilds an earlier commit (builds are
deterministic) and publishes it the same way.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from content import jsonio
from content.registry import now_iso

from .catalog import import_snapshot
from .compress import is_sibling, with_siblings
from .errors import DeployNotFound, PublishError
from .storage import Change, Storage, upload_order


@dataclass(frozen=True)
class Deploy:
    id: int
    commit: str
    catalog_version: str
    manifest_hash: str
    actor: str
    started_at: str
    finished_at: str | None
    files: int
    uploaded: int
    deleted: int
    seconds: float | None
    status: str
    message: str
    rollback_of: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Deploy:
        return cls(row["id"], row["commit_sha"], row["catalog_version"], row["manifest_hash"], row["actor"],
                   row["started_at"], row["finished_at"], row["files"], row["uploaded"], row["deleted"],
                   row["seconds"], row["status"], row["message"], row["rollback_of"])


def plan_change(build_dir: Path, live: dict[str, list], workdir: Path | None = None,
                manifest: dict[str, list] | None = None) -> Change:
    """What to upload and delete to make ``live`` the build; with a ``workdir``, text files get
    their precompressed siblings (written there) as files of the site. ``manifest``: the build's, when
    the builder handed it over (else it is read from the build)."""
    if manifest is None:
        manifest = jsonio.loads((build_dir / "_tessera" / "manifest.json").read_bytes())
    files: dict[str, Path] = {}
    if workdir is not None:
        manifest, files = with_siblings(build_dir, manifest, live, workdir)
    uploads = [p for p, entry in manifest.items() if live.get(p, [None])[0] != entry[0]]
    deletions = sorted(p for p in live if p not in manifest)
    return Change(build_dir, manifest, upload_order(uploads), deletions, files)


def _site_files(paths: list[str], manifest: dict) -> int:
    """How many of ``paths`` are the site's own files (not compressed forms): what people are told."""
    return sum(1 for p in paths if not is_sibling(p, manifest))


def publish_build(conn: sqlite3.Connection, storage: Storage, build_dir: Path, *, commit: str, actor: str,
                  rollback_of: int | None = None, progress: Callable[[str], None] | None = None,
                  timings: dict[str, float] | None = None, manifest: dict[str, list] | None = None) -> Deploy:
    """Upload what changed, switch the bucket to the build, import its catalog, record the deploy.
    ``timings`` (seconds per stage so far, from the caller) are recorded with this step's own."""
    started = time.perf_counter()
    timings = dict(timings or {})
    with tempfile.TemporaryDirectory(prefix="tessera-publish-") as workdir:
        live = storage.manifest()
        change = plan_change(build_dir, live, Path(workdir), manifest)
        timings["plan"] = time.perf_counter() - started
        return _publish_change(conn, storage, change, live, commit=commit, actor=actor, rollback_of=rollback_of,
                               progress=progress, timings=timings, started=started)


def _publish_change(conn: sqlite3.Connection, storage: Storage, change: Change, live: dict, *, commit: str,
                    actor: str, rollback_of: int | None, progress: Callable[[str], None] | None,
                    timings: dict[str, float], started: float) -> Deploy:
    build_dir = change.build_dir
    catalog = json.loads((build_dir / "_tessera" / "catalog.json").read_text())
    manifest_hash = hashlib.sha256((build_dir / "_tessera" / "manifest.json").read_bytes()).hexdigest()[:16]
    files = _site_files(list(change.manifest), change.manifest)
    with conn:
        cursor = conn.execute(
            "INSERT INTO deploys (commit_sha, catalog_version, manifest_hash, actor, started_at, files, status, "
            "rollback_of) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            (commit, catalog.get("version", ""), manifest_hash, actor, now_iso(), files, rollback_of))
    deploy_id = cursor.lastrowid
    try:
        storage.apply(change, progress)
        mark = time.perf_counter()
        import_snapshot(conn, catalog)
        timings.update(change.timings, catalog=time.perf_counter() - mark)
    except BaseException as exc:
        with conn:
            conn.execute("UPDATE deploys SET status = 'failed', finished_at = ?, message = ?, seconds = ? WHERE id = ?",
                         (now_iso(), str(exc)[:500] or exc.__class__.__name__, time.perf_counter() - started,
                          deploy_id))
        if isinstance(exc, PublishError) or not isinstance(exc, Exception):
            raise
        raise PublishError(f"publishing failed: {exc}") from exc
    with conn:
        conn.execute("UPDATE deploys SET status = 'superseded' WHERE status = 'live'")
        conn.execute("UPDATE deploys SET status = 'live', finished_at = ?, uploaded = ?, deleted = ?, seconds = ?, "
                     "timings = ? WHERE id = ?",
                     (now_iso(), _site_files(change.uploads, change.manifest), _site_files(change.deletions, live),
                      time.perf_counter() - started, json.dumps(timings), deploy_id))
    return get_deploy(conn, deploy_id)


INTERRUPTED = "interrupted: the process publishing it stopped before it finished; the live site did not change"


def fail_interrupted(conn: sqlite3.Connection) -> int:
    """Deploys left 'running' by a process that died are failed, so that nobody waits for them.

    Call it only while no publish of this tenant can be running (``tessera.sites`` holds the
    tenant's publish lock): a deploy is 'running' only for as long as its process holds that lock."""
    with conn:
        return conn.execute("UPDATE deploys SET status = 'failed', finished_at = ?, message = ? "
                            "WHERE status = 'running'", (now_iso(), INTERRUPTED)).rowcount


def get_deploy(conn: sqlite3.Connection, deploy_id: int) -> Deploy:
    row = conn.execute("SELECT * FROM deploys WHERE id = ?", (deploy_id,)).fetchone()
    if row is None:
        raise DeployNotFound(f"no deploy {deploy_id}; `tessera deploys TENANT` lists them")
    return Deploy.from_row(row)


def list_deploys(conn: sqlite3.Connection, limit: int = 50) -> list[Deploy]:
    return [Deploy.from_row(r) for r in conn.execute("SELECT * FROM deploys ORDER BY id DESC LIMIT ?", (limit,))]


def previous_live(conn: sqlite3.Connection) -> Deploy:
    """The deploy that was live before the current one (the default rollback target)."""
    rows = conn.execute("SELECT * FROM deploys WHERE status IN ('live', 'superseded') ORDER BY id DESC LIMIT 2").fetchall()
    if len(rows) < 2:
        raise DeployNotFound("there is no earlier deploy to roll back to")
    return Deploy.from_row(rows[1])
