"""Backups of tenant.db: real SQLite files of a real tenant, the file store and a real S3-compatible
server, restore through a running API, the schedule from housekeeping, and the commands."""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
from collections import Counter as Tally
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from content.migrations import immediate
from publish.backups import Backups, open_store, retained, slot, words
from publish.errors import CorruptBackup, NewerSchema
from publish.jobs import Queue
from tessera.backups import BACKUP, backup_job, backups, schedule_backups
from tessera.cli import main
from tessera.settings import Settings, SettingsError
from tests.api.conftest import World, free_port, populate
from tests.api.shopping import CATALOG, cart, checkout
from tests.conftest import serving
from tests.publish.test_s3 import fx_s3_endpoint  # noqa: F401  (the moto server fixture)

T0 = datetime(2026, 12, 1, 3, 15, tzinfo=timezone.utc)


def cli(data: Path, *args: str, **env: str):
    return CliRunner(env={"TESSERA_DATA_DIR": str(data), **env}).invoke(main, list(args))


def place_order(conn: sqlite3.Connection, number: int) -> None:
    """An order, its line and its stock reservation in one transaction, as checkout writes them."""
    now = datetime.now(timezone.utc).isoformat()
    with immediate(conn):
        order = conn.execute(
            "INSERT INTO orders (number, token_hash, email, status, payment_status, provider, currency, subtotal, "
            "shipping, tax, tax_inclusive, total, shipping_method, shipping_address, billing_address, "
            "catalog_version, created_at, updated_at, expires_at) VALUES (?, 'h', 'ada@example.test', 'pending', "
            "'unpaid', 'manual', 'EUR', 450, 0, 0, 1, 450, 'pickup', '{}', '{}', 'v1', ?, ?, ?)",
            (number, now, now, now)).lastrowid
        conn.execute("INSERT INTO order_lines (order_id, sku, name, title, quantity, unit_price, line_total, "
                     "track_stock) VALUES (?, 'RYE', 'Rye', 'Rye', 2, 225, 450, 1)", (order,))
        conn.execute("UPDATE stock SET reserved = reserved + 2 WHERE sku = 'RYE'")


def consistent(conn: sqlite3.Connection) -> int:
    """Every order has its line and its reservation; returns how many orders there are."""
    orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    lines = conn.execute("SELECT count(*), coalesce(sum(quantity), 0) FROM order_lines").fetchone()
    reserved = conn.execute("SELECT reserved FROM stock WHERE sku = 'RYE'").fetchone()[0]
    assert tuple(lines) == (orders, 2 * orders) and reserved == 2 * orders
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return orders


