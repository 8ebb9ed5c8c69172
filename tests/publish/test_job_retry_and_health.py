"""What the operator's health page reads from the queue: depth per lane and the oldest due job's age,
failed jobs, and a retry that puts a failed job (only a failed one) back in the queue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from content.migrations import platform_location
from publish.errors import NotRetryable
from publish.jobs import Queue

# Platform state on both engines: SQLite's platform.db and PostgreSQL.
pytestmark = pytest.mark.usefixtures("platform_engine")


def test_a_failed_job_goes_back_to_the_queue_once_and_runs_again(tmp_path):
    queue = Queue(platform_location(tmp_path))
    job = queue.enqueue("bakery", actor="t")
    queue.finish(queue.claim(), False, "publish failed: disk full")
    assert [j.id for j in queue.failed()] == [job.id]

    before = queue.retry(job.id)
    assert before.status == "failed" and before.log == "publish failed: disk full"  # for the audit entry
    again = queue.get(job.id)
    assert (again.status, again.started_at, again.finished_at, again.log) == ("queued", None, None, "")
    assert queue.failed() == []
    with pytest.raises(NotRetryable, match="queued, not failed"):
        queue.retry(job.id)  # a second click does not queue it twice
    with pytest.raises(NotRetryable, match="no job 999"):
        queue.retry(999)
    assert queue.claim().id == job.id


def test_health_counts_due_jobs_per_lane_and_the_oldest_ones_age(tmp_path):
    queue = Queue(platform_location(tmp_path))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    assert queue.health(now) == {"publish_due": 0, "notify_due": 0, "due": 0, "scheduled": 0, "running": 0,
                                 "oldest_due": None, "oldest_age_seconds": 0}
    queue.enqueue("a", actor="t", run_after=now - timedelta(minutes=5))
    queue.enqueue("b", actor="t", run_after=now - timedelta(minutes=1))
    queue.enqueue("a", "notify", actor="t", run_after=now - timedelta(seconds=30))
    queue.enqueue("c", actor="t", run_after=now + timedelta(hours=1))
    running = queue.enqueue("d", actor="t", run_after=now - timedelta(minutes=10))
    queue.conn.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (running.id,))
    queue.conn.commit()
    health = queue.health(now)
    assert (health["publish_due"], health["notify_due"], health["due"], health["scheduled"], health["running"]) \
        == (2, 1, 3, 1, 1)
    assert health["oldest_age_seconds"] == 300
