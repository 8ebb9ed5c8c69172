"""Two nodes on one machine: two `tessera serve` processes with data folders of their own
(``TESSERA_NODE``), one PostgreSQL for platform state (``TESSERA_DATABASE_URL``). They share one
registry, one set of sessions and rate limits and one job queue, neither writes a platform.db, each
node's workers build only its own tenants, and each node answers for the other's tenants by
forwarding. The module runs twice: with each node's sites in local buckets, and with the sites and
backups in S3 buckets on the S3 test server (moto, over HTTP), as a multi-node installation runs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import threading
import subprocess
import sys
import time

import httpx
import pytest

from commerce_api.shop.orders import Orders
from content.migrations import connect
from tessera.move import sign
from tessera.settings import ROOT
from tests import pgserver
from tests.api.conftest import free_port
from tests.publish.test_s3 import fx_s3_endpoint  # noqa: F401  (the moto server fixture)

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
def fx_root(tmp_path_factory, storage):
    return tmp_path_factory.mktemp("nodes")  # one per kind of storage


@pytest.fixture(name="storage", scope="module", params=["local", "s3"])
def fx_storage(request):
    """Where the nodes keep sites and backups: settings for both nodes, and a check that a tenant's
    site is live (``live(node, slug)``)."""
    if request.param == "local":
        return {}, lambda root, node, slug: (root / node / "buckets" / slug / "current" / "index.html").is_file()
    endpoint = request.getfixturevalue("s3_endpoint")
    run = free_port()  # bucket names of this run only
    env = {"TESSERA_STORAGE": f"s3://site-{{tenant}}-{run}", "TESSERA_BACKUP_STORAGE": f"s3://backups-{run}",
           "TESSERA_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}

    def live(root, node, slug):
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        try:
            return b"<html" in client.get_object(Bucket=f"site-{slug}-{run}", Key="index.html")["Body"].read()
        except client.exceptions.ClientError:
            return False

    return env, live


@pytest.fixture(name="nodes", scope="module")
def fx_nodes(root, postgres_server, storage):
    """Both nodes, for the module's tests in order (they publish and sign in as they go)."""
    database = pgserver.schema_url(postgres_server)
    common = {**os.environ, "TESSERA_DATABASE_URL": next(database), "TESSERA_SECRET_KEY": "k" * 48,
              "TESSERA_ORDERS_PER_ADDRESS": "100000/600", "TESSERA_ORDERS_PER_EMAIL": "100000/600", **storage[0]}
    tmp_path = root
    envs = []
    for name in ("node1", "node2"):
        port = free_port()
        envs.append({**common, "TESSERA_DATA_DIR": str(tmp_path / name), "TESSERA_PORT": str(port),
                     "TESSERA_NODE": name, "TESSERA_NODE_URL": f"http://127.0.0.1:{port}"})
    envs[1]["TESSERA_TRUSTED_PROXIES"] = "127.0.0.1"  # node 2 is behind a proxy; node 1 trusts no proxy
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


def test_two_nodes_share_tenants_sessions_and_the_job_queue(nodes, root, storage):
    tmp_path, live = root, storage[1]
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
    assert live(tmp_path, "node1", "studio") and live(tmp_path, "node2", "bakery")
    assert not (tmp_path / "node1" / "tenants" / "bakery").exists()
    assert not (tmp_path / "node2" / "tenants" / "studio").exists()
    # Each node describes the other's tenant without its files: the node that holds them.
    shown = tessera(nodes[0], "tenant", "show", "bakery", "--json")
    assert json.loads(shown)["repository"] == "on node node2" and json.loads(shown)["node"] == "node2"
    assert json.loads(tessera(nodes[1], "tenant", "show", "bakery", "--json"))["version"]
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


def test_a_forwarded_request_keeps_its_visitors_address_and_a_forged_one_is_dropped(nodes):
    """Node 2 (behind a trusted proxy) forwards a sign-in for studio to node 1, which trusts no proxy:
    node 1 still records the visitor's address, from node 2's signed claim. The same claim sent to
    node 1 by anyone else, unsigned or badly signed, is ignored."""
    one, two = (f"http://127.0.0.1:{env['TESSERA_PORT']}" for env in nodes)
    forwarded = httpx.post(f"{two}/api/tenant/studio/auth/login", headers={"X-Forwarded-For": "203.0.113.7"},
                           json={"email": "visitor@example.test", "password": "nope"}, timeout=30)
    forged = httpx.post(f"{one}/api/tenant/studio/auth/login", json={"email": "forger@example.test", "password": "nope"},
                        headers={"X-Tessera-Forwarded-By": "node2", "X-Tessera-Client": "198.51.100.9",
                                 "X-Tessera-Client-Signature": f"{int(time.time())} {'0' * 64}"}, timeout=30)
    assert forwarded.status_code == forged.status_code == 401, (forwarded.text, forged.text)
    with connect(nodes[0]["TESSERA_DATABASE_URL"]) as conn:
        seen = dict(conn.execute("SELECT detail, address FROM audit_log WHERE event = 'login.failed'").fetchall())
    addresses = {json.loads(detail)["email"]: address for detail, address in seen.items()}
    assert addresses["visitor@example.test"] == "203.0.113.7"
    assert addresses["forger@example.test"] == "127.0.0.1"


SHOPPER = {"email": "ada@example.test", "shipping_method": "delivery",
           "shipping_address": {"name": "Ada", "line1": "1 Mill Lane", "city": "Leith", "postal_code": "EH6 6AA",
                                "country": "GB"}}


