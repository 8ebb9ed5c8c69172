"""A build trusts its recorded state (what it wrote last time) only while the output folder still
matches it; any difference means a clean rebuild, so a damaged output never sticks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builder.conftest import files
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


@pytest.mark.parametrize("damage", [lie_in_manifest, delete_page, edit_page, add_foreign_page, delete_asset])
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
