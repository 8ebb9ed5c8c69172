"""Save-to-live benchmark: from an editor's Save (or `git push`) to the new text served by the edge.

Creates (or reuses, under --work) a tenant of --pages generated posts (bench/gen_site.py), starts
`tessera serve` (API, admin, git, edge and the job runner in one process) on a free port and
publishes once. Then, --runs times each, over real HTTP:

  save  signs in to the admin, POSTs a one-post edit with a unique word (Save), POSTs Publish,
        and polls the edge for that post until the word is served; timed from the Save's start;
  push  in a clone made once: changes one post, commits, runs `git push` and polls the edge;
        timed from the push command's start.

It prints p50 and p95 of each beside the targets (p50 < 1 s, p95 < 2 s) and, for every run, the
stages from the deploy's recorded timings (tenant.db `deploys.timings`): the request(s) (Save and
Publish, or the push with its pre-receive check), queue wait, lock and clean-up, build, plan (diff
and compression), upload, release, the switch, and the first byte of the new page after it.

    .venv/bin/python bench/save_to_live_bench.py [--pages 10000] [--runs 10] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402

from gen_site import generate  # noqa: E402

SLUG = "big"
EMAIL = "owner@big.test"
PASSWORD = "a long benchmark password"
TARGET_P50, TARGET_P95 = 1.0, 2.0
POLL = 0.005  # seconds between two looks at the edge
STAGES = ("request", "publish", "rest", "queue", "lock", "build", "plan", "upload", "release", "switch", "first byte")


def free_port(remembered: Path | None = None) -> int:
    """A free port; the one ``remembered`` names when it is still free. The port is in every page's
    absolute URLs (canonical links, the sitemap): a new one each run would make the first publish
    re-render the whole site and the first saves relink every file, which is not what editors see."""
    if remembered is not None and remembered.exists():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is free
            try:
                sock.bind(("127.0.0.1", int(remembered.read_text())))
                return sock.getsockname()[1]
            except (OSError, ValueError):
                pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    if remembered is not None:
        remembered.write_text(str(port))
    return port


def prepare(work: Path, pages: int) -> dict[str, str]:
    """The data directory with the tenant and its owner; made once per --work folder."""
    env = {**os.environ, "TESSERA_DATA_DIR": str(work / "data"), "TESSERA_SITES_DIR": str(work / "starters"),
           "TESSERA_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT)}
    if (work / "ready").exists():
        return env
    print(f"generating {pages} posts and the tenant in {work} ...", flush=True)
    generate(pages, work / "starters")
    os.environ.update(env)
    from commerce_api.auth.users import Users
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.app import services
    from tessera.settings import Settings

    settings = Settings.from_env(env)
    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        tenant = tenants.create(SLUG, "Big Site", parse_features("cms"), starter="tessera", plan="agency")
        svc = services(settings)
        user = Users(svc.db).create(EMAIL, PASSWORD)
        svc.users.grant(user.id, tenant.id, "owner")
    finally:
        tenants.close()
    (work / "ready").write_text("")
    return env


class Server:
    """`tessera serve` in a process of its own, as in production."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port(Path(env["TESSERA_DATA_DIR"]) / "bench-port")
        self.proc = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve"], cwd=ROOT,
                                     env={**env, "TESSERA_PORT": str(self.port)},
                                     stdout=subprocess.DEVNULL, stderr=sys.stderr)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("tessera serve did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Admin:
    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=300,
                                 headers={"Host": f"admin.localhost:{server.port}", "Accept": "text/html"})
        login = f"/sites/{SLUG}/login"
        token = re.search(r'name="login_token" value="([^"]+)"', self.http.get(login).text).group(1)
        signed = self.http.post(login, data={"email": EMAIL, "password": PASSWORD, "login_token": token})
        assert signed.status_code == 303, signed.text[:500]
        page = self.http.get(f"/sites/{SLUG}/")
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def post(self, path: str, data: dict) -> httpx.Response:
        response = self.http.post(f"/sites/{SLUG}{path}", data={**data, "csrf_token": self.csrf})
        assert response.status_code == 303, (path, response.status_code, response.text[:500])
        assert "error=" not in response.headers.get("location", ""), response.headers["location"]
        return response


def front_matter(text: str) -> tuple[dict, str]:
    head, _, body = text.partition("---\n")[2].partition("---\n")
    fields = {}
    for line in head.splitlines():
        key, _, value = line.partition(": ")
        fields[key] = value.strip().strip('"')
    return fields, body


