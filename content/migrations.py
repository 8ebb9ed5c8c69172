"""Recorded, ordered schema migrations for SQLite files.

Each step has a name and runs once; applied steps are recorded in ``_migrations`` so that an
older ``platform.db`` or ``tenant.db`` upgrades itself when it is opened. Steps run in one
transaction each: a failing step leaves the file at the previous version.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

Step = Callable[[sqlite3.Connection], None] | str


@dataclass
class Migrations:
    name: str
    steps: list[tuple[str, Step]] = field(default_factory=list)

    def add(self, name: str, step: Step) -> None:
        if any(n == name for n, _ in self.steps):
            raise ValueError(f"migration {name!r} is registered twice in {self.name}")
        self.steps.append((name, step))

    def pending(self, conn: sqlite3.Connection) -> list[str]:
        done = _applied(conn)
        return [n for n, _ in self.steps if n not in done]

    def apply(self, conn: sqlite3.Connection) -> list[str]:
        """Apply every step not yet recorded; returns the names applied."""
        if not self.pending(conn):
            return []  # the usual case, answered by one read
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        applied = []
        for name, step in self.steps:
            # BEGIN IMMEDIATE: DDL is not wrapped in a transaction by sqlite3 on its own, and two
            # processes opening one file at once must not both run a step.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if name in _applied(conn):
                    conn.execute("ROLLBACK")
                    continue
                if isinstance(step, str):
                    for statement in filter(str.strip, step.split(";\n")):
                        conn.execute(statement)
                else:
                    step(conn)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                             (name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(name)
        return applied


def _applied(conn: sqlite3.Connection) -> set[str]:
    try:
        return {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    except sqlite3.DatabaseError:  # no table yet (PostgreSQL's error is a ProgrammingError)
        return set()


def connect(path: Path | str, migrations: Migrations | None = None) -> sqlite3.Connection:
    """Open a SQLite file the way Tessera always does: WAL, foreign keys, rows by name.

    ``path`` may instead be a PostgreSQL URL (platform state on PostgreSQL, ``TESSERA_DATABASE_URL``):
    the connection then comes from ``content.postgres``, with the same face."""
    if postgres_url(path):
        from . import postgres

        conn = postgres.connect(str(path))
        if migrations is not None and migrations.pending(conn):
            postgres.prepare(conn)
            migrations.apply(conn)
        return conn
    conn = sqlite3.connect(str(path), timeout=30, isolation_level="DEFERRED",
                           check_same_thread=False, factory=Connection)
    if str(path) not in ("", ":memory:") and not str(path).startswith("file:"):
        conn.gate = WriteGate.of(Path(path))
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA synchronous=NORMAL")
    if migrations is not None:
        migrations.apply(conn)
    return conn


def postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def platform_location(data_dir: Path | str) -> Path | str:
    """Where platform state lives: ``TESSERA_DATABASE_URL`` (PostgreSQL) when it is set, else the
    installation's ``platform.db``. Read at every call, so every process of an installation agrees."""
    url = os.environ.get("TESSERA_DATABASE_URL", "").strip()
    return url if url else Path(data_dir) / "platform.db"


class PerThread:
    """One connection per thread to one SQLite file (sqlite3 connections must not be shared), or to
    the PostgreSQL database at a URL.

    The schema is brought up to date once, when the object is made."""

    def __init__(self, path: Path | str, migrations: Migrations | None = None) -> None:
        self.path: Path | str = path if postgres_url(path) else Path(path)
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        if migrations is not None:
            connect(self.path, migrations).close()

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn


class Connection(sqlite3.Connection):
    """A SQLite connection that knows its file's write gate."""

    gate: WriteGate | None = None


class WriteGate:
    """Writers of one SQLite file queue here before they take its write lock.

    SQLite lets a writer that finds the file locked sleep and try again, longer and longer (1, 2,
    5 ... 100 ms), so under a stream of checkouts the lock sits free while the next writer sleeps
    and a shopper waits a tenth of a second for nothing. The gate is an advisory lock on a file
    beside the database, held from BEGIN IMMEDIATE to COMMIT by writers of every process: a writer
    that finds it taken looks again within two milliseconds at most, for as long as SQLite would
    have waited (``WAIT``), and then goes on to SQLite's own lock (which alone decides; the gate
    only ever orders writers, so one that does not use it, or a file system without such locks,
    is still safe). Each writer opens the gate file for its turn only and lets the lock go before
    closing it (a forked child keeps a copy of the descriptor, never the lock), so a server with a
    thousand shops keeps no descriptor per shop and thread; a thread already inside the gate goes
    through again (a nested write). One gate a file, by its resolved path."""

    WAIT = 30.0  # seconds, as SQLite's busy timeout
    _gates: dict[Path, WriteGate] = {}
    _made = threading.Lock()

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-gate")
        self._local = threading.local()

    @classmethod
    def of(cls, database: Path) -> WriteGate:
        database = database.resolve()
        with cls._made:
            gate = cls._gates.get(database)
            if gate is None:
                gate = cls._gates[database] = cls(database)
            return gate

    def enter(self) -> None:
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth == 0:
            local.fd = self._take()
        local.depth = depth + 1

    def leave(self) -> None:
        local = self._local
        local.depth -= 1
        if local.depth == 0 and local.fd is not None:
            fd, local.fd = local.fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _take(self) -> int | None:
        """The gate file's descriptor, locked; None to go on without the gate (no gate file can be
        made, the file system has no such locks, or the wait ran out)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:  # the folder is gone (a deleted site) or read-only
            return None
        try:
            pause, deadline = 0.0001, None
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    now = time.monotonic()
                    deadline = deadline or now + self.WAIT
                    if now >= deadline:
                        os.close(fd)
                        return None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        except OSError:  # no advisory locks here (ENOLCK): SQLite's lock alone
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise


class immediate:
    """``with immediate(conn):`` — a write transaction taken up front (BEGIN IMMEDIATE).

    Use it when a decision read inside the block must still hold at COMMIT (last owner, stock).
    Writers of a SQLite file line up at its ``WriteGate`` first.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.gate = getattr(conn, "gate", None)

    def __enter__(self) -> sqlite3.Connection:
        if self.gate is not None:
            self.gate.enter()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            if self.gate is not None:
                self.gate.leave()
            raise
        return self.conn

    def __exit__(self, kind, value, traceback) -> None:
        try:
            self.conn.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            if self.gate is not None:
                self.gate.leave()
