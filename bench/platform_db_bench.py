"""Platform state on SQLite and on PostgreSQL, side by side: what each request and each job costs.

Prints operations per second on each engine for: resolving a request's tenant (cached, as every
request does), reading a tenant uncached, a job's enqueue + claim + finish, and four runner
processes draining 400 jobs from one queue (each exactly once). PostgreSQL is a temporary cluster of
Debian's server binaries (as the tests start it) unless ``--database-url`` names one.

    .venv/bin/python bench/platform_db_bench.py [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from commerce_api.platform import PlatformDB  # noqa: E402
from commerce_api.tenancy import Resolver  # noqa: E402
from content.registry import Registry  # noqa: E402
from publish.jobs import Queue  # noqa: E402

DRAIN = """
import json, sys
from publish.jobs import Queue
queue, taken = Queue(sys.argv[1]), []
while (job := queue.claim("publish", sys.argv[2])) is not None:
    queue.finish(job, True, "ok")
    taken.append(job.id)
print(json.dumps(taken))
"""


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f}/s"


def measure(where: str | Path) -> dict[str, str]:
    registry = Registry(where)
    for i in range(100):
        registry.add(f"t{i:03d}", f"Tenant {i}", frozenset({"cms"}))
    resolver = Resolver(PlatformDB(where), "localhost")
    for _ in range(200):  # until the cache is filled (PostgreSQL: once its listener listens)
        resolver.resolve("t000.localhost", None, None)
        time.sleep(0.005)
    out = {}
    n, start = 20000, time.perf_counter()
    for i in range(n):
        resolver.resolve(f"t{i % 100:03d}.localhost", None, None)
    out["tenant of a request (cached)"] = rate(n, time.perf_counter() - start)
    n, start = 3000, time.perf_counter()
    for i in range(n):
        registry.find(f"t{i % 100:03d}")
    out["tenant read (uncached)"] = rate(n, time.perf_counter() - start)
    queue = Queue(where)
    n, start = 500, time.perf_counter()
    for i in range(n):
        queue.enqueue(f"t{i % 100:03d}", actor="bench")
        queue.finish(queue.claim("publish", "bench"), True, "ok")
    out["job enqueue + claim + finish"] = rate(n, time.perf_counter() - start)
    ids = {queue.enqueue(f"t{i % 100:03d}", kind, actor="bench").id for i in range(100)
           for kind in ("publish", "backup", "build", "export")}
    start = time.perf_counter()
    runners = [subprocess.Popen([sys.executable, "-c", DRAIN, str(where), f"r{n}"], stdout=subprocess.PIPE,
                                text=True, cwd=ROOT, env=os.environ) for n in range(4)]
    taken = [job for runner in runners for job in json.loads(runner.communicate()[0])]
    seconds = time.perf_counter() - start
    assert sorted(taken) == sorted(ids), "a job was lost or run twice"
    out[f"4 processes draining {len(ids)} jobs (incl. start-up)"] = rate(len(ids), seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a temporary cluster)")
    args = parser.parse_args()
    from tests import pgserver

    server = None if args.database_url else pgserver.server_url()
    url = args.database_url or next(server)
    schema = pgserver.schema_url(url)
    with tempfile.TemporaryDirectory() as tmp:
        results = {"sqlite": measure(Path(tmp) / "platform.db"), "postgresql": measure(next(schema))}
    next(schema, None)
    if server is not None:
        next(server, None)
    width = max(map(len, results["sqlite"]))
    print(f"{'':{width}}  {'SQLite':>12}  {'PostgreSQL':>12}")
    for name in results["sqlite"]:
        print(f"{name:{width}}  {results['sqlite'][name]:>12}  {results['postgresql'][name]:>12}")


if __name__ == "__main__":
    main()
