"""Builds side by side, in threads of one process as the job runner runs them, are independent:
each one writes exactly what it writes alone, file for file."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import builder.build
from builder.build import BuildConfig, build
from content.source import DirSource
from tests.builder.conftest import NOW, THEMES, files
from tests.conftest import SITES


def site_of_its_own(root: Path, n: int, posts: int = 60) -> Path:
    """A starter plus posts only this site has: enough pages to render in worker processes, and any
    page that lands in another site's output gives itself away."""
    site = root / f"site{n}"
    shutil.copytree(SITES / ("bakery" if n % 2 == 0 else "studio"), site)
    for i in range(posts):
        (site / "posts" / f"own-{n}-{i}.md").write_text(
            f"---\ntitle: Site {n}, post {i}\npublished_at: 2025-01-01\ntags: [site{n}]\n---\nOnly site {n}.\n")
    return site


def config(site: Path, n: int, out: Path, cache: Path | None) -> BuildConfig:
    return BuildConfig(DirSource(site), out, THEMES, base_url=f"https://site{n}.example", shop=n % 2 == 0,
                       cache_dir=cache, now=NOW, workers=2)


def test_builds_in_threads_each_write_exactly_their_own_site(tmp_path, monkeypatch):
    sites = [site_of_its_own(tmp_path / "sites", n) for n in range(4)]
    for n, site in enumerate(sites):
        build(config(site, n, tmp_path / "alone" / str(n), None))
    expected = {n: files(tmp_path / "alone" / str(n)) for n in range(len(sites))}

    # The worst interleaving, every time: each build has prepared its work and reached its process
    # pool before any of them forks its workers.
    gate = threading.Barrier(len(sites), timeout=120)

    class GatedPool(ProcessPoolExecutor):
        def __init__(self, *args, **kwargs) -> None:
            gate.wait()
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(builder.build, "ProcessPoolExecutor", GatedPool)
    failures: dict[int, BaseException] = {}

    def run(n: int) -> None:
        try:
            result = build(config(sites[n], n, tmp_path / "together" / str(n), tmp_path / "cache" / str(n)))
            assert result.rendered >= 64  # rendered by worker processes, not inline
        except BaseException as exc:  # noqa: BLE001 - reported below, per site
            failures[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(sites))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == {}
    for n in range(len(sites)):
        assert files(tmp_path / "together" / str(n)) == expected[n], f"site {n} differs from its own build"
