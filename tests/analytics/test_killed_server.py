"""A server killed with SIGKILL loses only the views it had not written yet; what was written stays."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx

from content.registry import parse_features
from content.tenants import Tenants
from tessera.settings import ROOT, Settings
from tessera.sites import publish_tenant
from tests.analytics.conftest import BROWSER
from tests.api.conftest import free_port


def stored_views(data) -> int:
    conn = sqlite3.connect(data / "tenants" / "bakery" / "tenant.db")
    try:
        return conn.execute("SELECT COALESCE(SUM(views), 0) FROM analytics_days").fetchone()[0]
    finally:
        conn.close()


def test_a_killed_server_loses_at_most_the_unwritten_window(tmp_path):
    data, port = tmp_path / "data", free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(data), "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce,analytics"), starter="bakery")
    publish_tenant(settings, tenants, "bakery", actor="test")
    tenants.close()
    # A batch every 3 views, never by time: what is written and what waits is decided by the test.
    env = {**os.environ, "TESSERA_DATA_DIR": str(data), "TESSERA_PORT": str(port), "TESSERA_ANALYTICS_FLUSH": "3/3600"}
    server = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    headers = {**BROWSER, "Host": "bakery.localhost"}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.head(base + "/", headers=headers, timeout=1)  # a HEAD: not a view
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        for path in ("/", "/about/", "/"):
            assert httpx.get(base + path, headers=headers, timeout=10).status_code == 200
        deadline = time.monotonic() + 15
        while stored_views(data) < 3:  # another process: its database is the only thing to watch
            assert time.monotonic() < deadline, "the batch of three was not written"
            time.sleep(0.05)
        for path in ("/", "/about/"):  # two more, waiting in memory
            assert httpx.get(base + path, headers=headers, timeout=10).status_code == 200
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    assert stored_views(data) == 3  # the two unwritten views are lost, the written ones are whole
    conn = sqlite3.connect(data / "tenants" / "bakery" / "tenant.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
