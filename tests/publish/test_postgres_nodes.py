"""Platform state on PostgreSQL (``TESSERA_DATABASE_URL``): two `tessera serve` processes with data
folders of their own share one registry, one set of sessions and one job queue, and neither writes a
platform.db."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tessera.settings import ROOT
from tests.api.conftest import free_port

PASSWORD = "correct horse battery staple"


def tessera(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "tessera.cli", *args], env=env, cwd=ROOT, input=stdin,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def started(env: dict, workers: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve", "--workers", str(workers)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{env['TESSERA_PORT']}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail("the server did not start: " + server.communicate()[0])
        time.sleep(0.1)


@pytest.fixture(name="nodes")
def fx_nodes(tmp_path, postgres_url):
    common = {**os.environ, "TESSERA_DATABASE_URL": postgres_url, "TESSERA_SECRET_KEY": "k" * 48}
    envs = [{**common, "TESSERA_DATA_DIR": str(tmp_path / name), "TESSERA_PORT": str(free_port())}
            for name in ("node1", "node2")]
    tessera(envs[0], "tenant", "create", "studio", "--name", "Studio", "--from", "studio")
    tessera(envs[0], "user", "create", "ada@example.test", "--password-stdin", stdin=PASSWORD + "\n")
    tessera(envs[0], "user", "grant", "ada@example.test", "studio", "owner")
    # Node 2 holds no tenant's files (tenants are not yet placed on nodes): it runs no worker.
    servers = [started(envs[0], 1), started(envs[1], 0)]
    yield envs
    for server in servers:
        server.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_two_nodes_share_tenants_sessions_and_the_job_queue(nodes, tmp_path):
    one, two = (f"http://127.0.0.1:{env['TESSERA_PORT']}" for env in nodes)
    # A tenant created by the CLI on node 1 is known to node 2: sign in there.
    login = httpx.post(f"{two}/api/tenant/studio/auth/login",
                       json={"email": "ADA@example.test", "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    tokens = login.json()
    # The refresh token node 2 issued is rotated by node 1, and its reuse is then caught by node 2.
    rotated = httpx.post(f"{one}/api/tenant/studio/auth/refresh", json={"refresh_token": tokens["refresh_token"]},
                         timeout=30)
    assert rotated.status_code == 200, rotated.text
    reused = httpx.post(f"{two}/api/tenant/studio/auth/refresh", json={"refresh_token": tokens["refresh_token"]},
                        timeout=30)
    assert reused.status_code == 401
    # A publish queued from node 1's CLI is one job of the shared queue, listed by node 2's CLI.
    tessera(nodes[0], "publish", "--all")  # one job per tenant, taken by a worker
    assert "studio" in tessera(nodes[1], "jobs")
    page = httpx.get(f"{one}/", headers={"Host": "studio.localhost"}, timeout=30)
    assert page.status_code == 200 and "<html" in page.text
    # Platform state is only in PostgreSQL.
    assert not list(tmp_path.rglob("platform.db*"))
    # A wrong password is counted in the shared rate limiter: node 1 and node 2 see the same failures.
    for base in (one, two) * 5:
        httpx.post(f"{base}/api/tenant/studio/auth/login", json={"email": "ada@example.test", "password": "nope"},
                   timeout=30)
    limited = httpx.post(f"{one}/api/tenant/studio/auth/login",
                         json={"email": "ada@example.test", "password": "nope"}, timeout=30)
    assert limited.status_code == 429, limited.text
