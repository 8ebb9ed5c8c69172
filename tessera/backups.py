"""Backups wired to the settings: the store, the schedule (a ``backup`` job per shop, chained from
slot to slot in the job queue), and restore with the live site's catalog put back.

Scheduled backups are jobs rather than work done by each worker's housekeeping thread: the queue's
claims run one job per tenant at a time across every worker and machine, so two workers never back
up one shop at once, and the chain survives restarts in ``platform.db``. Housekeeping only makes
sure each shop has its next job queued.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from content.migrations import platform_location
from publish.backups import Backups, Restored, Taken, next_slot, open_store, words
from publish.jobs import Job, Queue

from .settings import Settings

log = logging.getLogger(__name__)
BACKUP = "backup"
SCHEDULE = "schedule"  # the actor of scheduled backups


def backups(settings: Settings) -> Backups:
    def store(slug: str):
        return open_store(settings.backup_storage, slug, settings.data_dir, settings.s3_endpoint_url,
                          settings.s3_region)

    return Backups(settings.data_dir / "tenants", store, keep_days=settings.backup_keep_days)


def _shops(settings: Settings) -> list[str]:
    from content.registry import Registry

    registry = Registry(platform_location(settings.data_dir))
    try:
        return [t.slug for t in registry.all() if "ecommerce" in t.features]
    finally:
        registry.close()


def schedule_backups(settings: Settings, queue: Queue | None = None, now: datetime | None = None) -> dict[str, datetime]:
    """Queue the next scheduled backup of each shop that has none waiting, at its own slot; returns
    what was queued. Nothing with ``TESSERA_BACKUP_INTERVAL=0``."""
    hours = settings.backup_interval
    if not hours:
        return {}
    queue = queue or Queue(platform_location(settings.data_dir))
    moment = now or datetime.now(timezone.utc)
    queued: dict[str, datetime] = {}
    for slug in _shops(settings):
        if not queue.waiting(slug, BACKUP, SCHEDULE):
            queued[slug] = next_slot(slug, hours, moment)
            queue.enqueue(slug, BACKUP, actor=SCHEDULE, run_after=queued[slug])
    return queued


def backup_job(settings: Settings, job: Job, now: datetime | None = None) -> str:
    """Run a queued backup. A scheduled one backs up only when no backup was taken since its slot
    began (a manual one, or another worker's), then queues the shop's next slot."""
    moment = now or datetime.now(timezone.utc)
    store = backups(settings)
    if job.actor != SCHEDULE:
        return said(store.take(job.tenant, "manual", moment))
    hours = settings.backup_interval
    if not hours:
        return "scheduled backups are off (TESSERA_BACKUP_INTERVAL=0)"
    if job.tenant not in _shops(settings):
        return f"{job.tenant} has no shop (any more): no scheduled backups"
    try:
        newest = store.newest(job.tenant)
        slot_start = datetime.fromisoformat(job.run_after)
        if newest is not None and newest.taken_at >= slot_start:
            return f"{job.tenant} was backed up at {words(newest.taken_at)}, in this slot already"
        return said(store.take(job.tenant, "scheduled", moment))
    finally:
        Queue(platform_location(settings.data_dir)).enqueue(job.tenant, BACKUP, actor=SCHEDULE,
                                                         run_after=next_slot(job.tenant, hours, moment))


def size_words(n: float) -> str:
    """1234567 → "1.2 MB", as the commands print sizes."""
    for unit in ("bytes", "KB", "MB"):
        if n < 1024:
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def said(taken: Taken) -> str:
    """What a backup did, in a line: where it went and its size, or that nothing changed."""
    backup = taken.backup
    if not taken.new:
        return (f"unchanged {backup.slug}: same as its backup of {words(backup.taken_at)}, nothing new stored "
                f"({taken.where})")
    pruned = f"; {len(taken.pruned)} older backup(s) pruned" if taken.pruned else ""
    return (f"backed up {backup.slug} to {taken.where} ({size_words(backup.stored)} gzipped, "
            f"{size_words(backup.size)} database){pruned}")


def restore(settings: Settings, slug: str, backup) -> tuple[Restored, bool]:
    """Restore ``backup``, then import the live site's catalog again: the restored database may hold
    an older catalog than the pages shoppers see. Returns the restore and whether a catalog was imported."""
    from content import jsonio
    from content.migrations import connect
    from publish.catalog import import_snapshot

    from .sites import storage

    store = backups(settings)
    restored = store.restore(slug, backup)
    try:
        live = storage(settings, slug).read("_tessera/catalog.json")
    except Exception:  # the data is restored; the next publish imports the catalog anyway
        log.exception("could not read the live catalog of %s after its restore", slug)
        return restored, False
    if not live:
        return restored, False
    conn = connect(store.database(slug))
    try:
        import_snapshot(conn, jsonio.loads(live))
    finally:
        conn.close()
    return restored, True
