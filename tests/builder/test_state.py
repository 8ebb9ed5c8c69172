"""A build trusts its recorded state (what it wrote last time) only while the output folder still
matches it; any difference means a clean rebuild, so a damaged output never sticks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.build import BuildConfig, build
from content.source import DirSource
from tests.builder.conftest import NOW, THEMES, files
from tests.conftest import SITES


def lie_in_manifest(out: Path) -> None:
    """What builds that trampled on each other left behind: a manifest listing another site's pages."""
    manifest_path = out / "_tessera" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["work/index.html"] = ["0" * 64, 10, "text/html; charset=utf-8"]
    manifest_path.write_text(json.dumps(manifest))


def delete_page(out: Path) -> None:
    (out / "about" / "index.html").unlink()


def edit_page(out: Path) -> None:
    (out / "about" / "index.html").write_text("<p>changed by hand</p>")


def add_foreign_page(out: Path) -> None:
    (out / "work").mkdir()
    (out / "work" / "index.html").write_text("<p>another site's page</p>")


def delete_asset(out: Path) -> None:
    next(out.glob("assets/site.*.css")).unlink()


def add_file_beside_a_page(out: Path) -> None:
    (out / "about" / "notes.html").write_text("<p>left here by hand</p>")


def rename_page(out: Path) -> None:
    (out / "about" / "index.html").rename(out / "about" / "index.htm")


@pytest.mark.parametrize("damage", [lie_in_manifest, delete_page, edit_page, add_foreign_page, delete_asset,
                                    add_file_beside_a_page, rename_page])
def test_output_that_differs_from_the_recorded_state_is_rebuilt_clean(damage, build_site, tmp_path):
    build_site(SITES / "bakery")
    damage(tmp_path / "out")
    result = build_site(SITES / "bakery")  # nothing changed in the site itself
    assert not result.up_to_date
    build_site(SITES / "bakery", out=tmp_path / "clean", cache=False)
    assert files(tmp_path / "out") == files(tmp_path / "clean")
    assert build_site(SITES / "bakery").up_to_date  # and trusted again from then on


def test_lost_build_state_does_not_leave_stale_files(build_site, tmp_path):
    import shutil

    build_site(SITES / "bakery")
    add_foreign_page(tmp_path / "out")
    shutil.rmtree(tmp_path / "cache")
    build_site(SITES / "bakery")
    build_site(SITES / "bakery", out=tmp_path / "clean", cache=False)
    assert files(tmp_path / "out") == files(tmp_path / "clean")


def test_the_recorded_output_is_what_a_listing_finds_after_each_build(tmp_path):
    """A rebuild looks again only at what its commit touched; what it records must still be exactly
    what listing the whole folder finds, or the next build would not trust (or wrongly trust) it."""
    from builder.build import _load
    from builder.output import scan
    from tests.conftest import write_site

    site = write_site(tmp_path / "site", {
        "site.yaml": "name: S\nposts_per_page: 1\n",
        "posts/a.md": "---\ntitle: A\npublished_at: 2026-01-01\ntags: [x]\n---\nA\n",
        "posts/b.md": "---\ntitle: B\npublished_at: 2026-01-02\ntags: [y]\n---\nB\n",
    })
    out, cache = tmp_path / "out", tmp_path / "cache"
    config = lambda: BuildConfig(DirSource(site), out, THEMES, shop=False, cache_dir=cache, now=NOW, workers=1)  # noqa: E731
    build(config())
    for change in (lambda: (site / "posts" / "b.md").write_text((site / "posts" / "b.md").read_text() + "more\n"),
                   lambda: (site / "posts" / "c.md").write_text("---\ntitle: C\npublished_at: 2026-01-03\n"
                                                               "tags: [z]\n---\nC\n"),
                   lambda: (site / "posts" / "a.md").unlink()):
        change()
        build(config())
        state = _load(cache, "state")
        dirs: dict = {}
        assert state["files"] == scan(out, dirs)
        assert state["dirs"] == dirs