class Checkouts(threading.Thread):
    """Shoppers checking out one after another through both nodes; a paused write (503) is retried as
    a shop's page retries it, with the same idempotency key, so an order is placed once or not at all."""

    def __init__(self, bases: list[str]) -> None:
        super().__init__(daemon=True)
        self.bases, self.placed, self.refused, self.failures = bases, [], [], []
        self.stop = threading.Event()

    def post(self, client: httpx.Client, path: str, body: dict, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        while True:
            base = self.bases[len(self.placed) % len(self.bases)]
            answer = client.post(f"{base}/api/tenant/bakery{path}", json=body, headers=headers, timeout=60)
            if answer.status_code != 503:
                return answer
            self.refused.append(time.monotonic())
            time.sleep(0.1)

    def run(self) -> None:
        try:
            self.shop()
        except Exception as exc:  # the test reports it
            self.failures.append(repr(exc))

    def wait_for(self, count: int, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while len(self.placed) < count and not self.failures and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.failures and len(self.placed) >= count, (self.failures, len(self.placed))

    def shop(self) -> None:
        with httpx.Client() as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                cart = self.post(client, "/carts", {})
                assert cart.status_code == 201, cart.text
                token = cart.json()["token"]
                added = self.post(client, f"/carts/{token}/items", {"sku": "DR-1000", "quantity": 1})
                order = self.post(client, "/checkout", {"cart_token": token, **SHOPPER}, key=f"order-{n:08d}")
                if order.status_code in (200, 201):
                    self.placed.append(order.json()["order"]["number"])
                else:
                    self.failures.append((cart.status_code, added.text[:300], order.status_code, order.text[:300]))


def test_a_tenant_moves_to_another_node_under_a_stream_of_checkouts(nodes, root, storage):
    one, two = (f"http://127.0.0.1:{env['TESSERA_PORT']}" for env in nodes)
    tessera(nodes[0], "publish", "--all")
    with connect(root / "node2" / "tenants" / "bakery" / "tenant.db") as conn:
        Orders(conn).set_stock("DR-1000", 1_000_000)  # the stream of checkouts never sells out
    stream = Checkouts([one, two])
    stream.start()
    stream.wait_for(5)
    moved = tessera(nodes[1], "tenant", "move", "bakery", "--to", "node1")
    stream.wait_for(len(stream.placed) + 5)
    stream.stop.set()
    stream.join(timeout=60)
    assert not stream.failures, stream.failures
    assert "Moved bakery from node2 to node1" in moved
    assert float(re.search(r"paused for ([\d.]+) s", moved).group(1)) < 10
    # Every order a shopper was told about is in the bakery's tenant.db, now on node 1; none twice.
    with sqlite3.connect(root / "node1" / "tenants" / "bakery" / "tenant.db") as conn:
        numbers = [row[0] for row in conn.execute("SELECT number FROM orders")]
    assert sorted(stream.placed) == sorted(numbers) and len(set(numbers)) == len(numbers)
    # Writes were refused for a few seconds at most; the site and the shop answer from both nodes.
    if stream.refused:
        assert stream.refused[-1] - stream.refused[0] < 10
    assert "node1" in tessera(nodes[0], "tenant", "list")
    assert not (root / "node2" / "tenants" / "bakery").exists()
    assert list((root / "node2" / "tenants").glob(".moved-bakery-*"))
    for base in (one, two):
        assert httpx.get(f"{base}/", headers={"Host": "bakery.localhost"}, timeout=30).status_code == 200
        assert httpx.get(f"{base}/api/tenant/bakery/products", timeout=30).json()["items"]
    assert storage[1](root, "node1", "bakery")  # published by the target
    # The move left a backup of the database it moved, in the backup storage the source node uses.
    assert "backed up bakery" in moved
    backups = json.loads(tessera(nodes[1], "tenant", "backups", "bakery", "--json"))
    assert [b["reason"] for b in backups] == ["move"]
    if storage[0]:  # shared backup storage: the new node lists it too, and can restore from it
        assert json.loads(tessera(nodes[0], "tenant", "backups", "bakery", "--json")) == backups


def test_a_node_refuses_a_transfer_it_cannot_prove_before_reading_its_body(nodes):
    """/_tessera/receive is on every node's port: a transfer not signed by a node of the installation,
    or one claiming a body larger than allowed, is refused from its headers alone."""
    one = f"http://127.0.0.1:{nodes[0]['TESSERA_PORT']}"
    unsigned = httpx.post(f"{one}/_tessera/receive", content=b"x" * 1000,
                          headers={"X-Tessera-Tenant": "studio", "X-Tessera-Target": "node1"}, timeout=30)
    assert unsigned.status_code == 403 and unsigned.json()["error"]["code"] == "refused"
    assert "studio" not in unsigned.text and "/" not in unsigned.json()["error"]["message"]  # no paths, no internals
    forged = httpx.post(f"{one}/_tessera/receive", content=b"x",
                        headers={"X-Tessera-Tenant": "studio", "X-Tessera-Target": "node1", "X-Tessera-Move": "m",
                                 "X-Tessera-Timestamp": str(int(time.time())), "X-Tessera-Digest": "0" * 64,
                                 "X-Tessera-Signature": "0" * 64}, timeout=30)
    assert forged.status_code == 403
    # A genuine signature for a move that is not under way is refused too, before the body is read.
    body, stamp = b"archive", str(int(time.time()))
    digest = hashlib.sha256(body).hexdigest()
    signed = httpx.post(f"{one}/_tessera/receive", content=body, timeout=30, headers={
        "X-Tessera-Tenant": "studio", "X-Tessera-Target": "node1", "X-Tessera-Move": "m" * 32,
        "X-Tessera-Timestamp": stamp, "X-Tessera-Digest": digest,
        "X-Tessera-Signature": sign("k" * 48, "studio", "node1", "m" * 32, stamp, digest, len(body))})
    assert signed.status_code == 403 and "no move of studio" in signed.text
