"""The job queue: one job at a time per tenant, delays, failures recorded, scheduled publishes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest
from datetime import datetime, timedelta, timezone

from builder.errors import BuildErrors, ContentError
from content.migrations import platform_location
from content.registry import Registry
from publish.jobs import Queue, Runner
from tessera.app import job_runner, run_job
from tessera.sites import publish_tenant
from tests.publish.conftest import EDITOR

# Platform state on both engines: SQLite's platform.db and PostgreSQL.
pytestmark = pytest.mark.usefixtures("platform_engine")


def test_one_job_per_tenant_at_a_time(tmp_path):
    queue = Queue(platform_location(tmp_path))
    a1 = queue.enqueue("a", actor="t")
    assert queue.enqueue("a", actor="t").id == a1.id  # an identical waiting job is reused
    b1 = queue.enqueue("b", actor="t")
    later = queue.enqueue("c", actor="t", run_after=datetime.now(timezone.utc) + timedelta(hours=1))
    first = queue.claim()
    second = queue.claim()
    assert {first.tenant, second.tenant} == {"a", "b"} and queue.claim() is None  # c is not due
    queue.enqueue("a", actor="t")  # a is running: its next job waits
    assert queue.claim() is None
    queue.finish(first if first.tenant == "a" else second, True, "ok")
    assert queue.claim().tenant == "a"
    assert queue.get(later.id).status == "queued" and queue.get(b1.id).status == "running"


def test_a_job_already_waiting_is_found_without_a_write(tmp_path, monkeypatch):
    """A burst of orders each queues its shop's notify job: while one waits, queueing is a read."""
    import content.migrations as migrations
    import publish.jobs as jobs

    queue = Queue(platform_location(tmp_path))
    first = queue.enqueue("shop", "notify", actor="system")
    writes = []
    monkeypatch.setattr(jobs, "immediate", lambda conn: (writes.append(1), migrations.immediate(conn))[1])
    assert [queue.enqueue("shop", "notify", actor="system").id for _ in range(5)] == [first.id] * 5
    assert not writes
    claimed = queue.claim(lane="notify")
    assert claimed.id == first.id
    writes.clear()
    again = queue.enqueue("shop", "notify", actor="system")  # the waiting one runs now: a new one waits
    assert again.id != first.id and writes == [1]


DRAIN = """
import json, sys, time
from publish.jobs import Queue
queue, owner, taken = Queue(sys.argv[1]), sys.argv[2], []
while True:
    job = queue.claim("publish", owner)
    if job is None:
        break
    started = time.monotonic()
    time.sleep(0.01)
    taken.append([job.id, job.tenant, started, time.monotonic()])
    queue.finish(job, True, "ok")
print(json.dumps(taken))
"""


def test_runners_in_four_processes_take_each_job_once_and_one_per_tenant_at_a_time(tmp_path):
    queue = Queue(platform_location(tmp_path))
    queued = {queue.enqueue(f"t{n}", kind, actor="t").id for n in range(30) for kind in ("publish", "backup")}
    assert len(queued) == 60
    runners = [subprocess.Popen([sys.executable, "-c", DRAIN, str(platform_location(tmp_path)), f"runner-{n}"],
                                stdout=subprocess.PIPE, text=True, env=os.environ) for n in range(4)]
    taken = [row for runner in runners for row in json.loads(runner.communicate(timeout=120)[0])]
    ids = [row[0] for row in taken]
    assert sorted(ids) == sorted(queued)  # every job, each exactly once
    assert {queue.get(i).status for i in ids} == {"done"}
    by_tenant: dict[str, list] = {}
    for _, tenant, start, end in taken:
        by_tenant.setdefault(tenant, []).append((start, end))
    for spans in by_tenant.values():  # a tenant's publish and backup share a lane: never at once
        (a_start, a_end), (b_start, b_end) = sorted(spans)
        assert a_end <= b_start