def count_orders(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(name="shop")
def fx_shop(platform):
    """The bakery with stock to reserve, and its backups in the default store."""
    settings, tenants = platform
    conn = tenants.open_db("bakery")
    with conn:
        conn.execute("INSERT INTO stock (sku, on_hand, reserved, updated_at) VALUES ('RYE', 1000000, 0, '')")
    yield settings, tenants, conn
    conn.close()


# -- snapshots ---------------------------------------------------------------------------------


def test_a_backup_taken_while_orders_are_written_restores_consistent(shop, tmp_path):
    settings, _, conn = shop
    store = backups(settings)
    writer = settings.data_dir / "tenants" / "bakery" / "tenant.db"
    started, stop = threading.Event(), threading.Event()
    written = []

    def write():
        own = sqlite3.connect(writer, timeout=30, isolation_level=None)
        own.execute("PRAGMA busy_timeout=30000")
        number = 0
        while not stop.is_set():
            number += 1
            place_order(own, number)
            written.append(number)
            if number == 20:
                started.set()
        own.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert started.wait(30)
        taken = [store.take("bakery", "manual", T0 + timedelta(minutes=i)) for i in range(5)]
    finally:
        stop.set()
        thread.join()
    counts = []
    for n, done in enumerate(taken):
        copy = tmp_path / f"copy{n}.db"
        store.verify(done.backup, copy)  # sha256 and integrity check
        counts.append(consistent(sqlite3.connect(copy)))
    assert 20 <= counts[0] and counts == sorted(counts)  # taken while orders kept coming, each a whole set
    store.restore("bakery", taken[2].backup, T0 + timedelta(hours=1))
    assert consistent(conn) == counts[2]  # read through a connection opened before the restore


def test_an_unchanged_database_makes_no_new_object(shop):
    settings, _, conn = shop
    store = backups(settings)
    first = store.take("bakery", "manual", T0)
    again = store.take("bakery", "scheduled", T0 + timedelta(days=1))
    assert first.new and not again.new and again.backup == first.backup
    folder = settings.data_dir / "backups" / "bakery"
    assert sorted(p.name for p in folder.iterdir()) == ["20261201T031500Z.db.gz", "20261201T031500Z.json"]
    place_order(conn, 1)
    assert store.take("bakery", "manual", T0 + timedelta(days=2)).new
    assert len(list(folder.iterdir())) == 4
    meta = json.loads((folder / "20261201T031500Z.json").read_text())
    assert meta["reason"] == "manual" and meta["schema"] == max(r[0] for r in conn.execute("SELECT name FROM _migrations"))
    assert meta["size"] == len(gzip.decompress((folder / "20261201T031500Z.db.gz").read_bytes()))
    assert oct(folder.stat().st_mode & 0o777) == "0o700"  # customers' data: this user's only


# -- retention ---------------------------------------------------------------------------------


def stamps(*moments: datetime) -> list[str]:
    return [m.strftime("%Y%m%dT%H%M%SZ") for m in moments]


def test_retention_keeps_the_recent_days_then_one_a_week_for_eight_weeks():
    now = datetime(2026, 12, 31, 12, tzinfo=timezone.utc)
    daily = [now - timedelta(days=d) for d in range(0, 120)]
    kept = sorted(retained(stamps(*daily), now, keep_days=14))
    recent = stamps(*(m for m in daily if m >= now - timedelta(days=14)))
    assert set(recent) <= set(kept) and len(recent) == 15
    older = [datetime.strptime(s, "%Y%m%dT%H%M%SZ") for s in kept if s not in recent]
    weeks = Tally(m.isocalendar()[:2] for m in older)
    assert set(weeks.values()) == {1} and len(weeks) in (8, 9)  # one per calendar week, 8 weeks back
    earlier = [m.replace(tzinfo=None) for m in daily if m < now - timedelta(days=14)]
    for moment in older:  # each the newest of its week among the backups before the recent days
        assert all(other.isocalendar()[:2] != moment.isocalendar()[:2] or other <= moment for other in earlier)
    assert min(older) >= (now - timedelta(days=14 + 56 + 1)).replace(tzinfo=None)


def test_retention_never_prunes_the_newest():
    now = datetime(2026, 12, 31, tzinfo=timezone.utc)
    old = stamps(now - timedelta(days=400), now - timedelta(days=401))
    assert retained(old, now, keep_days=14) == {old[0]}
    assert retained(old, now, keep_days=0) == {old[0]}


def test_pruning_runs_after_each_backup(shop):
    settings, _, conn = shop
    store = backups(settings)
    for day in range(30):
        place_order(conn, day + 1)
        taken = store.take("bakery", "scheduled", T0 + timedelta(days=day))
    left = [b.stamp for b in store.list("bakery")]
    assert left == sorted(retained(left, T0 + timedelta(days=29), 14))
    assert len(left) < 30 and left[-1] == taken.backup.stamp
    assert all((T0 + timedelta(days=29) - b.taken_at).days <= 14 + 56 for b in store.list("bakery"))
    files = {p.name.split(".")[0] for p in (settings.data_dir / "backups" / "bakery").iterdir()}
    assert files == set(left)  # both files of each pruned backup went


# -- restore -----------------------------------------------------------------------------------


@pytest.fixture(name="served")
def fx_served(tmp_path):
    """A running API over HTTP (tenant alpha with a shop), and shoppers' orders placed through it."""
    port = free_port()
    data = tmp_path / "data"
    services, tenants, config = populate(data, port)
    from commerce_api.app import create_app
    from commerce_api.shop.orders import Orders
    from publish.catalog import import_snapshot

    conn = tenants.open_db("alpha")
    import_snapshot(conn, CATALOG)
    Orders(conn).set_stock("RYE", 50)
    conn.close()
    with serving(create_app(config, services), port) as base:
        yield World(base, services, tenants), data
    tenants.close()


def orders_seen(world: World) -> list[int]:
    with world.client("alpha") as client:
        response = client.get("/api/admin/orders", headers={"Authorization": f"Bearer {world.token('alpha', 'owner')}"})
    assert response.status_code == 200, response.text
    return sorted(o["number"] for o in response.json())


def shopper_orders(world: World, n: int) -> None:
    with world.client("alpha") as client:
        for _ in range(n):
            assert checkout(client, cart(client, ("RYE", 1))).status_code == 201


def test_restore_at_a_time_takes_the_newest_backup_before_it_and_the_running_api_serves_it(served):
    world, data = served
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(data)})
    store = backups(settings)
    base = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=1)
    shopper_orders(world, 1)
    store.take("alpha", "manual", base)
    shopper_orders(world, 1)
    store.take("alpha", "manual", base + timedelta(hours=2))
    shopper_orders(world, 2)
    live = orders_seen(world)  # the API's pooled connection is open from here on
    assert len(live) == 4

    at = (base + timedelta(minutes=45)).replace(tzinfo=None).isoformat()  # naive: UTC
    result = cli(data, "tenant", "restore", "alpha", "--at", at, "--yes")
    assert result.exit_code == 0, result.output
    assert f"restored alpha's database from its backup of {words(base)}" in result.output
    assert orders_seen(world) == live[:1]  # the running API, through the connection it already had
    listed = store.list("alpha")
    assert [b.reason for b in listed] == ["manual", "manual", "before-restore"]
    assert count_orders(_fetched(store, listed[-1])) == 4  # what was replaced is kept

    at = (base + timedelta(hours=3)).astimezone(timezone(timedelta(hours=1))).isoformat()  # 1 h ahead of UTC
    result = cli(data, "tenant", "restore", "alpha", "--at", at, "--yes")
    assert result.exit_code == 0, result.output
    assert orders_seen(world) == live[:2]
    shopper_orders(world, 1)  # the shop goes on numbering after the restored orders
    assert orders_seen(world) == live[:3]


