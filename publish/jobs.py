"""Background jobs (publishes) in a SQLite queue: one at a time per tenant, many tenants in parallel.

Jobs live in ``platform.db`` so the CLI, the API and any number of runner processes see one queue.
A job is claimed in a write transaction, so two runners never take the same one, and a tenant
with a running job is skipped until it finishes. Jobs run in two lanes: publishing (publishes and
rollbacks) and notifications (``notify``, sending the outbox), so an email never waits for a long
build, and each lane still runs one job per tenant at a time. ``run_after`` delays a job: scheduled content
gets a publish queued for the moment it becomes due.

A failed job's log is written for the site's people (the admin shows it to them): what failed and,
for content errors, file and line. Tracebacks go to the server's log, never into a job's log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from content.errors import TesseraError
from content.migrations import PerThread, immediate
from content.registry import now_iso
from content.schema import PLATFORM

from .errors import NotRetryable

log = logging.getLogger(__name__)

STALE_SECONDS = 90  # a runner on another machine that has not beaten for this long is taken for dead
BEAT_SECONDS = 20  # how often a runner says it is alive, and looks for jobs dead runners left


@dataclass(frozen=True)
class Job:
    id: int
    tenant: str
    kind: str
    status: str
    actor: str
    run_after: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    log: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(*(row[k] for k in ("id", "tenant", "kind", "status", "actor", "run_after", "created_at",
                                      "started_at", "finished_at", "log")))


def spread(tenant: str, seconds: int) -> timedelta:
    """A fixed delay in [0, seconds) for this tenant: jobs that many tenants schedule for the same
    moment (midnight, a campaign's launch) come due over a window instead of all in one second."""
    if seconds <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(tenant.encode(), digest_size=4).digest()
    return timedelta(seconds=int.from_bytes(digest, "big") % seconds)


class Queue(PerThread):
    def __init__(self, platform_db: Path) -> None:
        super().__init__(platform_db, PLATFORM)
        # Called after each job is queued: a runner in this process (``Runner.wake``) starts it at
        # once instead of at its next look at the queue. Runners elsewhere still find it by polling.
        self.listeners: list[Callable[[], None]] = []

    def enqueue(self, tenant: str, kind: str = "publish", *, actor: str, run_after: datetime | None = None) -> Job:
        """Queue a job; an identical one already waiting to run at or before that time is reused."""
        moment = (run_after or datetime.now(timezone.utc).replace(microsecond=0)).astimezone(timezone.utc)
        if moment.microsecond:  # round up: a job must never run before the moment it waits for
            moment = moment.replace(microsecond=0) + timedelta(seconds=1)
        when = moment.isoformat(timespec="seconds")
        waiting = ("SELECT * FROM jobs WHERE tenant = ? AND kind = ? AND status = 'queued' "
                   "AND run_after <= ? ORDER BY id LIMIT 1")
        # A job still queued will run after this moment, so it does what a new one would: found by a
        # read, no write (a burst of orders, each queueing its shop's notify job, writes once).
        existing = self.conn.execute(waiting, (tenant, kind, when)).fetchone()
        if existing:
            return Job.from_row(existing)
        with immediate(self.conn) as conn:
            existing = conn.execute(waiting, (tenant, kind, when)).fetchone()
            if existing:
                return Job.from_row(existing)
            cursor = conn.execute("INSERT INTO jobs (tenant, kind, status, actor, run_after, created_at) "
                                  "VALUES (?, ?, 'queued', ?, ?, ?)", (tenant, kind, actor, when, now_iso()))
        for listener in self.listeners:
            listener()
        return self.get(cursor.lastrowid)

    def get(self, job_id: int) -> Job:
        return Job.from_row(self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def statuses(self, ids: list[int]) -> dict[int, str]:
        """The status of each of these jobs (one query per 500, for callers waiting on many)."""
        found: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update((row["id"], row["status"]) for row in
                         self.conn.execute(f"SELECT id, status FROM jobs WHERE id IN ({marks})", chunk))
        return found

    def list(self, tenant: str | None = None, limit: int = 50, *, notify: bool = False) -> list[Job]:
        """Publishing jobs, newest first (``notify``: the notification lane's instead). Backups of
        ``tenant.db`` are the operator's business and not listed with the site's publishes."""
        lane = "kind != 'backup' AND " + ("kind = 'notify'" if notify else "kind != 'notify'")
        if tenant:
            rows = self.conn.execute(f"SELECT * FROM jobs WHERE tenant = ? AND {lane} ORDER BY id DESC LIMIT ?",
                                     (tenant, limit))
        else:
            rows = self.conn.execute(f"SELECT * FROM jobs WHERE {lane} ORDER BY id DESC LIMIT ?", (limit,))
        return [Job.from_row(r) for r in rows]

    def waiting(self, tenant: str, kind: str, actor: str) -> bool:
        """Whether a ``kind`` job queued by ``actor`` waits or runs for ``tenant`` (a chain of scheduled
        jobs that is still alive)."""
        return self.conn.execute("SELECT 1 FROM jobs WHERE tenant = ? AND kind = ? AND actor = ? AND status IN "
                                 "('queued', 'running') LIMIT 1", (tenant, kind, actor)).fetchone() is not None

    def claim(self, lane: str | None = None, owner: str | None = None, node: str | None = None) -> Job | None:
        """Take the oldest due job whose tenant has nothing running in the job's lane (``lane``:
        only ``"publish"`` or only ``"notify"`` jobs). ``owner``: the runner taking it (``runner_id``),
        recorded so that other runners can tell a job running elsewhere from one a dead runner left.
        ``node``: only jobs of tenants placed on that node (or on none), whose files are here."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        only = {None: "", "notify": " AND j.kind = 'notify'"}.get(lane, " AND j.kind != 'notify'")
        here: tuple[str, ...] = ()
        if node is not None:
            only += " AND coalesce((SELECT t.node FROM tenants t WHERE t.slug = j.tenant), ?) = ?"
            here = (node, node)
        if node is not None:  # a tenant being moved between nodes runs nothing until it has arrived
            only += " AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.slug = j.tenant AND t.moving_to IS NOT NULL)"
        due = ("SELECT * FROM jobs j WHERE status = 'queued' AND run_after <= ?" + only + " AND NOT EXISTS "
               "(SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.tenant = j.tenant "
               "AND (r.kind = 'notify') = (j.kind = 'notify')) ORDER BY run_after, id LIMIT 1")
        take = ("UPDATE jobs SET status = 'running', started_at = ?, claimed_by = ?, heartbeat_at = ? "
                "WHERE id = ? AND status = 'queued'")
        conn = self.conn
        if getattr(conn, "engine", "sqlite") == "postgresql":
            return self._claim_skipping_locked(conn, due, take, (now, *here), owner)
        with immediate(conn):
            row = conn.execute(due, (now, *here)).fetchone()
            if row is None:
                return None
            conn.execute(take, (now_iso(), owner, now_iso(), row["id"]))
        return self.get(row["id"])

    def _claim_skipping_locked(self, conn, due: str, take: str, params: tuple, owner: str | None) -> Job | None:
        """The claim on PostgreSQL: runners on any number of machines each lock the row they take
        (``FOR UPDATE SKIP LOCKED``) instead of queueing for the platform's write lock, so none waits
        for another. Two runners taking two jobs of one tenant's lane at once are stopped by the
        unique index on running jobs (``jobs_one_running``): the later one looks again."""
        for _ in range(8):
            conn.begin(lock=False)
            try:
                row = conn.execute(due + " FOR UPDATE SKIP LOCKED", params).fetchone()
                if row is None:
                    conn.commit()
                    return None
                conn.execute(take, (now_iso(), owner, now_iso(), row["id"]))
                conn.commit()
            except sqlite3.IntegrityError:
                continue  # that tenant's lane was taken by another runner a moment ago
            except BaseException:
                conn.rollback()
                raise
            return self.get(row["id"])
        return None

    def finish(self, job: Job, ok: bool, log: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE jobs SET status = ?, finished_at = ?, log = ? WHERE id = ?",
                              ("done" if ok else "failed", now_iso(), log[-20000:], job.id))

    def retry(self, job_id: int) -> Job:
        """A failed job goes back to the queue, due at once, as it was queued (same tenant, kind and
        number); its failure is returned with it for the caller's audit entry and cleared from the row.
        Anything but a failed job is refused (``NotRetryable``): a job is never run twice at once."""
        with immediate(self.conn) as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotRetryable(f"there is no job {job_id}; the health page lists the failed ones")
            if row["status"] != "failed":
                raise NotRetryable(f"job {job_id} is {row['status']}, not failed: only failed jobs are retried")
            conn.execute("UPDATE jobs SET status = 'queued', run_after = ?, started_at = NULL, finished_at = NULL, "
                         "log = '' WHERE id = ?", (now_iso(), job_id))
        return Job.from_row(row)

    def health(self, now: datetime | None = None) -> dict:
        """What the operator's health page shows of the queue: jobs due and waiting (per lane), the
        age in seconds of the oldest due job (0 with none), jobs running and jobs scheduled later."""
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")
        row = self.conn.execute(
            "SELECT count(CASE WHEN status = 'queued' AND run_after <= :now AND kind != 'notify' THEN 1 END) "
            "AS publish_due, count(CASE WHEN status = 'queued' AND run_after <= :now AND kind = 'notify' THEN 1 END) "
            "AS notify_due, count(CASE WHEN status = 'queued' AND run_after > :now THEN 1 END) AS scheduled, "
            "count(CASE WHEN status = 'running' THEN 1 END) AS running, "
            "min(CASE WHEN status = 'queued' AND run_after <= :now THEN run_after END) AS oldest "
            "FROM jobs WHERE status IN ('queued', 'running')", {"now": moment}).fetchone()
        oldest = row["oldest"]
        age = 0 if oldest is None else max(0, int((datetime.fromisoformat(moment)
                                                   - datetime.fromisoformat(oldest)).total_seconds()))
        return {"publish_due": row["publish_due"] or 0, "notify_due": row["notify_due"] or 0,
                "due": (row["publish_due"] or 0) + (row["notify_due"] or 0), "scheduled": row["scheduled"] or 0,
                "running": row["running"] or 0, "oldest_due": oldest, "oldest_age_seconds": age}

    def failed(self, since: str | None = None, limit: int = 50) -> list[Job]:
        """Failed jobs, latest failure first (``since``: finished at or after this ISO moment)."""
        rows = self.conn.execute("SELECT * FROM jobs WHERE status = 'failed' AND coalesce(finished_at, created_at) >= ? "
                                 "ORDER BY coalesce(finished_at, created_at) DESC, id DESC LIMIT ?", (since or "", limit))
        return [Job.from_row(r) for r in rows]

    def beat(self, job_ids: list[int]) -> None:
        """The runner running these jobs is alive (see ``requeue_abandoned``)."""
        if job_ids:
            with self.conn:
                self.conn.execute(f"UPDATE jobs SET heartbeat_at = ? WHERE status = 'running' AND id IN "
                                  f"({', '.join('?' * len(job_ids))})", (now_iso(), *job_ids))

    def requeue_abandoned(self, owner: str | None = None, stale: int = STALE_SECONDS,
                          node: str | None = None) -> list[str]:
        """Jobs left 'running' by a runner that died go back to the queue; returns their tenants,
        whose interrupted work needs cleaning up before they run again.

        Another runner's job is left alone while that runner lives: on this machine, while its
        process does; on another (another container or node sharing the queue), while it beats
        within ``stale`` seconds. A job taken without an owner is taken to be abandoned. ``node``: only
        the jobs of tenants placed on that node (or on none), whose half-done work is cleaned up here."""
        moment = datetime.now(timezone.utc)
        here, params = "", ()
        if node is not None:
            here, params = " AND coalesce((SELECT t.node FROM tenants t WHERE t.slug = jobs.tenant), ?) = ?", (node, node)
        with immediate(self.conn) as conn:
            rows = conn.execute("SELECT id, tenant, claimed_by, coalesce(heartbeat_at, started_at) AS beat "
                                "FROM jobs WHERE status = 'running'" + here, params).fetchall()
            gone = [row for row in rows if _abandoned(row["claimed_by"], row["beat"], owner, moment, stale)]
            for row in gone:
                conn.execute("UPDATE jobs SET status = 'queued', started_at = NULL, claimed_by = NULL, "
                             "heartbeat_at = NULL WHERE id = ?", (row["id"],))
        return sorted({row["tenant"] for row in gone})


def runner_id() -> str:
    """Who takes a job: this machine, this process, and this runner in it."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def _abandoned(claimed_by: str | None, beat: str | None, owner: str | None, moment: datetime, stale: int) -> bool:
    if claimed_by is None:
        return True
    if claimed_by == owner:
        return False  # our own
    host, _, rest = claimed_by.partition("/")
    pid_text, _, _ = rest.partition("/")
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return True  # a runner of this process that stopped: one runs per process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, someone else's
        return False
    try:
        last = datetime.fromisoformat(beat) if beat else None
    except ValueError:
        last = None
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return last is None or (moment - last).total_seconds() > stale


def failure_message(job: Job, exc: Exception) -> str:
    """What a failed job's log says to the people of its site."""
    what = "rollback" if job.kind.startswith("rollback:") else job.kind
    if isinstance(exc, TesseraError):
        return f"{what} failed: {exc}"
    return (f"{what} failed because of a problem on the server, not in the site; the live site is "
            f"unchanged. Try again later; if it keeps failing, give the operators job number {job.id}.")


class Runner:
    """Worker threads that take jobs from the queue until stopped: ``workers`` for publishing and
    ``notify_workers`` of their own for notifications, so neither lane can hold up the other.

    ``recover(tenant)`` runs at start for each tenant whose job a dead process left running, before
    any job runs: it finishes or undoes what that job left half done; and again whenever a runner
    elsewhere is found dead (it stopped beating), for its jobs. ``on_finish(job)`` is called with
    each finished job (tests wait on it instead of polling)."""

    def __init__(self, queue: Queue, execute: Callable[[Job], str], workers: int = 2, poll: float = 1.0, *,
                 notify_workers: int = 1, recover: Callable[[str], None] | None = None,
                 on_finish: Callable[[Job], None] | None = None, beat: float = BEAT_SECONDS,
                 node: str | None = None) -> None:
        self.queue, self.execute, self.workers, self.poll = queue, execute, workers, poll
        self.node = node  # take only the jobs of tenants placed on this node (``Queue.claim``)
        self.notify_workers = notify_workers
        self.recover, self.on_finish = recover, on_finish
        self.owner = runner_id()
        self.beat = beat
        self._running: set[int] = set()
        self._running_lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        # ``wake`` bumps the generation; an idle worker sleeps until it changes (or ``poll`` passes,
        # for jobs queued by other processes and jobs that become due). Read before claiming, so a
        # job queued between an empty claim and the wait is never slept through.
        self._signal = threading.Condition()
        self._generation = 0

    def start(self) -> None:
        self._requeue()
        lanes = [("publish", n) for n in range(self.workers)] + [("notify", n) for n in range(self.notify_workers)]
        for lane, n in lanes:
            thread = threading.Thread(target=self._loop, args=(lane,), name=f"jobs-{lane}-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)
        thread = threading.Thread(target=self._beating, name="jobs-beat", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _requeue(self) -> list[str]:
        tenants = self.queue.requeue_abandoned(self.owner, node=self.node)
        for tenant in tenants:
            if self.recover is not None:
                try:
                    self.recover(tenant)
                except Exception:  # the requeued job will meet the same problem and report it
                    log.exception("cleaning up after %s's interrupted job failed", tenant)
        return tenants

    def _beating(self) -> None:
        """Say this runner's jobs are alive, and take back the jobs of runners that died elsewhere."""
        while not self.stopping.wait(self.beat):
            try:
                with self._running_lock:
                    running = sorted(self._running)
                self.queue.beat(running)
                if self._requeue():
                    self.wake()
            except Exception:  # a busy database: the next beat tries again
                log.exception("the job runner's heartbeat failed")

    def wake(self) -> None:
        """A job was queued: idle workers look at the queue now."""
        with self._signal:
            self._generation += 1
            self._signal.notify_all()

    def stop(self) -> None:
        self.stopping.set()
        self.wake()
        for thread in self.threads:
            thread.join(timeout=30)

    def run_once(self, lane: str | None = None) -> Job | None:
        job = self.queue.claim(lane, self.owner, self.node)
        if job is None:
            return None
        with self._running_lock:
            self._running.add(job.id)
        try:
            self.queue.finish(job, True, self.execute(job))
        except Exception as exc:  # the job failed; its log says why, the runner goes on
            if isinstance(exc, TesseraError):
                log.warning("job %s (%s of %s) failed: %s", job.id, job.kind, job.tenant, exc)
            else:
                log.exception("job %s (%s of %s) failed", job.id, job.kind, job.tenant)
            self.queue.finish(job, False, failure_message(job, exc))
        finally:
            with self._running_lock:
                self._running.discard(job.id)
        finished = self.queue.get(job.id)
        if self.on_finish is not None:
            self.on_finish(finished)
        return finished

    def _loop(self, lane: str | None = None) -> None:
        while not self.stopping.is_set():
            seen = self._generation
            if self.run_once(lane) is None:
                with self._signal:
                    self._signal.wait_for(lambda: self._generation != seen or self.stopping.is_set(), self.poll)
