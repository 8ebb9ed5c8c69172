"""Lighthouse 12 scores for the demo storefronts, mobile and desktop, offline on loopback.

Installs npm `lighthouse@12.2.3` into bench/out/lighthouse (once), sets up the demo in a fresh data
directory, serves it, and runs Lighthouse against Debian's Chromium for home, a listing, a product
page and a post of both demo sites, and their basket and checkout. Prints performance, accessibility,
best practices and SEO; each page's own weight (its HTML, stylesheets and scripts, uncompressed: the
budget is a product page under 50 KB before images, as tests/builder/test_product_markup.py checks)
and everything it transferred, pictures included (Lighthouse's total byte weight). Then the gzipped
size of each storefront script against the cart script's 10 KB budget.

    apt-get install chromium nodejs npm
    .venv/bin/python bench/lighthouse_bench.py
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LH_DIR = HERE / "out" / "lighthouse"
LH = LH_DIR / "node_modules" / ".bin" / "lighthouse"
CHROME = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")
PAGES = {"bakery": ["/", "/products/", "/products/croissants/", "/blog/rye-season/", "/cart/", "/checkout/"],
         "studio": ["/", "/blog/", "/work/", "/blog/photographing-concrete/", "/cart/", "/checkout/"]}
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
PRODUCT_PAGE_BUDGET = 50 * 1024  # the page, its stylesheets and scripts, uncompressed, before images
OWN = ("Document", "Stylesheet", "Script")
SCRIPT_BUDGET = 10 * 1024  # each storefront script, gzipped


def main() -> None:
    if not LH.exists():
        print("installing lighthouse@12.2.3 ...", flush=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(LH_DIR), "lighthouse@12.2.3"], check=True)
    work = Path(tempfile.mkdtemp(prefix="tessera-lighthouse-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TESSERA_DATA_DIR": str(work / "data"), "TESSERA_PORT": str(port)}
    subprocess.run([sys.executable, "-m", "tessera.cli", "demo", "--no-serve"], env=env, check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)
    server = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"{'page':<44} {'form':<8} " + " ".join(f"{c[:13]:>13}" for c in CATEGORIES) + f" {'own':>9} {'transfer':>9}")
        for tenant, paths in PAGES.items():
            for path in paths:
                for form in ("mobile", "desktop"):
                    url = f"http://{tenant}.localhost:{port}{path}"
                    out = work / "report.json"
                    cmd = [str(LH), url, "--quiet", "--output=json", f"--output-path={out}",
                           "--only-categories=" + ",".join(CATEGORIES),
                           "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                           "--disable-component-update --disable-sync --no-first-run"]
                    if form == "desktop":
                        cmd.append("--preset=desktop")
                    subprocess.run(cmd, env={**os.environ, "CHROME_PATH": CHROME}, check=False,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)
                    try:
                        report = json.loads(out.read_text())
                        scores = [report["categories"][c]["score"] for c in CATEGORIES]
                        cells = " ".join(f"{round(s * 100) if s is not None else '-':>13}" for s in scores)
                        requests = report["audits"]["network-requests"]["details"]["items"]
                        own = sum(int(r.get("resourceSize") or 0) for r in requests if r.get("resourceType") in OWN)
                        transfer = int(report["audits"]["total-byte-weight"]["numericValue"])
                        budget = PRODUCT_PAGE_BUDGET if path.startswith("/products/") and path != "/products/" else None
                        cells += f" {own:>9,} {transfer:>9,}" + (
                            f" (budget {budget:,}: {'met' if own <= budget else 'MISSED'})" if budget else "")
                        failing = [a["id"] for a in report["audits"].values()
                                   if a.get("score") is not None and a["score"] < 0.9 and a.get("scoreDisplayMode") == "binary"]
                    except (FileNotFoundError, KeyError, json.JSONDecodeError):
                        cells, failing = "lighthouse failed", []
                    print(f"{tenant + path:<44} {form:<8} {cells}" + (f"   ({', '.join(failing[:4])})" if failing else ""),
                          flush=True)
        print(f"\n{'script (gzipped)':<44} {'bytes':>9}")
        for tenant in PAGES:
            built = work / "data" / "tenants" / tenant / "build" / "assets"
            for script in sorted(built.glob("*.js")):
                size = len(gzip.compress(script.read_bytes(), 9))
                print(f"{tenant + '/assets/' + script.name:<44} {size:>9,} "
                      f"(budget {SCRIPT_BUDGET:,}: {'met' if size < SCRIPT_BUDGET else 'MISSED'})")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