def _fetched(store: Backups, backup) -> Path:
    target = store.root.parent / f"check-{backup.stamp}.db"
    store.verify(backup, target)
    return target


@pytest.mark.parametrize("damage", ["tampered", "truncated", "not a database"])
def test_a_damaged_backup_is_refused_and_the_live_database_untouched(shop, damage):
    settings, _, conn = shop
    store = backups(settings)
    taken = store.take("bakery", "manual", T0).backup
    place_order(conn, 1)
    packed = settings.data_dir / "backups" / "bakery" / f"{taken.stamp}.db.gz"
    raw = gzip.decompress(packed.read_bytes())
    if damage == "tampered":  # a valid database, but not the one recorded
        other = settings.data_dir / "other.db"
        snapshot_conn = sqlite3.connect(other)
        conn.backup(snapshot_conn)
        snapshot_conn.close()
        packed.write_bytes(gzip.compress(other.read_bytes()))
    elif damage == "truncated":
        packed.write_bytes(gzip.compress(raw)[:-100])
    else:  # the checksum recorded for it, but not a database
        garbage = b"x" * len(raw)
        packed.write_bytes(gzip.compress(garbage))
        sidecar = packed.with_name(f"{taken.stamp}.json")
        import hashlib

        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "sha256": hashlib.sha256(garbage).hexdigest()}))
    before = (settings.data_dir / "tenants" / "bakery" / "tenant.db").read_bytes()
    result = cli(settings.data_dir, "tenant", "restore", "bakery", "--at", "latest", "--yes")
    assert result.exit_code == 1
    assert result.output.startswith("Error: the backup of bakery from 2026-12-01 03:15:00 UTC ")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert consistent(conn) == 1  # the order placed after the backup is still there
    assert (settings.data_dir / "tenants" / "bakery" / "tenant.db").read_bytes() == before
    assert [b.reason for b in store.list("bakery")] == ["manual"]  # refused before anything was taken
    with pytest.raises(CorruptBackup):
        store.restore("bakery", taken)