def test_a_node_takes_only_the_jobs_of_tenants_it_holds(tmp_path):
    registry = Registry(platform_location(tmp_path))
    for slug, node in (("here", "n1"), ("there", "n2"), ("anywhere", None)):
        registry.add(slug, slug.title(), frozenset({"cms"}), node=node)
    queue = Queue(platform_location(tmp_path))
    for slug in ("there", "here", "anywhere"):
        queue.enqueue(slug, actor="t")
    assert {queue.claim(node="n1").tenant, queue.claim(node="n1").tenant} == {"here", "anywhere"}
    assert queue.claim(node="n1") is None  # "there" waits for node n2
    assert queue.claim(node="n2").tenant == "there"
    # Jobs left running by dead runners go back to the queue on the node that holds their tenant.
    assert queue.requeue_abandoned(node="n1") == ["anywhere", "here"]
    assert queue.requeue_abandoned(node="n2") == ["there"]


def test_runner_records_failures_and_goes_on(tmp_path, caplog):
    queue = Queue(platform_location(tmp_path))
    queue.enqueue("boom", actor="t")
    queue.enqueue("broken", actor="t")
    queue.enqueue("fine", actor="t")

    def execute(job):
        if job.tenant == "boom":
            raise RuntimeError("disk full at /srv/tessera/tenants/boom")
        if job.tenant == "broken":
            raise BuildErrors([ContentError("pages/about.md", 5, "links to product:rye, which does not exist")])
        return "published"

    runner = Runner(queue, execute)
    with caplog.at_level(logging.WARNING, logger="publish.jobs"):
        results = {job.tenant: job for job in (runner.run_once(), runner.run_once(), runner.run_once())}
    assert results["fine"].status == "done" and results["fine"].log == "published"
    # The admin shows job logs to the site's owners: a message for people, never a traceback.
    broken = results["broken"]
    assert broken.status == "failed"
    assert broken.log == ("publish failed: 1 problem in the site's files:\n"
                          "pages/about.md:5: links to product:rye, which does not exist")
    boom = results["boom"]
    assert boom.status == "failed" and "Traceback" not in boom.log and "/srv" not in boom.log
    assert boom.log.startswith("publish failed because of a problem on the server") and str(boom.id) in boom.log
    # The operators get the traceback in the server's log.
    (record,) = [r for r in caplog.records if r.exc_info]
    assert f"job {boom.id}" in record.getMessage() and "disk full" in str(record.exc_info[1])


def test_failed_publish_job_names_file_and_line(platform):
    settings, tenants = platform
    tenants.repository("studio").write({"pages/about.md": b"---\ntitle: About\n---\nSee [x](page:missing).\n"},
                                       EDITOR, "Break a link")
    queue = Queue(platform_location(settings.data_dir))
    queue.enqueue("studio", actor="test")
    job = job_runner(settings).run_once()
    assert job.status == "failed" and "Traceback" not in job.log
    assert "pages/about.md:4: links to page:missing" in job.log, job.log


def test_abandoned_jobs_go_back_to_the_queue(tmp_path):
    queue = Queue(platform_location(tmp_path))
    queue.enqueue("a", actor="t")
    queue.claim()  # the process running it dies here
    assert Queue(platform_location(tmp_path)).requeue_abandoned() == ["a"]
    assert queue.claim().tenant == "a"


def test_a_job_another_live_runner_holds_is_left_running(tmp_path):
    import subprocess
    import sys

    from publish.jobs import runner_id

    queue = Queue(platform_location(tmp_path))
    for tenant in ("here", "dead", "elsewhere", "silent"):
        queue.enqueue(tenant, actor="t")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        host = runner_id().split("/")[0]
        queue.claim(owner=f"{host}/{alive.pid}/aaaa")  # another worker on this machine, alive
        queue.claim(owner=f"{host}/{gone.pid}/bbbb")  # one whose process died
        queue.claim(owner="other-node/7/cccc")  # on another machine, beating
        queue.claim(owner="other-node/8/dddd")  # on another machine, silent for long
        with queue.conn:
            queue.conn.execute("UPDATE jobs SET heartbeat_at = '2020-01-01T00:00:00+00:00' WHERE tenant = 'silent'")
        starting = Queue(platform_location(tmp_path))
        assert starting.requeue_abandoned(runner_id()) == ["dead", "silent"]
        running = {job.tenant for job in queue.list() if job.status == "running"}
        assert running == {"here", "elsewhere"}
    finally:
        alive.kill()
        alive.wait()


