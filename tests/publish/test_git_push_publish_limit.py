"""A push past the day's publishes: the commit lands (the pusher reads that it does), only the publish is
skipped, and the site's audit log records why. Real pushes over HTTP with the stock git client."""

from __future__ import annotations

import time

import pytest

from content import plans
from publish.jobs import Queue
from tests.publish.git_sites import OWNER, bakery_git_server
from tests.publish.test_git_push import git, remote


@pytest.fixture(name="bakery", scope="module")
def fx_bakery(tmp_path_factory):
    with bakery_git_server(tmp_path_factory, "gitpublishes") as (settings, tenants, services, port):
        yield tenants, port, Queue(settings.data_dir / "platform.db"), services


def _eventually(found, timeout: float = 30):
    """What ``found()`` returns once it is truthy: the server acts on a push after answering it."""
    deadline = time.monotonic() + timeout
    while not (result := found()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def _push(port, tmp_path, text: str):
    work = tmp_path / "work"
    git("clone", "-q", remote(port, OWNER, slug="bakery"), str(work))
    about = work / "pages" / "about.md"
    about.write_text(about.read_text() + f"\n{text}\n")
    git("commit", "-qam", "change", cwd=work)
    return git("push", "origin", "main", cwd=work, check=False)


def test_a_push_past_the_day_s_publishes_lands_but_is_not_published(bakery, tmp_path):
    tenants, port, queue, services = bakery
    plans.set_overrides(tenants.registry, "bakery", {"publishes_per_day": 0}, actor=None)
    try:
        head = tenants.repository("bakery").head()
        pushed = _push(port, tmp_path / "a", "Open on Sundays.")
        assert pushed.returncode == 0, pushed.stderr
        assert "Your push is accepted, but the site is NOT published" in pushed.stderr
        assert "This site's limit is 0 publishes a day" in " ".join(pushed.stderr.replace("remote:", "").split())
        assert tenants.repository("bakery").head() != head  # the commit landed
        [skipped] = _eventually(lambda: [e for e in services.audit.entries(tenants.registry.get("bakery").id)
                                         if e["event"] == "publish.skipped"])
        assert queue.list("bakery") == []  # and no publish was queued
        assert skipped["detail"]["via"] == "git push" and skipped["detail"]["limit"] == "publishes_per_day"
    finally:
        plans.set_overrides(tenants.registry, "bakery", {}, actor=None)
    published = _push(port, tmp_path / "b", "Closed on Mondays.")
    assert published.returncode == 0 and "Publishing after the push" in published.stderr
    [job] = _eventually(lambda: queue.list("bakery"))
    assert job.actor == "git push" and job.status in ("queued", "running", "done")  # started at once: the runner wakes
