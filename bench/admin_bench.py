"""Admin benchmark: how long the pages people wait on take for a site of many pages, over real HTTP.

Creates a tenant from a generated site (--pages Markdown files), signs in, and prints the median
of several requests for the pages list, the editor, a live preview and a save (a commit after the
whole would-be site is parsed). The first request of a kind parses the site; later ones reuse the
process's parse cache for every file that did not change.

    .venv/bin/python bench/admin_bench.py [--pages 5000] [--runs 5]
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402

from gen_site import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--think", type=float, default=2.0,
                        help="Seconds on the dashboard after signing in, as a person would (0: straight on).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(args.pages, work / "starters")
        env = {**os.environ, "TESSERA_DATA_DIR": str(work / "data"), "TESSERA_SITES_DIR": str(work / "starters")}
        os.environ.update(env)
        from commerce_api.auth.users import Users
        from content.registry import parse_features
        from content.tenants import Tenants
        from tessera.app import make_app, services
        from tessera.settings import Settings
        from tests.api.conftest import free_port
        from tests.conftest import serving

        settings = Settings.from_env(env)
        tenants = Tenants(settings.data_dir, settings.sites_dir)
        tenant = tenants.create("big", "Big Site", parse_features("cms"), starter="tessera")
        svc = services(settings)
        user = Users(svc.db).create("owner@big.test", "a long benchmark password")
        svc.users.grant(user.id, tenant.id, "owner")
        port = free_port()
        with serving(make_app(Settings.from_env({**env, "TESSERA_PORT": str(port)})), port):
            http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": f"big.localhost:{port}"},
                                timeout=120)
            token = re.search(r'name="login_token" value="([^"]+)"', http.get("/admin/login").text).group(1)
            http.post("/admin/login", data={"email": "owner@big.test", "password": "a long benchmark password",
                                            "login_token": token})
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/admin/").text).group(1)
            time.sleep(args.think)  # the dashboard is read; meanwhile the sign-in warmed the parse cache
            post = next(p for p in sorted((work / "starters" / "tessera" / "posts").iterdir()))
            path = f"posts/{post.name}"
            print(f"{args.pages} Markdown files; {args.think:g} s on the dashboard first; medians of {args.runs} "
                  "requests after the first")

            def measure(label: str, call) -> None:
                started = time.perf_counter()
                first = call()
                cold = time.perf_counter() - started
                assert first.status_code in (200, 303), (label, first.status_code, first.text[:300])
                times = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    response = call()
                    times.append(time.perf_counter() - started)
                    assert response.status_code in (200, 303), (label, response.status_code)
                print(f"  {label:<22} first {cold * 1000:7.0f} ms   then {statistics.median(times) * 1000:6.0f} ms",
                      flush=True)

            measure("pages list", lambda: http.get("/admin/pages"))
            measure("editor", lambda: http.get(f"/admin/pages/edit?path={path}"))
            counter = iter(range(10**6))
            measure("live preview", lambda: http.post("/admin/pages/preview", data={
                "csrf_token": csrf, "path": path, "title": "Edited", "body": f"Draft {next(counter)}"}))
            measure("save (a commit)", lambda: http.post("/admin/pages/save", data={
                "csrf_token": csrf, "path": path, "title": "Edited", "body": f"Saved {next(counter)}",
                "message": "Benchmark edit"}))
        tenants.close()


if __name__ == "__main__":
    main()
