"""Housekeeping: pruning what the retention settings no longer keep, across the platform and every
tenant, once a day while the server runs (and on demand with ``tessera prune``); and, every hour,
making sure each shop's next scheduled backup is queued (``tessera.backups``)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from content.migrations import connect, platform_location
from content.retention import prune_platform, prune_tenant
from content.schema import PLATFORM, TENANT

from .settings import Settings

log = logging.getLogger(__name__)
EVERY = 24 * 3600.0
FIRST_AFTER = 300.0  # the first run waits for the server to settle
SCHEDULE_EVERY = 3600.0  # how often new shops (and a changed interval) get their backups scheduled


def prune_all(settings: Settings, now: datetime | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Prune ``platform.db`` and each ``tenant.db``; returns rows deleted per table over them all.
    A tenant whose database cannot be opened is logged and skipped, never the others."""
    now = now or datetime.now(timezone.utc)
    total: dict[str, int] = {}

    def add(counts: dict[str, int]) -> None:
        for table, n in counts.items():
            total[table] = total.get(table, 0) + n

    conn = connect(platform_location(settings.data_dir), PLATFORM)
    try:
        add(prune_platform(conn, settings.retention, now))
    finally:
        conn.close()
    root = settings.data_dir / "tenants"
    for path in sorted(root.glob("*/tenant.db")) if root.is_dir() else []:
        try:
            conn = connect(path, TENANT)
            try:
                add(prune_tenant(conn, settings.retention, now))
            finally:
                conn.close()
        except Exception:
            log.exception("could not prune the database of %s", path.parent.name)
        if progress:
            progress(path.parent.name)
    return total


class Housekeeper:
    """Daemon threads running ``prune_all`` once a day and queueing each shop's scheduled backups;
    ``stop`` ends them at once."""

    def __init__(self, settings: Settings, every: float = EVERY, first_after: float = FIRST_AFTER,
                 schedule_every: float = SCHEDULE_EVERY, queue=None) -> None:
        self.settings, self.every, self.first_after = settings, every, first_after
        self.schedule_every = schedule_every
        self.queue = queue  # where scheduled backups are queued (platform.db's queue unless given)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target, name in ((self._run, "housekeeping"), (self._schedule, "backup-schedule")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _schedule(self) -> None:
        """Each shop's next backup queued, if its chain of scheduled backups is not running already."""
        from .backups import schedule_backups

        wait = self.first_after
        while not self._stop.wait(wait):
            try:
                queued = schedule_backups(self.settings, self.queue)
                if queued:
                    log.info("scheduled the backups of %s", ", ".join(sorted(queued)))
            except Exception:
                log.exception("scheduling backups failed; it is tried again in %s s", self.schedule_every)
            wait = self.schedule_every

    def _run(self) -> None:
        wait = self.first_after
        while not self._stop.wait(wait):
            try:
                deleted = prune_all(self.settings)
                if any(deleted.values()):
                    log.info("pruned %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
            except Exception:
                log.exception("housekeeping failed; it runs again in a day")
            wait = self.every