def wait_for(edge: httpx.Client, path: str, word: str, timeout: float = 300) -> float:
    """Poll the edge until ``word`` is in the page; returns the moment it was (time.time())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = edge.get(path)
        if word in response.text:
            return time.time()
        time.sleep(POLL)
    raise SystemExit(f"{word} never appeared at {path}")


def wait_idle(work: Path, timeout: float = 1800) -> None:
    """Until the job queue has nothing queued or running (the publish at start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = sqlite3.connect(work / "data" / "platform.db")
        try:
            busy = conn.execute("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') "
                                "AND kind != 'notify'").fetchone()[0]
        finally:
            conn.close()
        if not busy:
            return
        time.sleep(0.2)
    raise SystemExit("the publish at start did not finish")


def last_deploy(work: Path, after: int = -1, timeout: float = 120) -> dict:
    """The newest deploy, once it is newer than ``after`` and finished (a deploy's row says live only
    after the catalog import, which follows the switch that the edge already shows)."""
    deadline = time.monotonic() + timeout
    while True:
        conn = sqlite3.connect(work / "data" / "tenants" / SLUG / "tenant.db")
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM deploys ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        if row is not None and row["id"] > after and row["status"] != "running":
            return dict(row)
        if time.monotonic() > deadline:
            return dict(row) if row else {}
        time.sleep(0.02)


def stages(started: float, requested: float, seen: float, deploy: dict) -> dict[str, float]:
    """The run split into stages (seconds) from the deploy's timings; see publish.deploy."""
    t = json.loads(deploy.get("timings") or "{}")
    if "started" not in t:  # a server that records no timings: its deploy's duration only
        publish = deploy.get("seconds") or 0.0
        return {"request": requested - started, "publish": publish, "rest": seen - requested - publish}
    before_switch = sum(t.get(k, 0) for k in ("lock", "build", "plan", "upload", "release"))
    return {"request": requested - started, "queue": t["started"] - requested, "lock": t.get("lock", 0),
            "build": t.get("build", 0), "plan": t.get("plan", 0), "upload": t.get("upload", 0),
            "release": t.get("release", 0), "switch": t["switched"] - t["started"] - before_switch,
            "first byte": seen - t["switched"]}


def run_saves(work: Path, server: Server, edge: httpx.Client, runs: int) -> list[tuple[float, dict]]:
    admin = Admin(server)
    results = []
    for n in range(runs):
        number = 100 + n * 7
        path = f"posts/post-{number}.md"
        fields, body = front_matter((work / "starters" / "tessera" / path).read_text())
        word = f"saveword{time.time_ns()}"
        before = last_deploy(work).get("id", -1)
        started = time.time()
        admin.post("/pages/save", {"path": path, "title": fields["title"], "published_at": fields["published_at"],
                                   "tags": fields["tags"].strip("[]"), "status": "published",
                                   "body": body + f"\nEdited with {word}.\n", "message": "Benchmark edit"})
        admin.post("/publish", {})
        requested = time.time()
        seen = wait_for(edge, f"/blog/post-{number}/", word)
        results.append((seen - started, stages(started, requested, seen, last_deploy(work, before))))
        print(f"  save {n + 1:>2}: {seen - started:6.3f} s  " + _stages_line(results[-1][1]), flush=True)
    return results


def run_pushes(work: Path, server: Server, edge: httpx.Client, runs: int) -> list[tuple[float, dict]]:
    clone = work / f"clone-{server.port}"
    url = f"http://{quote(EMAIL, safe='')}:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/git/{SLUG}.git"
    git_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": EMAIL,
               "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": EMAIL}
    shutil.rmtree(clone, ignore_errors=True)  # a clone of an earlier run on the same port
    subprocess.run(["git", "clone", "-q", url, str(clone)], check=True, env=git_env)
    results = []
    for n in range(runs):
        number = 200 + n * 7
        post = clone / "posts" / f"post-{number}.md"
        word = f"pushword{time.time_ns()}"
        post.write_text(post.read_text() + f"\nPushed with {word}.\n")
        subprocess.run(["git", "commit", "-qam", "Benchmark push"], cwd=clone, check=True, env=git_env)
        before = last_deploy(work).get("id", -1)
        started = time.time()
        subprocess.run(["git", "push", "-q", "origin", "main"], cwd=clone, check=True, env=git_env,
                       stderr=subprocess.DEVNULL)
        requested = time.time()
        seen = wait_for(edge, f"/blog/post-{number}/", word)
        results.append((seen - started, stages(started, requested, seen, last_deploy(work, before))))
        print(f"  push {n + 1:>2}: {seen - started:6.3f} s  " + _stages_line(results[-1][1]), flush=True)
    return results


def _stages_line(parts: dict[str, float]) -> str:
    return "  ".join(f"{k} {v * 1000:5.0f}" for k, v in parts.items()) + "  (ms)"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(label: str, results: list[tuple[float, dict]]) -> None:
    totals = [t for t, _ in results]
    p50, p95 = statistics.median(totals), percentile(totals, 95)
    print(f"{label:<5} p50 {p50:6.3f} s (target < {TARGET_P50:g} s: {'met' if p50 < TARGET_P50 else 'MISSED'})   "
          f"p95 {p95:6.3f} s (target < {TARGET_P95:g} s: {'met' if p95 < TARGET_P95 else 'MISSED'})")
    keys = [k for k in STAGES if any(k in parts for _, parts in results)]
    print("      median stages: " + "  ".join(
        f"{k} {statistics.median(parts.get(k, 0) for _, parts in results) * 1000:.0f}" for k in keys) + " (ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10000, help="Posts in the generated site (default 10000).")
    parser.add_argument("--runs", type=int, default=10, help="Saves and pushes measured, each (default 10).")
    parser.add_argument("--work", type=Path, default=None,
                        help="Folder to create the site in, or reuse from an earlier run (default: a new temporary one).")
    parser.add_argument("--only", choices=("save", "push"), default=None, help="Measure only one of the two.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tessera-save-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = prepare(work, args.pages)
    server = Server(env)
    try:
        edge = httpx.Client(base_url=server.url, headers={"Host": f"{SLUG}.localhost:{server.port}"}, timeout=60)
        started = time.perf_counter()
        admin = Admin(server)
        admin.post("/publish", {})
        wait_idle(work)
        print(f"{args.pages} posts in {work}; publish at start {time.perf_counter() - started:.1f} s "
              f"(first: cold build and upload; later: a no-change publish)", flush=True)
        saves = run_saves(work, server, edge, args.runs) if args.only in (None, "save") else []
        pushes = run_pushes(work, server, edge, args.runs) if args.only in (None, "push") else []
        if saves:
            summary("save", saves)
        if pushes:
            summary("push", pushes)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
