"""`tessera publish --all` and `build --all`: one job per tenant for the running workers, waited for
with a bar; without workers (or with --here) the CLI does the work itself, one tenant after another."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from content.registry import parse_features
from content.tenants import Tenants
from publish.jobs import Queue
from tessera.cli import main
from tessera.settings import ROOT, Settings
from tessera.worker import Worker


@pytest.fixture(name="data")
def fx_data():
    # A short path: a worker's socket path must fit in 107 bytes, and pytest's folders are deep.
    data = Path(tempfile.mkdtemp(prefix="all-", dir="/tmp"))
    tenants = Tenants(data, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio")
    tenants.close()
    yield data
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(name="worker")
def fx_worker(data):
    worker = Worker(Settings.from_env({"TESSERA_DATA_DIR": str(data)}))
    worker.start()
    yield worker
    worker.stop()


def cli(data: Path, *args: str):
    return CliRunner(env={"TESSERA_DATA_DIR": str(data)}).invoke(main, list(args), catch_exceptions=False)


def jobs(data: Path) -> list[tuple[str, str, str]]:
    """The jobs the command queued (not the bakery's scheduled publish, which any publish of it queues)."""
    return sorted((j.tenant, j.kind, j.status) for j in Queue(data / "platform.db").list() if j.actor == "cli")


def test_publish_all_without_workers_publishes_every_tenant_here(data):
    result = cli(data, "publish", "--all")
    assert result.exit_code == 0, result.output
    assert "published bakery" in result.output and "published studio" in result.output
    assert jobs(data) == []  # nothing was queued
    for slug in ("bakery", "studio"):
        assert (data / "buckets" / slug / "current" / "index.html").is_file()


def test_publish_all_with_workers_is_one_job_per_tenant_for_them(data, worker):
    result = cli(data, "publish", "--all")
    assert result.exit_code == 0, result.output
    assert "2 publish jobs queued for 1 worker" in result.output
    assert "2 of 2 published" in result.output
    assert jobs(data) == [("bakery", "publish", "done"), ("studio", "publish", "done")]
    for slug in ("bakery", "studio"):
        assert (data / "buckets" / slug / "current" / "index.html").is_file()


def test_build_all_with_workers_builds_on_them_and_publishes_nothing(data, worker):
    result = cli(data, "build", "--all")
    assert result.exit_code == 0, result.output
    assert jobs(data) == [("bakery", "build", "done"), ("studio", "build", "done")]
    for slug in ("bakery", "studio"):
        assert (data / "tenants" / slug / "build" / "index.html").is_file()
        assert not (data / "buckets" / slug).exists()


def test_here_keeps_the_work_in_the_cli_even_with_workers(data, worker):
    result = cli(data, "publish", "--all", "--here")
    assert result.exit_code == 0, result.output
    assert jobs(data) == []
    assert (data / "buckets" / "studio" / "current" / "index.html").is_file()


def test_a_failed_job_is_named_and_the_command_fails(data, worker):
    Tenants(data, ROOT / "sites").repository("studio").write(
        {"pages/broken.md": b"---\ntitle: [unclosed\n---\n"},
        __import__("content.gitrepo", fromlist=["Author"]).Author("E", "e@example.test"), "Break it")
    result = cli(data, "publish", "--all")
    assert result.exit_code == 1
    assert "failed studio" in result.output and "1 of 2 published" in result.output


def test_here_and_a_tenant_do_not_go_together(data):
    result = cli(data, "publish", "studio", "--here")
    assert result.exit_code == 2 and "--here goes with --all" in result.output
    result = cli(data, "publish")
    assert result.exit_code == 2 and "either TENANT or --all" in result.output
