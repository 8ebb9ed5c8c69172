"""Two nodes on one machine: two `tessera serve` processes with data folders of their own
(``TESSERA_NODE``), one PostgreSQL for platform state (``TESSERA_DATABASE_URL``). They share one
registry, one set of sessions and rate limits and one job queue, neither writes a platform.db, each
node's workers build only its own tenants, and each node answers for the other's tenants by
forwarding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tessera.settings import ROOT
from tests import pgserver
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


@pytest.fixture(name="root", scope="module")
def fx_root(tmp_path_factory):
    return tmp_path_factory.mktemp("nodes")


@pytest.fixture(name="nodes", scope="module")
def fx_nodes(root, postgres_server):
    """Both nodes, for the module's tests in order (they publish and sign in as they go)."""
    database = pgserver.schema_url(postgres_server)
    common = {**os.environ, "TESSERA_DATABASE_URL": next(database), "TESSERA_SECRET_KEY": "k" * 48}
    tmp_path = root
    envs = []
    for name in ("node1", "node2"):
        port = free_port()
        envs.append({**common, "TESSERA_DATA_DIR": str(tmp_path / name), "TESSERA_PORT": str(port),
                     "TESSERA_NODE": name, "TESSERA_NODE_URL": f"http://127.0.0.1:{port}"})
    tessera(envs[0], "tenant", "create", "studio", "--name", "Studio", "--from", "studio")
    tessera(envs[1], "tenant", "create", "bakery", "--name", "Bakery", "--from", "bakery",
            "--features", "cms,ecommerce")
    tessera(envs[0], "user", "create", "ada@example.test", "--password-stdin", stdin=PASSWORD + "\n")
    tessera(envs[0], "user", "grant", "ada@example.test", "studio", "owner")
    servers = [started(envs[0], 1), started(envs[1], 1)]
    yield envs
    for server in servers:
        server.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    next(database, None)  # drops the schema


def test_two_nodes_share_tenants_sessions_and_the_job_queue(nodes, root):
    tmp_path = root
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
    # Publishing every tenant from node 1 queues a job each; each node's worker takes its own tenant's.
    tessera(nodes[0], "publish", "--all")
    jobs = tessera(nodes[1], "jobs")
    assert "studio" in jobs and "bakery" in jobs and "failed" not in jobs
    assert (tmp_path / "node1" / "buckets" / "studio" / "current" / "index.html").is_file()
    assert (tmp_path / "node2" / "buckets" / "bakery" / "current" / "index.html").is_file()
    assert not (tmp_path / "node1" / "tenants" / "bakery").exists()
    assert not (tmp_path / "node2" / "tenants" / "studio").exists()
    # Platform state is only in PostgreSQL.
    assert not list(tmp_path.rglob("platform.db*"))
    # A wrong password is counted in the shared rate limiter: node 1 and node 2 see the same failures.
    for base in (one, two) * 5:
        httpx.post(f"{base}/api/tenant/studio/auth/login", json={"email": "eve@example.test", "password": "nope"},
                   timeout=30)
    limited = httpx.post(f"{one}/api/tenant/studio/auth/login",
                         json={"email": "eve@example.test", "password": "nope"}, timeout=30)
    assert limited.status_code == 429, limited.text


def test_each_node_answers_for_the_other_nodes_tenants(nodes):
    one, two = (f"http://127.0.0.1:{env['TESSERA_PORT']}" for env in nodes)
    tessera(nodes[0], "publish", "--all")
    for base in (one, two):  # the site, by its host, from either node
        studio = httpx.get(f"{base}/", headers={"Host": "studio.localhost"}, timeout=30)
        bakery = httpx.get(f"{base}/", headers={"Host": "bakery.localhost"}, timeout=30)
        assert studio.status_code == 200 and "Studio" in studio.text
        assert bakery.status_code == 200 and "Bakery" in bakery.text and "Studio" not in bakery.text
        # The shop's API, by its path, from either node (bakery's catalog is in node 2's tenant.db).
        products = httpx.get(f"{base}/api/tenant/bakery/products", timeout=30)
        assert products.status_code == 200 and products.json()["items"], products.text
        # An unknown site is still this node's own 404, not a forwarding error.
        assert httpx.get(f"{base}/", headers={"Host": "nobody.localhost"}, timeout=30).status_code == 404
    # Signing in to studio through node 2 lands on node 1, and the session works on both.
    login = httpx.post(f"{two}/api/tenant/studio/auth/login",
                       json={"email": "ada@example.test", "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for base in (one, two):
        me = httpx.get(f"{base}/api/tenant/studio/auth/me", headers=bearer, timeout=30)
        assert me.status_code == 200 and me.json()["tenant"] == "studio", me.text
    # A request already forwarded once is not forwarded again: two nodes that disagree get a 502.
    looped = httpx.get(f"{one}/", headers={"Host": "bakery.localhost", "X-Tessera-Forwarded-By": "node2"}, timeout=30)
    assert looped.status_code == 502 and looped.json()["error"]["code"] == "misplaced"
