"""Writers of one SQLite file line up at its write gate (a lock the kernel queues) before they take
SQLite's write lock, so the next writer starts the moment the last one commits instead of sleeping
in SQLite's busy handler; the gate is let go however the transaction ends."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from content.migrations import WriteGate, connect, immediate

HOLD = """
import fcntl, os, sys, time
from pathlib import Path
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
"""


@pytest.fixture(name="db")
def fx_db(tmp_path: Path) -> Path:
    path = tmp_path / "tenant.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (v INTEGER)")
    conn.commit()
    conn.close()
    return path


def _write_in_thread(path: Path, done: threading.Event, value: int) -> threading.Thread:
    def run() -> None:
        conn = connect(path)
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (?)", (value,))
        conn.close()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_writer_waits_at_the_gate_held_by_another_process(db, tmp_path):
    go = tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db) + "-gate", str(go)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = threading.Event()
        thread = _write_in_thread(db, done, 1)
        # SQLite's own lock is free (the other process holds no transaction): only the gate stops it.
        assert not done.wait(0.5)
        probe = sqlite3.connect(db, timeout=0)
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        probe.close()
        go.touch()
        assert done.wait(10)
        thread.join(10)
    finally:
        go.touch()
        holder.wait(10)
    conn = connect(db)
    assert [tuple(r) for r in conn.execute("SELECT v FROM t")] == [(1,)]


def test_the_gate_is_let_go_when_the_transaction_fails(db):
    conn = connect(db)
    with pytest.raises(ZeroDivisionError):
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            1 / 0
    assert not conn.in_transaction
    done = threading.Event()
    _write_in_thread(db, done, 2).join(10)
    assert done.is_set()
    assert [tuple(r) for r in conn.execute("SELECT v FROM t")] == [(2,)]  # the failed one rolled back


def test_the_gate_is_let_go_when_the_transaction_cannot_begin(db):
    conn = connect(db)
    conn.execute("INSERT INTO t VALUES (1)")  # an implicit transaction is open: BEGIN fails
    with pytest.raises(sqlite3.OperationalError):
        with immediate(conn):
            pass
    conn.rollback()
    done = threading.Event()
    _write_in_thread(db, done, 3).join(10)
    assert done.is_set()


def test_a_thread_inside_the_gate_passes_it_again_and_leaves_it_once_out(db):
    gate = WriteGate.of(db)
    assert WriteGate.of(db) is gate  # one gate a file in a process
    gate.enter()
    gate.enter()  # a nested write of the same thread
    gate.leave()
    entered = threading.Event()

    def other() -> None:
        gate.enter()
        entered.set()
        gate.leave()

    thread = threading.Thread(target=other, daemon=True)
    thread.start()
    assert not entered.wait(0.3)  # still inside once
    gate.leave()
    assert entered.wait(10)
    thread.join(10)


def test_writers_in_threads_and_processes_all_land(db):
    """Many writers at once, through the gate: none lost, none waiting out SQLite's busy timeout."""
    script = ("import sys; sys.path.insert(0, %r)\nfrom content.migrations import connect, immediate\n"
              "conn = connect(sys.argv[1])\nfor i in range(200):\n    with immediate(conn):\n"
              "        conn.execute('INSERT INTO t VALUES (?)', (i,))\n") % str(Path(__file__).resolve().parents[2])
    others = [subprocess.Popen([sys.executable, "-c", script, str(db)]) for _ in range(2)]
    started = time.monotonic()
    events = [threading.Event() for _ in range(50)]
    threads = [_write_in_thread(db, done, i) for i, done in enumerate(events)]
    for thread in threads:
        thread.join(30)
    assert all(p.wait(30) == 0 for p in others)
    assert all(e.is_set() for e in events)
    assert time.monotonic() - started < 30
    conn = connect(db)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 450


def test_an_in_memory_database_has_no_gate():
    conn = connect(":memory:")
    with immediate(conn):
        conn.execute("CREATE TABLE t (v INTEGER)")
    assert getattr(conn, "gate", None) is None


def test_no_descriptor_is_kept_between_writes(db):
    """A server writes to a thousand shops from many threads: the gate holds a descriptor only
    for a writer's turn."""
    import os

    mine = str(db.resolve()) + "-gate"

    def gate_descriptors() -> list[str]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target == mine:
                found.append(target)
        return found

    conn = connect(db)
    for i in range(20):
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            assert gate_descriptors() == [mine]  # held for the turn
    assert gate_descriptors() == []


def test_a_site_whose_folder_is_gone_still_meets_sqlite_s_lock(tmp_path):
    gate = WriteGate.of(tmp_path / "gone" / "tenant.db")
    gate.enter()  # no gate file can be made: the write goes on under SQLite's own lock
    gate.leave()


def test_a_forked_child_keeps_no_lock(db):
    """A build forks its render workers while another thread may be writing: the child's copy of the
    gate's descriptor must not keep the gate shut once the writer has committed."""
    import multiprocessing

    inside, forked = threading.Event(), threading.Event()

    def writer() -> None:
        conn = connect(db)
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            inside.set()
            forked.wait(10)
        conn.close()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert inside.wait(10)
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(5,))
    child.start()
    try:
        forked.set()
        thread.join(10)
        conn = connect(db)
        started = time.monotonic()
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (2)")
        assert time.monotonic() - started < 2  # not until the child exits
    finally:
        child.kill()
        child.join()


def test_one_file_under_two_names_has_one_gate(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert WriteGate.of(Path(db.name)) is WriteGate.of(db)


def test_a_writer_stops_waiting_at_the_gate_after_sqlite_s_own_wait(db, tmp_path, monkeypatch):
    """The gate never makes a writer wait longer than SQLite would have: past WAIT it goes on to
    SQLite's lock, which is free here (the other process holds only the gate)."""
    monkeypatch.setattr(WriteGate, "WAIT", 0.3)
    go = tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db) + "-gate", str(go)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        conn = connect(db)
        started = time.monotonic()
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (1)")
        assert 0.25 < time.monotonic() - started < 5
    finally:
        go.touch()
        holder.wait(10)