def test_a_backup_from_a_newer_schema_is_refused(shop):
    settings, _, conn = shop
    store = backups(settings)
    with conn:
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('9999_from_the_future', '')")
    future = store.take("bakery", "manual", T0).backup
    assert future.schema == "9999_from_the_future"
    with conn:
        conn.execute("DELETE FROM _migrations WHERE name = '9999_from_the_future'")
    place_order(conn, 1)
    result = cli(settings.data_dir, "tenant", "restore", "bakery", "--at", "latest", "--yes")
    assert result.exit_code == 1 and "made by a newer Tessera" in result.output
    assert "upgrade Tessera before restoring it" in result.output
    assert consistent(conn) == 1
    # Also when the sidecar does not say so: the database itself is read before anything changes.
    sidecar = settings.data_dir / "backups" / "bakery" / f"{future.stamp}.json"
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "schema": "0001_meta"}))
    with pytest.raises(NewerSchema):
        store.restore("bakery", store.choose("bakery", None))
    assert consistent(conn) == 1


def test_an_older_backup_is_migrated_forward(shop, tmp_path):
    settings, tenants, conn = shop
    store = backups(settings)
    taken = store.take("bakery", "manual", T0).backup
    # Make the stored backup an older one: its last migration undone (the deploy timings column).
    copy = tmp_path / "old.db"
    store.verify(taken, copy)
    old = sqlite3.connect(copy)
    with old:
        old.execute("ALTER TABLE deploys DROP COLUMN timings")
        old.execute("DELETE FROM _migrations WHERE name = '0012_deploy_timings'")
    old.execute("PRAGMA journal_mode=DELETE")
    old.close()
    older = replace(taken, stamp="20261130T000000Z", schema="0011_analytics")
    bytes_ = copy.read_bytes()
    import hashlib

    older = replace(older, sha256=hashlib.sha256(bytes_).hexdigest(), size=len(bytes_))
    root = settings.data_dir / "backups"
    (root / older.key).write_bytes(gzip.compress(bytes_))
    (root / older.meta_key).write_text(json.dumps({k: v for k, v in older.record().items()}))
    restored = store.restore("bakery", older)
    assert restored.migrated == ["0012_deploy_timings"]
    assert "timings" in [r[1] for r in conn.execute("PRAGMA table_info(deploys)")]


# -- the S3 store --------------------------------------------------------------------------------


