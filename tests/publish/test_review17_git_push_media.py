"""The plan's media storage holds for git pushes as it does for the admin's uploads: a push that would
take the site's media past ``media_bytes`` is refused by the pre-receive hook, naming the limit, and
nothing of it lands; within the limit, or removing media, passes. Real pushes with the stock git client."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from content import plans
from tests.publish.git_sites import OWNER, bakery_git_server
from tests.publish.test_git_push import git, remote


def _noise(side: int) -> bytes:
    """A PNG of random pixels: about 3 × side² bytes that no compression shrinks."""
    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(3 * side * side)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(name="bakery", scope="module")
def fx_bakery(tmp_path_factory):
    with bakery_git_server(tmp_path_factory, "gitmedia") as (_, tenants, _, port):
        yield tenants, port


def _media_bytes(tenants) -> int:
    source = tenants.repository("bakery").source()
    try:
        return sum(source.size(p) for p in plans.media_paths(source.paths()))
    finally:
        source.close()


def _push(port, tmp_path: Path, change):
    work = tmp_path / "work"
    git("clone", "-q", remote(port, OWNER, slug="bakery"), str(work))
    change(work)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "media", cwd=work)
    return git("push", "origin", "main", cwd=work, check=False)


def test_a_push_past_the_media_storage_limit_is_refused_and_nothing_lands(bakery, tmp_path):
    tenants, port = bakery
    used = _media_bytes(tenants)
    plans.set_overrides(tenants.registry, "bakery", {"media_bytes": used + 100_000}, actor=None)
    try:
        repo = tenants.repository("bakery")
        head = repo.head()
        refused = _push(port, tmp_path / "a", lambda work: (work / "media" / "noise.png").write_bytes(_noise(300)))
        assert refused.returncode != 0
        assert "media_bytes: This site's limit is" in refused.stderr and "of media" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert repo.head() == head and _media_bytes(tenants) == used

        small = _push(port, tmp_path / "b", lambda work: (work / "media" / "speck.png").write_bytes(_noise(20)))
        assert small.returncode == 0, small.stderr  # within the limit
        plans.set_overrides(tenants.registry, "bakery", {"media_bytes": 1000}, actor=None)  # a downgrade
        removed = _push(port, tmp_path / "c", lambda work: (work / "media" / "speck.png").unlink())
        assert removed.returncode == 0, removed.stderr  # over the limit, removing media always passes
    finally:
        plans.set_overrides(tenants.registry, "bakery", {}, actor=None)
