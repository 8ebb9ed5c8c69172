"""A publish killed part-way (SIGKILL, power cut) leaves nothing that outlives it or blocks the next
one: its build workers die with it, and the next start fails its deploy and clears its leftovers."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from publish.deploy import INTERRUPTED, list_deploys
from publish.jobs import Queue
from publish.storage import FileStorage
from tessera.app import job_runner
from tessera.settings import ROOT
from tests.publish.test_concurrent_jobs import tenant_with_pages_of_its_own

# Publishes like a job does (the job is claimed, so it is 'running'), and stops dead at a hook:
# "render" once worker processes are rendering, "upload" once the deploy is recorded and the
# bucket is being written. It says "ready" and waits there to be killed.
PUBLISHER = textwrap.dedent("""
    import sys
    from content.tenants import Tenants
    from publish.jobs import Queue
    from publish.storage import FileStorage
    from tessera.settings import Settings
    from tessera.sites import publish_tenant

    data_dir, slug, where = sys.argv[1:]
    settings = Settings.from_env({"TESSERA_DATA_DIR": data_dir})
    Queue(settings.data_dir / "platform.db").claim()

    def stop_here(*args):
        print("ready", flush=True)
        sys.stdin.read()

    def progress(done, total):
        if done and where == "render":
            stop_here()

    apply = FileStorage.apply
    FileStorage.apply = lambda self, change, progress=None: apply(self, change, stop_here)
    if where == "render":
        FileStorage.apply = apply
    publish_tenant(settings, Tenants(settings.data_dir, settings.sites_dir), slug, actor="test", progress=progress)
""")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait for any process (not only a child of ours) to end, on its pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


@pytest.mark.parametrize("where", ["render", "upload"])
def test_killed_publish_is_cleaned_up_at_next_start(where, platform):
    settings, tenants = platform
    slug = tenant_with_pages_of_its_own(tenants, 0)
    queue = Queue(settings.data_dir / "platform.db")
    job = queue.enqueue(slug, actor="test")
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(settings.data_dir), slug, where],
                                 cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert publisher.stdout.readline() == b"ready\n"
        workers = children(publisher.pid)
        publisher.kill()
        publisher.wait()
    finally:
        publisher.stdin.close()
        publisher.stdout.close()
    assert queue.get(job.id).status == "running"
    tenant_dir = tenants.folder(slug)
    if where == "render":
        assert len(workers) >= 2  # the build's worker processes (and the source's git process)
        survivors = [pid for pid in workers if not wait_for_exit(pid, timeout=30)]
        for pid in survivors:  # do not leave them behind on a failure
            os.kill(pid, signal.SIGKILL)
        assert survivors == [], "these processes outlived the publish that started them"
        assert list(tenant_dir.glob(".build.staging-*"))  # the killed build's half-made output
    else:
        assert [d.status for d in _deploys(tenants, slug)] == ["running"]

    # What `tessera serve` does at start, with no worker thread so that nothing but the start-up
    # itself has touched the tenant when we look.
    runner = job_runner(settings, workers=0)
    runner.start()
    assert queue.get(job.id).status == "queued"
    assert not list(tenant_dir.glob(".build.staging-*"))
    bucket = settings.data_dir / "buckets" / slug
    assert not list(bucket.glob(".current.*")) and not list(bucket.glob("blobs/*/.*"))
    if where == "upload":
        assert [(d.status, d.message) for d in _deploys(tenants, slug)] == [("failed", INTERRUPTED)]
    # and the requeued job publishes as if nothing had happened
    assert runner.run_once().status == "done"
    assert _deploys(tenants, slug)[0].status == "live"
    live = bucket / "current"
    assert (live / "blog" / "own-59" / "index.html").exists()


def _deploys(tenants, slug):
    conn = tenants.open_db(slug)
    try:
        return list_deploys(conn)
    finally:
        conn.close()


def test_cleaning_a_bucket_removes_what_a_killed_publish_left_and_keeps_the_live_site(platform):
    from tessera.sites import publish_tenant

    settings, tenants = platform
    publish_tenant(settings, tenants, "studio", actor="test")
    bucket = FileStorage(settings.data_dir / "buckets" / "studio")
    live = os.readlink(bucket.current)
    before = {p: p.read_bytes() for p in bucket.current.rglob("*") if p.is_file()}
    # What a publish killed at each step leaves: a blob half copied, a release half assembled,
    # the new link made but not yet switched.
    blob_dir = next((bucket.root / "blobs").iterdir())
    (blob_dir / ".0123abcd.4242").write_bytes(b"half a blob")
    half = bucket.root / "releases" / str(int(Path(live).name) + 1)
    (half / "about").mkdir(parents=True)
    os.symlink(half.relative_to(bucket.root), bucket.root / ".current.4242")
    bucket.clean()
    assert not (blob_dir / ".0123abcd.4242").exists() and not half.exists()
    assert not (bucket.root / ".current.4242").is_symlink()
    assert os.readlink(bucket.current) == live
    assert {p: p.read_bytes() for p in bucket.current.rglob("*") if p.is_file()} == before