def test_a_runner_beats_for_its_jobs_and_takes_back_those_of_dead_runners(platform):
    import threading

    settings, _ = platform
    queue = Queue(platform_location(settings.data_dir))
    queue.enqueue("studio", actor="t")
    queue.claim(owner="vanished-node/1/eeee")  # a runner elsewhere that died mid-job
    with queue.conn:
        queue.conn.execute("UPDATE jobs SET heartbeat_at = '2020-01-01T00:00:00+00:00'")
    done = threading.Event()
    runner = job_runner(settings, workers=1, beat=0.05, on_finish=lambda job: done.set())
    runner.queue = queue
    runner.start()  # at start it leaves nothing of its own; a beat later it takes the job back
    try:
        assert done.wait(60)
    finally:
        runner.stop()
    job = queue.list("studio")[0]
    assert job.status == "done"


def test_scheduled_content_is_published_when_due(platform, monkeypatch):
    import tessera.sites

    monkeypatch.setattr(tessera.sites, "SCHEDULE_SPREAD_SECONDS", 0)  # on the second, for this test
    settings, tenants = platform
    soon = datetime.now(timezone.utc) + timedelta(seconds=2)
    repo = tenants.repository("studio")
    repo.write({"posts/launch.md": f"---\ntitle: Launch day\npublished_at: {soon.isoformat()}\n---\nWe are open.\n".encode()},
               EDITOR, "Schedule the launch post")
    publish_tenant(settings, tenants, "studio", actor="test")
    live = settings.data_dir / "buckets" / "studio" / "current"
    assert not (live / "blog" / "launch" / "index.html").exists()
    queue = Queue(platform_location(settings.data_dir))
    (job,) = [j for j in queue.list("studio") if j.actor == "schedule"]
    assert job.run_after == (soon.replace(microsecond=0) + timedelta(seconds=1)).isoformat()  # never early
    runner = Runner(queue, lambda j: run_job(settings, j))
    time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 1.1)
    done = runner.run_once()
    assert done.status == "done", done.log
    assert "Launch day" in (live / "blog" / "launch" / "index.html").read_text()


def test_publish_of_a_deleted_tenant_fails_with_a_message(platform):
    settings, _ = platform
    queue = Queue(platform_location(settings.data_dir))
    queue.enqueue("gone", actor="test")
    job = job_runner(settings).run_once()
    assert job.status == "failed" and job.log.startswith("publish failed: ") and "gone" in job.log, job.log


def test_a_queued_job_wakes_an_idle_runner_at_once(tmp_path):
    """Save to live: a publish queued in the serving process starts without waiting for the next poll."""
    import threading

    queue = Queue(platform_location(tmp_path))
    done = threading.Event()
    runner = Runner(queue, lambda job: "published", workers=1, notify_workers=0, poll=600,
                    on_finish=lambda job: done.set())
    queue.listeners.append(runner.wake)
    runner.start()
    try:
        runner_idle = Queue(platform_location(tmp_path))  # another object on the same queue, as the API has
        runner_idle.listeners.append(runner.wake)
        assert not done.wait(0.2)  # nothing queued: the runner sleeps
        runner_idle.enqueue("a", actor="t")
        assert done.wait(10), "the runner slept through the new job"
    finally:
        runner.stop()
    assert runner.threads and not any(t.is_alive() for t in runner.threads)  # stop wakes it too


def test_scheduled_publishes_of_many_sites_are_spread_over_a_minute(platform):
    from publish.jobs import spread
    from tessera.sites import SCHEDULE_SPREAD_SECONDS

    settings, tenants = platform
    at = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    repo = tenants.repository("studio")
    repo.write({"posts/later.md": f"---\ntitle: Later\npublished_at: {at.isoformat()}\n---\nSoon.\n".encode()},
               EDITOR, "Schedule a post")
    publish_tenant(settings, tenants, "studio", actor="test")
    queue = Queue(platform_location(settings.data_dir))
    runs = sorted(j.run_after for j in queue.list("studio") if j.actor == "schedule" and j.status == "queued")
    assert (at + spread("studio", SCHEDULE_SPREAD_SECONDS)).isoformat() in runs
    offsets = {spread(f"site-{n}", 60).total_seconds() for n in range(1000)}
    assert min(offsets) >= 0 and max(offsets) < 60 and len(offsets) == 60  # a thousand sites use the whole minute
