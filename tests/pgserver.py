"""A real PostgreSQL for the tests: Debian's server binaries, an unprivileged cluster in a temporary
folder, on a free local port; each test gets a schema of its own (``schema_url``).

``TESSERA_TEST_DATABASE_URL`` points the tests at a server already running instead. Without either,
the PostgreSQL tests skip, unless ``TESSERA_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where a
missing server fails them.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb, pg_ctl start and stop, as the ``postgres`` user when run as root (PostgreSQL refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="tessera-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> str:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "tessera", "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                  "-o", options, "-w", "start")
        return f"postgresql://tessera@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def server_url():
    """Yields the URL of a running server (started here if need be), or skips."""
    given = os.environ.get("TESSERA_TEST_DATABASE_URL")
    if given:
        yield given
        return
    bindir = _binaries()
    if bindir is None:
        message = "PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)"
        if os.environ.get("TESSERA_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    cluster = Cluster(bindir)
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()


def schema_url(server: str):
    """Yields a URL whose connections see only a fresh schema of their own; dropped afterwards."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in server else "?"
    try:
        yield f"{server}{sep}options={quote(f'-csearch_path={name}')}&application_name=tessera_{name}"
    finally:
        deadline = time.monotonic() + 10
        with psycopg.connect(server, autocommit=True) as conn:
            # Connections of the test's threads may still be open; end them so the schema can go.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = %s", (f"tessera_{name}",))
            while True:
                try:
                    conn.execute(f"DROP SCHEMA {name} CASCADE")
                    break
                except psycopg.errors.LockNotAvailable:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
