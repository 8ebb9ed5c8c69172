"""Two nodes on one machine sharing PostgreSQL: what forwarding a request to the tenant's node costs,
and how long a move pauses writes.

Starts a temporary PostgreSQL cluster (Debian's server binaries, as the tests do), two `tessera serve`
processes with their own data folders (node1 and node2), creates the demo bakery on node2 and
publishes it; then measures, sequentially over one keep-alive connection, a page and the product list
asked of node2 (local) and of node1 (forwarded), and finally moves the bakery to node1 and prints how
long its writes were paused.

    .venv/bin/python bench/nodes_bench.py [--requests 500]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import pgserver  # noqa: E402
from tests.api.conftest import free_port  # noqa: E402
from tests.publish.test_postgres_nodes import started, tessera  # noqa: E402


def timed(client: httpx.Client, url: str, n: int, **kwargs) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        answer = client.get(url, **kwargs)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.text[:200]
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    server = pgserver.server_url()
    schema = pgserver.schema_url(next(server))
    root = Path(tempfile.mkdtemp(prefix="tessera-nodes-"))
    common = {**os.environ, "TESSERA_DATABASE_URL": next(schema), "TESSERA_SECRET_KEY": "k" * 48}
    envs = []
    for name in ("node1", "node2"):
        port = free_port()
        envs.append({**common, "TESSERA_DATA_DIR": str(root / name), "TESSERA_PORT": str(port),
                     "TESSERA_NODE": name, "TESSERA_NODE_URL": f"http://127.0.0.1:{port}"})
    tessera(envs[1], "tenant", "create", "bakery", "--name", "Bakery", "--from", "bakery", "--features", "cms,ecommerce")
    servers = [started(envs[0], 1), started(envs[1], 1)]
    try:
        tessera(envs[0], "publish", "--all")
        one, two = (f"http://127.0.0.1:{env['TESSERA_PORT']}" for env in envs)
        print(f"{args.requests} sequential requests each, keep-alive; milliseconds p50 / p99")
        with httpx.Client(timeout=30) as client:
            for what, path, extra in (("home page", "/", {"headers": {"Host": "bakery.localhost"}}),
                                      ("product list", "/api/tenant/bakery/products", {})):
                timed(client, two + path, 50, **extra)
                timed(client, one + path, 50, **extra)
                local = timed(client, two + path, args.requests, **extra)
                forwarded = timed(client, one + path, args.requests, **extra)
                print(f"  {what:13} on its node {local[0]:6.2f} / {local[1]:6.2f}   "
                      f"forwarded {forwarded[0]:6.2f} / {forwarded[1]:6.2f}")
        moved = tessera(envs[1], "tenant", "move", "bakery", "--to", "node1")
        print("  move:", re.search(r"writes were paused for [\d.]+ s", moved).group(0))
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
        next(schema, None)
        next(server, None)


if __name__ == "__main__":
    main()
