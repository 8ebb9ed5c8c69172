"""A push is checked by a worker of its node when one listens (``tessera.pushcheck``), with the worker's
memory of the site's last build; without one the hook checks it itself. Real pushes over HTTP with the
stock git client: git runs the hook, which asks the worker over its socket, and the worker reads the
pushed objects from git's quarantine."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.publish.git_sites import OWNER, bakery_git_server
from tests.publish.test_git_push import git, remote


@pytest.fixture(name="bakery", scope="module")
def fx_bakery(tmp_path_factory):
    with bakery_git_server(tmp_path_factory, "pushworker") as (settings, tenants, _, port):
        yield settings, tenants, port


@pytest.fixture(name="worker")
def fx_worker(bakery):
    from tessera.worker import Worker

    settings, _, _ = bakery
    worker = Worker(settings)
    checked: list[dict] = []
    check = worker.checks.check
    worker.checks.check = lambda request: (checked.append(request), check(request))[1]
    worker.start()
    yield worker, checked
    worker.stop()


def push(port, tmp_path: Path, path: str, text: str):
    work = tmp_path / "work"
    git("clone", "-q", remote(port, OWNER, slug="bakery"), str(work))
    (work / path).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-qm", f"change {path}", cwd=work)
    return git("push", "origin", "main", cwd=work, check=False), work


def test_a_worker_checks_a_push_with_its_memory_of_the_site(bakery, worker, tmp_path):
    settings, tenants, port = bakery
    worker, checked = worker
    pushed, work = push(port, tmp_path, "pages/hours.md", "---\ntitle: Hours\n---\nOpen every day but Monday.\n")
    assert pushed.returncode == 0, pushed.stderr
    assert "Checked: the site builds" in pushed.stderr
    assert len(checked) == 1 and checked[0]["env"]["TESSERA_PUSH_TENANT"] == "bakery"
    assert "GIT_QUARANTINE_PATH" in checked[0]["env"]  # the pushed objects were read from git's quarantine
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert tenants.repository("bakery").head() == head
    # The check built the pushed commit into the site's build folder with the worker's memory.
    assert "bakery" in worker.memory
    assert (settings.data_dir / "tenants" / "bakery" / "build" / "hours" / "index.html").is_file()


def test_a_push_the_worker_refuses_names_the_file_and_line_and_lands_nothing(bakery, worker, tmp_path):
    _, tenants, port = bakery
    worker, checked = worker
    before = tenants.repository("bakery").head()
    pushed, _ = push(port, tmp_path, "pages/broken.md", "---\ntitle: [unclosed\n---\nText.\n")
    assert pushed.returncode != 0
    assert "Push rejected: 1 problem(s) in the site's files" in pushed.stderr
    assert "pages/broken.md:3: invalid YAML" in pushed.stderr
    assert checked and tenants.repository("bakery").head() == before


def test_without_a_worker_the_hook_checks_the_push_itself(bakery, tmp_path):
    settings, tenants, port = bakery
    folder = settings.data_dir / "workers"
    folder.mkdir(exist_ok=True)
    (folder / "99999-dead.check").write_text("")  # left by a worker that died: nobody answers there
    pushed, work = push(port, tmp_path, "pages/alone.md", "---\ntitle: Alone\n---\nChecked by the hook.\n")
    assert pushed.returncode == 0, pushed.stderr
    assert "Checked: the site builds" in pushed.stderr
    assert tenants.repository("bakery").head() == git("rev-parse", "HEAD", cwd=work).stdout.strip()


def ask(worker, request: dict) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(worker.checks.address))
        conn.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(conn.makefile().readline())


def test_a_worker_refuses_a_check_of_another_repository_or_outside_quarantine(bakery, worker, tmp_path):
    settings, _, _ = bakery
    worker, _ = worker
    repo = settings.data_dir / "tenants" / "bakery" / "repo.git"
    env = {"TESSERA_PUSH_TENANT": "bakery", "TESSERA_PUSH_ROLE": "owner", "TESSERA_PUSH_SUPERADMIN": "0"}
    elsewhere = tmp_path / "other.git"
    git("init", "-q", "--bare", str(elsewhere))
    line = ["0" * 40 + " " + "1" * 40 + " refs/heads/main"]
    for request, said in [
        ({"lines": line, "repo": str(elsewhere), "env": env}, "the repository is not this site's"),
        ({"lines": line, "repo": str(repo), "env": {**env, "TESSERA_PUSH_TENANT": "../bakery"}},
         "the repository is not this site's"),
        ({"lines": line, "repo": str(repo), "env": {**env, "TESSERA_PUSH_TENANT": "./bakery"}},
         "the repository is not this site's"),  # the same folder, but not the registry's name for it
        ({"lines": line, "repo": str(repo), "env": {**env, "GIT_OBJECT_DIRECTORY": str(elsewhere / "objects")}},
         "the pushed objects are not in this site's repository"),
        ({"lines": line, "repo": str(repo), "env": {**env, "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(elsewhere)}},
         "the pushed objects are not in this site's repository"),
        ({"lines": "not a list", "repo": str(repo), "env": env}, "a malformed check request"),
    ]:
        answer = ask(worker, request)
        assert answer["exit"] == 1 and said in answer["output"], (request, answer)
    assert oct((worker.checks.address).stat().st_mode & 0o777) == "0o600"


def test_a_worker_runs_at_most_a_few_checks_at_once(bakery, tmp_path):
    """A burst of pushes does not start a build each at once beside the worker's publishes: checks past
    CHECKS_AT_ONCE wait their turn, and each still gets its answer."""
    import threading
    import time

    from tessera.pushcheck import CHECKS_AT_ONCE, CheckServer

    settings, _, _ = bakery
    running, most, lock = [0], [0], threading.Lock()

    def check(request):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return 0, "checked\n"

    server = CheckServer(settings, None, tmp_path / "w.check")
    server.check = check
    assert server.start()
    try:
        answers: list[dict] = []
        pushes = [threading.Thread(target=lambda: answers.append(ask(server_of(server), {}))) for _ in range(5)]
        for push in pushes:
            push.start()
        for push in pushes:
            push.join(timeout=30)
    finally:
        server.stop()
    assert len(answers) == 5 and all(a == {"exit": 0, "output": "checked\n"} for a in answers)
    assert most[0] == CHECKS_AT_ONCE


def server_of(server):
    """``ask`` above takes a worker: what it reads of one."""
    from types import SimpleNamespace

    return SimpleNamespace(checks=server)
