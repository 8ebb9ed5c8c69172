"""Many tenants' publishes queued at once on a running job runner: count failures and check that
each tenant's output equals its own clean, sequential build.

    python bench/concurrent_publish_bench.py [TENANTS] [POSTS] [RUNNER_WORKERS] [CPUS]

Tenants alternate between the two starters; each gets POSTS posts of its own (enough pages to make
the builder render in parallel processes) so that any mix-up between builds shows in the output.
CPUS makes each build start as many render workers as a machine with that many cores would (builds
use one per core), which widens any window between two builds' preparations on a small machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content.gitrepo import Author  # noqa: E402
from content.registry import parse_features  # noqa: E402
from content.tenants import Tenants  # noqa: E402
from publish.jobs import Queue, Runner  # noqa: E402
from tessera.app import run_job  # noqa: E402
from tessera.settings import Settings  # noqa: E402
from tessera.sites import build_tenant  # noqa: E402

EDITOR = Author("Bench", "bench@example.test")


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def make_tenants(settings: Settings, count: int, posts: int) -> list[str]:
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    slugs = []
    try:
        for n in range(count):
            slug = f"t{n:03d}"
            starter = "bakery" if n % 2 == 0 else "studio"
            tenants.create(slug, f"Tenant {n}", parse_features("cms,ecommerce" if starter == "bakery" else "cms"),
                           starter=starter)
            tenants.repository(slug).write(
                {f"posts/{slug}-{i:03d}.md": f"---\ntitle: {slug} post {i}\npublished_at: 2024-01-01\n---\n"
                                              f"Only {slug} has this post.\n".encode() for i in range(posts)},
                EDITOR, "Posts of our own")
            slugs.append(slug)
    finally:
        tenants.close()
    return slugs


def references(settings: Settings, slugs: list[str], root: Path) -> dict[str, dict[str, bytes]]:
    """Each tenant's clean, sequential build, in a folder of its own (no cache shared with the jobs)."""
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    try:
        out = {}
        for slug in slugs:
            folder = root / slug
            build_tenant(settings, tenants, slug, out_dir=folder)
            out[slug] = files(folder)
        return out
    finally:
        tenants.close()


def run(count: int, posts: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"TESSERA_DATA_DIR": str(Path(tmp) / "data")})
        slugs = make_tenants(settings, count, posts)
        expected = references(settings, slugs, Path(tmp) / "reference")
        queue = Queue(settings.data_dir / "platform.db")
        jobs = [queue.enqueue(slug, actor="bench") for slug in slugs]
        runner = Runner(queue, lambda job: run_job(settings, job), workers=workers, poll=0.05)
        started = time.perf_counter()
        runner.start()
        try:
            while any(queue.get(j.id).status in ("queued", "running") for j in jobs):
                time.sleep(0.2)
        finally:
            runner.stop()
        seconds = time.perf_counter() - started
        finished = [queue.get(j.id) for j in jobs]
        failed = [j for j in finished if j.status != "done"]
        wrong_build, wrong_live = [], []
        for slug in slugs:
            build = files(settings.data_dir / "tenants" / slug / "build")
            if build != expected[slug]:
                wrong_build.append(slug)
            live = settings.data_dir / "buckets" / slug / "current"
            served = {k: v for k, v in files(live).items() if not k.startswith("_tessera/")} if live.exists() else {}
            if served != {k: v for k, v in expected[slug].items() if not k.startswith("_tessera/")}:
                wrong_live.append(slug)
        return {"tenants": count, "failed": len(failed), "wrong_build": len(wrong_build),
                "wrong_live": len(wrong_live), "seconds": round(seconds, 1),
                "first_failure": failed[0].log.strip().splitlines()[-1] if failed else None}


if __name__ == "__main__":
    import os

    args = [int(a) for a in sys.argv[1:]]
    count, posts, workers, cpus = (args + [30, 80, 2, 0][len(args):])[:4]
    if cpus:
        os.cpu_count = lambda: cpus  # BuildConfig.workers defaults to one per core
    print(run(count, posts, workers))
