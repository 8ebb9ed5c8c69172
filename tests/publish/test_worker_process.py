"""Builds run in worker processes, never in the serving one: `tessera worker` takes publishes from the
shared queue, a job queued anywhere wakes it at once, and it stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from content.registry import parse_features
from content.tenants import Tenants
from publish.jobs import Queue
from tessera.settings import ROOT, Settings
from tessera.worker import sockets_dir, wake_workers


@pytest.fixture(name="data")
def fx_data(tmp_path):
    tenants = Tenants(tmp_path, ROOT / "sites")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio")
    tenants.close()
    return tmp_path


def _wait(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_worker_process_publishes_what_is_queued_and_stops_on_sigterm(data):
    env = {**os.environ, "TESSERA_DATA_DIR": str(data)}
    worker = subprocess.Popen([sys.executable, "-m", "tessera.cli", "worker"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        folder = sockets_dir(Settings.from_env(env))
        assert _wait(lambda: [p.name.split("-")[0] for p in folder.glob("*.sock")] == [f"{worker.pid}"], 30)
        queue = Queue(data / "platform.db")
        job = queue.enqueue("studio", actor="test")
        wake_workers(folder)
        assert _wait(lambda: queue.get(job.id).status in ("done", "failed"))
        assert queue.get(job.id).status == "done", queue.get(job.id).log
        assert (data / "buckets" / "studio" / "current" / "index.html").is_file()
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=60)[0].decode()
    assert worker.returncode == 0, output
    assert list(folder.glob("*.sock")) == []  # it cleans up after itself


def test_a_queued_job_wakes_the_worker_at_once(data):
    from tessera.worker import Worker

    settings = Settings.from_env({"TESSERA_DATA_DIR": str(data)})
    worker = Worker(settings, poll=3600)  # without the wake-up it would not look again for an hour
    worker.start()
    try:
        queue = Queue(data / "platform.db")
        time.sleep(0.3)  # let it find the queue empty and go to sleep
        job = queue.enqueue("studio", actor="test")
        wake_workers(sockets_dir(settings))
        assert _wait(lambda: queue.get(job.id).status == "done", 60), queue.get(job.id).log
    finally:
        worker.stop()


def test_a_socket_left_by_a_dead_worker_is_removed(data):
    import socket

    folder = data / "workers"
    folder.mkdir()
    dead = folder / "999999.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(dead))
    wake_workers(folder)  # nobody listens there any more
    assert not dead.exists()


def test_the_serving_app_runs_no_jobs_when_told(data):
    from tessera.app import make_app

    settings = Settings.from_env({"TESSERA_DATA_DIR": str(data)})
    platform = make_app(settings, jobs=False)
    platform.start_jobs()
    try:
        assert platform.runner.threads == [] and not platform.housekeeper.running
    finally:
        platform.stop_jobs()


def test_a_worker_stops_when_the_server_that_started_it_is_killed(data):
    """`tessera serve` killed outright (SIGKILL: no clean-up) must not leave its worker running."""
    env = {**os.environ, "TESSERA_DATA_DIR": str(data)}
    script = ("import subprocess, sys, time; "
              "p = subprocess.Popen([sys.executable, '-m', 'tessera.cli', 'worker', '--parent', str(__import__('os').getpid())]); "
              "print(p.pid, flush=True); time.sleep(600)")
    server = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT, stdout=subprocess.PIPE)
    worker_pid = int(server.stdout.readline())
    assert _wait(lambda: list((data / "workers").glob(f"{worker_pid}-*.sock")), 30)
    server.kill()
    server.wait()

    def gone() -> bool:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            return True
        # A zombie (the dead server's child, not yet reaped by init) has stopped too.
        try:
            return Path(f"/proc/{worker_pid}/stat").read_text().split()[2] == "Z"
        except FileNotFoundError:
            return True

    assert _wait(gone, 30)


def test_a_worker_in_a_folder_too_deep_for_a_socket_still_takes_jobs(tmp_path):
    """A socket's path has at most 107 bytes: in a deeper data folder the worker looks at the queue
    instead of being woken, and still publishes."""
    from tessera.worker import Worker

    deep = tmp_path / ("d" * 120)
    tenants = Tenants(deep, ROOT / "sites")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio")
    tenants.close()
    worker = Worker(Settings.from_env({"TESSERA_DATA_DIR": str(deep)}), poll=0.2)
    assert worker._bound is False
    worker.start()
    try:
        queue = Queue(deep / "platform.db")
        job = queue.enqueue("studio", actor="test")
        wake_workers(sockets_dir(worker.settings))  # nobody can listen there: no harm done
        assert _wait(lambda: queue.get(job.id).status == "done", 60), queue.get(job.id).log
    finally:
        worker.stop()
