"""Scale benchmark: N bakery tenants on one machine, created, published and served.

For each N (``--tenants 10,100,1000``), in a fresh data folder:

1. creates one tenant from the bakery starter the ordinary way (``Tenants.create``), then N - 1 more
   by the fast path: a local ``git clone --bare`` of its repository (git hard-links the objects), a
   new ``tenant.db`` and the registry row, which is what ``Tenants.create`` leaves, without parsing the
   starter again. Each is a real tenant: the registry, the edge and the API serve it;
2. publishes them all with ``tessera publish --all`` on two ``tessera worker`` processes (cold: nothing
   built yet, the shared image and Markdown caches warm after the first few), then again with
   nothing changed; each tenant's publish time is read from its deploy's recorded timings;
3. publishes a few fresh tenants one after another in this process, caches warm (the cold publish
   of a starter tenant, undisturbed by other publishes);
4. stops the workers, serves the platform with uvicorn (one process, as ``tessera serve`` does) and
   runs wrk across all N hosts: pages, then ``/api/products`` across all N and across the first 50,
   interleaved; then reads the server's RSS and open files.

Prints every figure beside the target of issue 20. Inodes and bytes per tenant are printed too.

    apt-get install wrk
    .venv/bin/python bench/scale_bench.py --tenants 10,100 [--seconds 10] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from api_bench import free_port, wrk  # noqa: E402

PAGES_LUA = """
local hosts = {%(hosts)s}
local paths = {%(paths)s}
local n = 0
request = function()
  n = n + 1
  local host = hosts[n %% #hosts + 1]
  local path = paths[math.floor(n / #hosts) %% #paths + 1]
  return wrk.format("GET", path, {["Host"] = host, ["Accept"] = "text/html", ["Accept-Encoding"] = "br, gzip"})
end
"""

PRODUCTS_LUA = """
local hosts = {%(hosts)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/products", {["Host"] = hosts[n %% #hosts + 1]})
end
"""


def slug(n: int) -> str:
    return f"shop{n:04d}"


def create_tenants(data: Path, count: int) -> list[float]:
    """Seconds per tenant: the first by ``Tenants.create``, the rest by the fast path."""
    from content.gitrepo import Repository
    from content.migrations import connect
    from content.registry import parse_features
    from content.schema import TENANT
    from content.tenants import Tenants
    from tessera.settings import ROOT as APP_ROOT

    tenants = Tenants(data, APP_ROOT / "sites")
    features = parse_features("cms,ecommerce")
    seconds = []
    try:
        mark = time.perf_counter()
        tenants.create(slug(0), "Shop 0", features, starter="bakery")
        seconds.append(time.perf_counter() - mark)
        template = tenants.folder(slug(0)) / "repo.git"
        for n in range(1, count):
            mark = time.perf_counter()
            folder = tenants.folder(slug(n))
            staging = data / "tenants" / f".staging-{slug(n)}"
            staging.mkdir(parents=True)
            subprocess.run(["git", "clone", "--quiet", "--bare", str(template), str(staging / "repo.git")], check=True)
            repo = Repository(staging / "repo.git")
            repo.git("remote", "remove", "origin")
            repo.harden()
            repo.git("config", "core.logAllRefUpdates", "true")
            conn = connect(staging / "tenant.db", TENANT)
            with conn:
                conn.execute("INSERT INTO meta (key, value) VALUES ('slug', ?)", (slug(n),))
            conn.close()
            staging.rename(folder)
            tenants.registry.add(slug(n), f"Shop {n}", features)
            seconds.append(time.perf_counter() - mark)
    finally:
        tenants.close()
    return seconds


def cli(env: dict, *args: str) -> float:
    mark = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tessera.cli", *args], env=env, cwd=ROOT, capture_output=True,
                            text=True)
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:])
        raise SystemExit(f"tessera {' '.join(args)} failed")
    return time.perf_counter() - mark


def publish_seconds(data: Path, count: int) -> list[float]:
    """Each tenant's latest publish: waiting for its lock, building and the deploy, from its timings."""
    out = []
    for n in range(count):
        conn = sqlite3.connect(data / "tenants" / slug(n) / "tenant.db")
        row = conn.execute("SELECT seconds, timings FROM deploys ORDER BY id DESC LIMIT 1").fetchone()
        conn.close()
        timings = json.loads(row[1] or "{}")
        out.append((row[0] or 0) + timings.get("build", 0) + timings.get("lock", 0))
    return out


def start_workers(env: dict, count: int) -> list[subprocess.Popen]:
    workers = [subprocess.Popen([sys.executable, "-m", "tessera.cli", "worker"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]
    folder = Path(env["TESSERA_DATA_DIR"]) / "workers"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if {w.pid for w in workers} <= {int(p.name.split("-")[0]) for p in folder.glob("*.sock")}:  # <pid>-<host>.sock
            return workers
        time.sleep(0.1)
    raise SystemExit("the workers did not start listening (is the data folder's path too long for a socket?)")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def probe_publishes(data: Path, env: dict, probes: int) -> list[float]:
    """Fresh tenants (created the ordinary way) published one after another here, caches warm."""
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.settings import ROOT as APP_ROOT, Settings
    from tessera.sites import publish_tenant

    settings = Settings.from_env(env)
    tenants = Tenants(data, APP_ROOT / "sites")
    seconds = []
    try:
        for n in range(probes):
            name = f"probe{n}"
            tenants.create(name, "Probe", parse_features("cms,ecommerce"), starter="bakery")
            mark = time.perf_counter()
            publish_tenant(settings, tenants, name, actor="bench")
            seconds.append(time.perf_counter() - mark)
    finally:
        tenants.close()
    return seconds


def footprint(data: Path, count: int) -> tuple[float, float]:
    """Unique inodes and KiB per tenant over the whole data folder (shared caches included)."""
    inodes = subprocess.run(["find", str(data), "-printf", "%i\n"], capture_output=True, text=True).stdout.split()
    kib = int(subprocess.run(["du", "-sk", str(data)], capture_output=True, text=True).stdout.split()[0])
    return len(set(inodes)) / count, kib / count


def proc_status(pid: int) -> tuple[float, int]:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def pages_of(data: Path) -> list[str]:
    manifest = json.loads((data / "buckets" / slug(0) / "current" / "_tessera" / "manifest.json").read_text())
    urls = ["/" + p.removesuffix("index.html") for p, entry in manifest.items()
            if p.endswith(".html") and entry[2].startswith("text/html")]
    return sorted(urls)[:40]


def run(count: int, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="scale-", dir="/tmp"))  # short: workers' socket paths must fit
    data = work / "data"
    port = free_port()
    env = {**os.environ, "TESSERA_DATA_DIR": str(data), "TESSERA_PORT": str(port)}
    figures: dict = {"tenants": count}
    try:
        print(f"\n== {count} tenants: creating ...", flush=True)
        created = create_tenants(data, count)
        figures["create_first"] = created[0]
        figures["create_rest"] = statistics.mean(created[1:]) if count > 1 else created[0]
        workers = start_workers(env, args.workers)
        try:
            print("   publishing all (cold) ...", flush=True)
            figures["publish_all_cold"] = cli(env, "publish", "--all")
            cold = publish_seconds(data, count)
            figures["publish_cold_median"] = statistics.median(cold)
            figures["publish_cold_first"] = cold[0]
            print("   publishing all (nothing changed) ...", flush=True)
            figures["publish_all_unchanged"] = cli(env, "publish", "--all")
        finally:
            stop(workers)
        figures["publish_all_unchanged_here"] = cli(env, "publish", "--all", "--here")
        print("   publishing fresh tenants here, caches warm ...", flush=True)
        probes = probe_publishes(data, env, args.probes)
        figures["probe_publish_median"] = statistics.median(probes)
        figures["inodes_per_tenant"], figures["kib_per_tenant"] = footprint(data, count + args.probes)

        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "edge_app:app", "--app-dir", str(HERE),
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                   "--no-access-log"], env=env, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    if httpx.get(base + "/", headers={"Host": f"{slug(0)}.localhost"}, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            products = httpx.get(base + "/api/products", headers={"Host": f"{slug(count - 1)}.localhost"})
            assert products.status_code == 200 and products.json(), products.text[:300]
            figures["rss_start"], figures["fds_start"] = proc_status(server.pid)
            hosts = [f"{slug(n)}.localhost" for n in range(count)]
            quoted = lambda items: ", ".join(json.dumps(i) for i in items)  # noqa: E731
            pages = work / "pages.lua"
            pages.write_text(PAGES_LUA % {"hosts": quoted(hosts), "paths": quoted(pages_of(data))})
            across_all = work / "products-all.lua"
            across_all.write_text(PRODUCTS_LUA % {"hosts": quoted(hosts)})
            across_50 = work / "products-50.lua"
            across_50.write_text(PRODUCTS_LUA % {"hosts": quoted(hosts[:50])})
            print("   serving: wrk ...", flush=True)
            runs: dict[str, list[tuple[float, float]]] = {"pages": [], "products_all": [], "products_50": []}
            for _ in range(args.runs):  # interleaved, so drift hits each alike
                runs["pages"].append(wrk(base + "/", args.seconds, pages, None))
                runs["products_all"].append(wrk(base + "/", args.seconds, across_all, None))
                runs["products_50"].append(wrk(base + "/", args.seconds, across_50, None))
            for name, values in runs.items():
                # wrk's figures: requests per second, p99 in ms (and answers that were not 2xx)
                figures[name] = (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
            figures["rss"], figures["fds"] = proc_status(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"   kept {work}")
    return figures


def report(f: dict) -> None:
    n = f["tenants"]
    at = "at 1,000" if n == 1000 else f"(target is at 1,000; this is {n})"
    print(f"\n-- {n} tenants " + "-" * 60)
    print(f"  create, first (Tenants.create)      {f['create_first']:8.2f} s")
    print(f"  create, each other (git clone)      {f['create_rest']:8.3f} s")
    print(f"  publish --all, cold, 2 workers      {f['publish_all_cold']:8.1f} s  ({f['publish_all_cold'] / n:.2f} s a tenant)")
    print(f"    one tenant's publish (median)     {f['publish_cold_median']:8.2f} s  (first: {f['publish_cold_first']:.2f} s; "
          f"two at a time on 2 cores)")
    print(f"  publish --all, unchanged, workers   {f['publish_all_unchanged']:8.1f} s  target < 30 s for 1,000 "
          f"(scaled to 1,000: {f['publish_all_unchanged'] * 1000 / n:.0f} s)")
    print(f"  publish --all --here, unchanged     {f['publish_all_unchanged_here']:8.1f} s  "
          f"(scaled to 1,000: {f['publish_all_unchanged_here'] * 1000 / n:.0f} s)")
    print(f"  cold publish of a fresh starter     {f['probe_publish_median']:8.2f} s  target < 0.5 s, shared caches warm")
    print(f"  footprint per tenant                {f['inodes_per_tenant']:8.0f} inodes, {f['kib_per_tenant']:.0f} KiB")
    print(f"  serve RSS at start / after traffic  {f['rss_start']:8.0f} / {f['rss']:.0f} MiB  target < 400 MiB {at}")
    print(f"  serve open files start / after      {f['fds_start']:8d} / {f['fds']}")
    print(f"  pages across all {n:<5}             {f['pages'][0]:8.0f} req/s  p99 {f['pages'][1]:6.1f} ms")
    print(f"  /api/products across all {n:<5}     {f['products_all'][0]:8.0f} req/s  p99 {f['products_all'][1]:6.1f} ms")
    print(f"  /api/products across 50             {f['products_50'][0]:8.0f} req/s  p99 {f['products_50'][1]:6.1f} ms")
    if n > 50:
        ratio = f["products_all"][0] / f["products_50"][0]
        print(f"    all / 50                          {100 * ratio:8.1f} %  target at least 80 % {at}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", default="10,100", help="comma-separated tenant counts (e.g. 10,100,1000)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="tessera worker processes for publish --all")
    parser.add_argument("--probes", type=int, default=3, help="fresh tenants published one by one, caches warm")
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    results = [run(int(n), args) for n in args.tenants.split(",")]
    for figures in results:
        report(figures)


if __name__ == "__main__":
    main()