def test_backups_on_s3_dedupe_restore_and_refuse_tampering(shop, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings, _, conn = shop
    name = f"tessera-backups-{free_port()}"
    settings = replace(settings, backup_storage=f"s3://{name}", s3_endpoint_url=s3_endpoint)
    store = backups(settings)
    first = store.take("bakery", "manual", T0)
    assert first.where == f"s3://{name}/bakery/20261201T031500Z.db.gz"
    assert not store.take("bakery", "scheduled", T0 + timedelta(days=1)).new
    s3 = open_store(settings.backup_storage, "bakery", settings.data_dir, s3_endpoint)
    assert sorted(s3.keys("bakery/")) == ["bakery/20261201T031500Z.db.gz", "bakery/20261201T031500Z.json"]
    place_order(conn, 1)
    second = store.take("bakery", "manual", T0 + timedelta(days=2))
    assert second.new and len(s3.keys("bakery/")) == 4
    restored = store.restore("bakery", store.choose("bakery", T0 + timedelta(hours=1)), T0 + timedelta(days=3))
    assert restored.backup == first.backup and not restored.before.new  # the live one was backed up already
    assert consistent(conn) == 0
    s3.put_bytes(second.backup.key, gzip.compress(b"not the database"))
    with pytest.raises(CorruptBackup, match="does not match its checksum"):
        store.restore("bakery", second.backup)
    assert consistent(conn) == 0


# -- the schedule ------------------------------------------------------------------------------


def test_each_shop_has_its_own_slot_spread_over_the_interval():
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    starts = [slot(f"shop-{n}", 24, now) for n in range(1000)]
    assert all(now - timedelta(hours=24) < s <= now for s in starts)
    per_second = Tally(starts)
    assert max(per_second.values()) <= 3 and len(per_second) > 950
    assert slot("bakery", 24, now) == slot("bakery", 24, now + timedelta(hours=24)) - timedelta(hours=24)


def test_housekeeping_queues_each_shops_backup_at_its_slot_once_per_interval(platform):
    from tessera.housekeeping import Housekeeper

    settings, _ = platform
    queue = Queue(settings.data_dir / "platform.db")
    seen = threading.Event()
    queue.listeners.append(seen.set)
    keeper = Housekeeper(settings, every=3600, first_after=0.01, schedule_every=3600, queue=queue)
    before = datetime.now(timezone.utc)
    keeper.start()
    try:
        deadline = datetime.now(timezone.utc) + timedelta(seconds=20)
        while not _backup_jobs(queue) and datetime.now(timezone.utc) < deadline:
            seen.wait(0.1)
    finally:
        keeper.stop()
    jobs = _backup_jobs(queue)
    assert [(j.tenant, j.actor, j.status) for j in jobs] == [("bakery", "schedule", "queued")]  # the studio has no shop
    due = datetime.fromisoformat(jobs[0].run_after)
    assert due in {slot("bakery", 24, before) + timedelta(hours=24),
                   slot("bakery", 24, datetime.now(timezone.utc)) + timedelta(hours=24)}
    assert schedule_backups(settings) == {}  # the chain is alive: nothing more is queued

    # The job at its slot backs up, then queues the next slot; a second run in the same slot skips.
    job = jobs[0]
    with queue.conn:  # as a runner claims it when it comes due (here the test says when that is)
        queue.conn.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job.id,))
    at = due + timedelta(seconds=5)
    assert "backed up bakery" in backup_job(settings, job, now=at)
    assert "in this slot already" in backup_job(settings, job, now=at + timedelta(minutes=1))
    assert [b.reason for b in backups(settings).list("bakery")] == ["scheduled"]
    waiting = [j for j in _backup_jobs(queue) if j.status == "queued" and j.id != job.id]
    assert [datetime.fromisoformat(j.run_after) for j in waiting] == [due + timedelta(hours=24)]


def test_scheduled_backups_are_off_with_interval_zero(platform):
    settings, _ = platform
    off = replace(settings, backup_interval=0)
    assert schedule_backups(off) == {}
    assert _backup_jobs(Queue(settings.data_dir / "platform.db")) == []
    job = Queue(settings.data_dir / "platform.db").enqueue("bakery", BACKUP, actor="schedule")  # queued before
    assert "off" in backup_job(off, job)
    assert backups(off).list("bakery") == [] and len(_backup_jobs(Queue(settings.data_dir / "platform.db"))) == 1
    assert Settings.from_env({"TESSERA_DATA_DIR": str(settings.data_dir), "TESSERA_BACKUP_INTERVAL": "0"}).backup_interval == 0


