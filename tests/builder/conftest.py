from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from builder.build import BuildConfig, build
from content.source import DirSource
from tessera.settings import ROOT

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
THEMES = ROOT / "themes"


@pytest.fixture(name="build_site")
def fx_build_site(tmp_path: Path):
    """Build a site folder into tmp_path/out (cache in tmp_path/cache); returns the result."""

    def run(site: Path, *, out: Path | None = None, shop: bool = True, now: datetime = NOW,
            workers: int = 1, cache: bool = True, **kwargs):
        config = BuildConfig(DirSource(site), out or tmp_path / "out", THEMES, base_url="https://shop.example.com",
                             shop=shop, cache_dir=(tmp_path / "cache") if cache else None, now=now,
                             workers=workers, **kwargs)
        return build(config)

    return run


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
