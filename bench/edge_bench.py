"""Edge benchmark under wrk: the demo bakery's pages with analytics off and on, same server, same run.

Sets up the demo (`tessera demo --no-serve`), serves the platform with uvicorn (one process, as
`tessera serve` does), and runs wrk against the bakery's HTML pages with browsers' headers, a
spread of User-Agents (one a crawler) and of visitors' addresses (X-Forwarded-For from a trusted
proxy), a referrer on some. Between runs the bakery's `analytics` feature is switched off and on
(the edge reads it on every request), interleaved so that drift hits both alike. Prints the median
requests per second and p99 of each, the ratio on/off (the target is at least 90 %), and how many
views the rollups hold afterwards, to show they were counted.

    apt-get install wrk
    .venv/bin/python bench/edge_bench.py [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api_bench import CONNECTIONS, THREADS, free_port, wrk

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

LUA = """
local paths = {%(paths)s}
local agents = {
  "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}
local n = 0
request = function()
  n = n + 1
  local headers = {["Host"] = "bakery.localhost", ["User-Agent"] = agents[n %% #agents + 1],
    ["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8", ["Accept-Language"] = "en-GB,en;q=0.5",
    ["X-Forwarded-For"] = "10.1." .. (n %% 250) .. "." .. (math.random(250))}
  if n %% 3 == 0 then headers["Referer"] = "https://www.google.com/search?q=rye" end
  return wrk.format("GET", paths[n %% #paths + 1], headers)
end
"""


def pages(data: Path) -> list[str]:
    """The bakery's live HTML pages, as URLs."""
    current = data / "buckets" / "bakery" / "current"
    manifest = json.loads((current / "_tessera" / "manifest.json").read_text())
    urls = []
    for path, (_, _, kind) in manifest.items():  # path -> [sha256, size, type]
        if path.endswith("index.html") and kind.startswith("text/html"):
            urls.append("/" + path[: -len("index.html")])
    return sorted(urls)


def set_analytics(data: Path, on: bool) -> None:
    env = {**os.environ, "TESSERA_DATA_DIR": str(data)}
    features = "cms,ecommerce,analytics" if on else "cms,ecommerce"
    subprocess.run([sys.executable, "-m", "tessera.cli", "tenant", "update", "bakery", "--features", features],
                   env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def counted(data: Path) -> int:
    conn = sqlite3.connect(data / "tenants" / "bakery" / "tenant.db")
    try:
        return conn.execute("SELECT COALESCE(SUM(views), 0) FROM analytics_days").fetchone()[0]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="tessera-edge-bench-"))
    data = work / "data"
    print("setting up the demo sites ...", flush=True)
    subprocess.run([sys.executable, "-m", "tessera.cli", "demo", "--no-serve"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "TESSERA_DATA_DIR": str(data)}, cwd=ROOT)
    urls = pages(data)
    script = work / "pages.lua"
    script.write_text(LUA % {"paths": ", ".join(json.dumps(u) for u in urls)})
    port = free_port()
    env = {**os.environ, "TESSERA_DATA_DIR": str(data), "TESSERA_PORT": str(port),
           "TESSERA_TRUSTED_PROXIES": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "edge_app:app", "--app-dir", str(HERE),
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                               "--no-access-log"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/", headers={"Host": "bakery.localhost"}, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        results: dict[str, list[tuple[float, float]]] = {"analytics off": [], "analytics on": []}
        for _ in range(args.runs):
            for name in results:  # interleaved, so drift hits both alike
                set_analytics(data, name == "analytics on")
                results[name].append(wrk(base + "/", args.seconds, script, None))
        set_analytics(data, False)
        time.sleep(6)  # the counter writes every 5 seconds: let the last batch land before reading
        medians = {name: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v))
                   for name, v in results.items()}
        print(f"\nedge: uvicorn, 1 process; wrk {THREADS} threads, {CONNECTIONS} connections, {len(urls)} pages, "
              f"{args.seconds}s x {args.runs} runs (medians)")
        for name, (rps, p99) in medians.items():
            print(f"  {name:<14} {rps:9.0f} req/s   p99 {p99:7.1f} ms")
        ratio = medians["analytics on"][0] / medians["analytics off"][0]
        print(f"  on / off       {100 * ratio:8.1f} %   (target: at least 90 %)")
        print(f"  views counted while on: {counted(data)} (a fifth of the requests are from a crawler)")
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