def test_the_job_runner_runs_backup_jobs(platform):
    from tessera.app import job_runner

    settings, _ = platform
    queue = Queue(settings.data_dir / "platform.db")
    queue.enqueue("studio", BACKUP, actor="cli")
    finished = job_runner(settings).run_once()
    assert finished.status == "done" and finished.log.startswith("backed up studio to ")
    assert queue.list("studio") == []  # the site's people see publishes, not the operator's backups


def _backup_jobs(queue: Queue):
    rows = queue.conn.execute("SELECT id FROM jobs WHERE kind = 'backup' ORDER BY id").fetchall()
    return [queue.get(r[0]) for r in rows]


# -- never served ------------------------------------------------------------------------------


def test_the_backup_store_is_never_served(tmp_path):
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.app import make_app
    from tessera.settings import ROOT
    from tessera.sites import publish_tenant

    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path / "data"), "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    publish_tenant(settings, tenants, "bakery", actor="test")
    taken = backups(settings).take("bakery", "manual").backup
    backups_dir = settings.data_dir / "backups"
    buckets_dir = settings.data_dir / "buckets"
    assert (backups_dir / taken.key).is_file() and buckets_dir not in (backups_dir / taken.key).parents
    paths = [f"/{taken.key}", f"/backups/{taken.key}", f"/{taken.meta_key}", f"/../../backups/{taken.key}",
             f"/%2e%2e/%2e%2e/backups/{taken.key}", f"/..%2f..%2fbackups%2f{taken.key}",
             f"/_tessera/../../../backups/{taken.meta_key}", f"/{taken.stamp}.db.gz"]
    with serving(make_app(settings, jobs=False), port) as base:
        assert httpx.get(base + "/", headers={"Host": "bakery.localhost"}).status_code == 200
        for path in paths:
            for host in ("bakery.localhost", "localhost", "admin.localhost"):
                response = httpx.get(base + path, headers={"Host": host})
                assert response.status_code == 404, (host, path)
                assert taken.sha256 not in response.text
    tenants.close()


@pytest.mark.parametrize("env,message", [
    ({"TESSERA_BACKUP_STORAGE": "ftp://x"}, "must start with file:// or s3://"),
    ({"TESSERA_BACKUP_STORAGE": "s3://"}, "must name one private bucket"),
    ({"TESSERA_BACKUP_STORAGE": "s3://sites-{tenant}", "TESSERA_STORAGE": "s3://sites-{tenant}"},
     "must not be the sites' buckets"),
    ({"TESSERA_BACKUP_STORAGE": "file://{data}/buckets/backups"}, "apart from the sites' buckets"),
    ({"TESSERA_BACKUP_STORAGE": "file://{data}/b", "TESSERA_STORAGE": "file://{data}/b/sites"},
     "apart from the sites' buckets"),
    ({"TESSERA_BACKUP_KEEP_DAYS": "two weeks"}, "TESSERA_BACKUP_KEEP_DAYS"),
    ({"TESSERA_BACKUP_INTERVAL": "-1"}, "TESSERA_BACKUP_INTERVAL"),
    ({"TESSERA_BACKUP_INTERVAL": "1.5"}, "TESSERA_BACKUP_INTERVAL"),
])
def test_backup_settings_are_checked(tmp_path, env, message):
    env = {k: v.replace("{data}", str(tmp_path)) for k, v in env.items()}
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), **env})


def test_backup_settings_defaults(tmp_path):
    s = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)})
    assert (s.backup_storage, s.backup_keep_days, s.backup_interval) == ("file://", 14, 24)
    s = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_BACKUP_STORAGE": "s3://backups-{tenant}",
                           "TESSERA_BACKUP_KEEP_DAYS": "30", "TESSERA_BACKUP_INTERVAL": "6"})
    assert (s.backup_storage, s.backup_keep_days, s.backup_interval) == ("s3://backups-{tenant}", 30, 6)


