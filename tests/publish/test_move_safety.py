"""What keeps a move between nodes safe: transfers good for one move only, the copy left behind
refusing writes, pooled connections following a replaced tenant.db, and forwarding that never lets
the target see another path than the one judged."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time

import pytest

from commerce_api.tenancy import Resolver, TenantDatabases
from commerce_api.platform import PlatformDB
from content.archive import MOVED_AWAY
from content.migrations import connect, platform_location
from content.registry import Registry
from content.schema import TENANT
from tessera.forward import Forwarder
from tessera.move import MoveError, Transfer, _WriteLock, sign
from tessera.settings import Settings

pytestmark = pytest.mark.usefixtures("platform_engine")
SECRET = "s" * 48


def headers(slug: str, target: str, move_id: str, body: bytes, *, secret: str = SECRET, age: int = 0) -> dict:
    stamp, digest = str(int(time.time()) - age), hashlib.sha256(body).hexdigest()
    return {"x-tessera-tenant": slug, "x-tessera-target": target, "x-tessera-move": move_id,
            "x-tessera-timestamp": stamp, "x-tessera-digest": digest, "content-length": str(len(body)),
            "x-tessera-signature": sign(secret, slug, target, move_id, stamp, digest, len(body))}


@pytest.fixture(name="node2")
def fx_node2(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_NODE", "node2")
    env = {"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_SECRET_KEY": SECRET, "TESSERA_NODE": "node2",
           "TESSERA_DATABASE_URL": "postgresql://unused/x"}
    return Settings.from_env(env)


def test_a_transfer_is_good_for_its_own_move_to_its_own_node_only(tmp_path, node2):
    registry = Registry(platform_location(tmp_path))
    registry.add("bakery", "Bakery", frozenset({"cms"}), node="node1")

    class Tenants:  # what Transfer.check_move reads
        pass

    tenants = Tenants()
    tenants.registry = registry
    body = b"archive"
    with pytest.raises(MoveError):  # not signed with the installation's key
        Transfer(node2, headers("bakery", "node2", "m1", body, secret="x" * 48))
    with pytest.raises(MoveError):  # signed for another node
        Transfer(node2, headers("bakery", "node3", "m1", body))
    with pytest.raises(MoveError):  # too old
        Transfer(node2, headers("bakery", "node2", "m1", body, age=3600))
    forged = headers("bakery", "node2", "m1", body)
    forged["content-length"] = "1"
    with pytest.raises(MoveError):  # the size is signed too
        Transfer(node2, forged)
    move_id = registry.set_moving("bakery", "node2")
    Transfer(node2, headers("bakery", "node2", move_id, body)).check_move(tenants)
    with pytest.raises(MoveError):  # a transfer of another (an earlier) move
        Transfer(node2, headers("bakery", "node2", "0" * 32, body)).check_move(tenants)
    registry.set_moving("bakery", None)  # the move ended (or was aborted): its transfer is void
    with pytest.raises(MoveError):
        Transfer(node2, headers("bakery", "node2", move_id, body)).check_move(tenants)
    again = registry.set_moving("bakery", "node2")
    assert again != move_id
    registry.place("bakery", None)
    assert registry.move_of("bakery") == (None, None)


def test_the_copy_a_move_leaves_refuses_every_write(tmp_path):
    path = tmp_path / "tenant.db"
    connect(path, TENANT).close()
    waiting = sqlite3.connect(path, timeout=30)
    lock = _WriteLock(path)
    with lock:
        lock.seal("node2")
    with pytest.raises(sqlite3.IntegrityError, match=MOVED_AWAY):
        waiting.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    with pytest.raises(sqlite3.IntegrityError, match=MOVED_AWAY):
        waiting.execute("DELETE FROM meta")
    assert waiting.execute("SELECT value FROM meta WHERE key = 'moved_to'").fetchone() == ("node2",)


def test_a_pooled_connection_follows_a_tenant_db_that_was_replaced(tmp_path):
    folder = tmp_path / "bakery"
    folder.mkdir()
    conn = connect(folder / "tenant.db", TENANT)
    conn.execute("INSERT INTO meta (key, value) VALUES ('copy', 'old')")
    conn.commit()
    conn.close()
    pool = TenantDatabases(tmp_path)
    with pool.connection("bakery") as pooled:
        assert pooled.execute("SELECT value FROM meta WHERE key = 'copy'").fetchone()[0] == "old"
    folder.rename(tmp_path / ".moved-bakery")  # moved away, then back: a new folder, a new file
    folder.mkdir()
    conn = connect(folder / "tenant.db", TENANT)
    conn.execute("INSERT INTO meta (key, value) VALUES ('copy', 'new')")
    conn.commit()
    conn.close()
    with pool.connection("bakery") as pooled:
        assert pooled.execute("SELECT value FROM meta WHERE key = 'copy'").fetchone()[0] == "new"


def test_forwarding_refuses_dot_segments_and_names_stripe_webhooks(tmp_path):
    registry = Registry(platform_location(tmp_path))
    registry.add("bakery", "Bakery", frozenset({"cms"}), node="node2")
    db = PlatformDB(platform_location(tmp_path))
    forwarder = Forwarder("node1", lambda: registry, Resolver(db, "localhost"), "admin.localhost")

    def scope(path: str) -> dict:
        return {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
                "headers": [(b"host", b"127.0.0.1")], "client": ("203.0.113.9", 1)}

    assert forwarder.tenant_of(scope("/api/webhooks/stripe/bakery")).slug == "bakery"
    assert forwarder.tenant_of(scope("/api/tenant/bakery/products")).node == "node2"
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    for path in ("/api/tenant/bakery/../../metrics", "/api/tenant/bakery/%2e%2e/%2E%2E/metrics"):
        sent.clear()
        tenant = forwarder.tenant_of(scope(path))
        asyncio.run(forwarder.forward(tenant, scope(path), receive, send))
        assert sent[0]["status"] == 400


def _claim(secret: str, sender: str, target: str, method: str, host: str, path: str, visitor: str, stamp: str):
    from tessera.forward import sign_client

    scope = {"type": "http", "method": method, "path": path, "headers": [(b"host", host.encode())]}
    signature = sign_client(secret, sender, target, scope, visitor, stamp)
    return {**scope, "client": ("10.0.0.2", 0), "headers": [
        (b"host", host.encode()), (b"x-tessera-forwarded-by", sender.encode()),
        (b"x-tessera-client", visitor.encode()), (b"x-tessera-client-signature", f"{stamp} {signature}".encode())]}


def test_a_signed_visitor_address_holds_for_its_own_request_once_and_bad_claims_are_dropped():
    """node1 forwards a sign-in to node2 with the visitor's address signed: node2 takes it once, for
    that request only; a copy on another path or node, a replay, a stale or a malformed claim is
    dropped without an error (the request then comes from the forwarding node)."""
    from collections import OrderedDict

    from tessera.forward import with_visitor

    key, now, seen = "k" * 48, str(int(time.time())), OrderedDict()
    claim = _claim(key, "node1", "node2", "POST", "studio.localhost", "/api/auth/login", "203.0.113.7", now)
    assert with_visitor(claim, key, "node2", seen)["client"] == ("203.0.113.7", 0)
    assert with_visitor(claim, key, "node2", seen)["client"] == ("10.0.0.2", 0)  # the same claim again
    moved = {**_claim(key, "node1", "node2", "POST", "studio.localhost", "/api/auth/login", "203.0.113.8", now),
             "path": "/api/auth/refresh"}
    assert with_visitor(moved, key, "node2", seen)["client"] == ("10.0.0.2", 0)  # another request
    elsewhere = _claim(key, "node1", "node3", "POST", "studio.localhost", "/", "203.0.113.9", now)
    assert with_visitor(elsewhere, key, "node2", seen)["client"] == ("10.0.0.2", 0)  # signed for another node
    stale = _claim(key, "node1", "node2", "GET", "studio.localhost", "/", "203.0.113.9", str(int(time.time()) - 60))
    assert with_visitor(stale, key, "node2", seen)["client"] == ("10.0.0.2", 0)
    for stamp, signature in ((b"\xb2", b"0" * 64), (b"9" * 5000, b"0" * 64), (now.encode(), "é".encode() * 32),
                             (now.encode(), b""), (b"", b"")):
        bad = {**claim, "headers": [*claim["headers"][:3], (b"x-tessera-client-signature", stamp + b" " + signature)]}
        kept = with_visitor(bad, key, "node2", seen)
        assert kept["client"] == ("10.0.0.2", 0)
        assert all(k not in (b"x-tessera-client", b"x-tessera-client-signature") for k, _ in kept["headers"])