# -- the commands ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["backup", "backups", "restore"])
def test_each_command_has_help(command):
    result = CliRunner().invoke(main, ["tenant", command, "--help"])
    assert result.exit_code == 0 and len(result.output.split("Options:")[0].split("\n", 2)[2].strip()) > 40


def test_backup_list_and_restore_from_the_command_line(shop):
    settings, _, conn = shop
    data = settings.data_dir
    result = cli(data, "tenant", "backup", "bakery")
    assert result.exit_code == 0, result.output
    assert "backed up bakery to " in result.output and "gzipped" in result.output
    assert "unchanged bakery" in cli(data, "tenant", "backup", "bakery").output
    result = cli(data, "tenant", "backup", "--all")
    assert result.exit_code == 0 and "2 of 2 backed up" in result.output
    listed = json.loads(cli(data, "tenant", "backups", "bakery", "--json").output)
    assert [b["reason"] for b in listed] == ["manual"] and len(listed[0]["sha256"]) == 64
    table = cli(data, "tenant", "backups", "bakery").output.splitlines()
    assert table[0].split("\t")[:4] == ["time", "database", "gzipped", "reason"] and len(table) == 2
    place_order(conn, 1)
    result = CliRunner(env={"TESSERA_DATA_DIR": str(data)}).invoke(
        main, ["tenant", "restore", "bakery", "--at", "latest"], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output and consistent(conn) == 1
    result = CliRunner(env={"TESSERA_DATA_DIR": str(data)}).invoke(
        main, ["tenant", "restore", "bakery", "--at", "latest"], input="y\n")
    assert result.exit_code == 0, result.output
    assert "the database it replaced was backed up first" in result.output and consistent(conn) == 0


def test_a_tenant_moving_leaves_a_backup_on_each_side(shop, tmp_path):
    settings, _, _ = shop
    archive = tmp_path / "bakery.tar.gz"
    result = cli(settings.data_dir, "export", "bakery", str(archive))
    assert result.exit_code == 0 and "backed up bakery to " in result.output
    result = cli(settings.data_dir, "import", str(archive), "--slug", "bakery2")
    assert result.exit_code == 0, result.output
    store = backups(settings)
    assert [b.reason for b in store.list("bakery")] == ["export"]
    assert [b.reason for b in store.list("bakery2")] == ["import"]


def test_a_move_goes_on_when_the_backup_store_cannot_be_reached(shop, tmp_path):
    settings, _, _ = shop
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the backups' folder should be")
    result = cli(settings.data_dir, "export", "bakery", str(tmp_path / "b.tar.gz"),
                 TESSERA_BACKUP_STORAGE=f"file://{blocked}")
    assert result.exit_code == 0 and "bakery's database was not backed up" in result.output
    assert (tmp_path / "b.tar.gz").is_file()


@pytest.mark.parametrize("args,code,message", [
    (["restore", "bakery", "--at", "yesterday"], 2, "'yesterday' is not a time"),
    (["restore", "bakery", "--at", "2026-13-01"], 2, "is not a time"),
    (["restore", "bakery"], 2, "Missing option '--at'"),
    (["restore", "nobody", "--at", "latest", "--yes"], 1, "no tenant called 'nobody'"),
    (["backup", "nobody"], 1, "no tenant called 'nobody'"),
    (["backups", "nobody"], 1, "no tenant called 'nobody'"),
    (["backup"], 2, "give either SLUG or --all"),
    (["restore", "bakery", "--at", "latest", "--yes"], 1, "bakery has no backups yet"),
    (["restore", "studio", "--at", "2020-01-01", "--yes"], 1, "studio has no backup at or before 2020-01-01 00:00:00 UTC"),
])
def test_errors_are_one_clear_line(shop, args, code, message):
    settings, _, _ = shop
    cli(settings.data_dir, "tenant", "backup", "studio")
    result = cli(settings.data_dir, "tenant", *args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
