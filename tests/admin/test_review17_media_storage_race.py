"""Media storage is counted again under the repository's lock, against the version an upload lands on:
an upload measured against a library that another upload has grown meanwhile cannot take the site past
its plan's media storage."""

from __future__ import annotations

import io
import os

from content import plans
from content.registry import Registry
from tests.admin.conftest import alert


def _noise(side: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(3 * side * side)).save(out, "PNG")
    return out.getvalue()


def _media_bytes(owner) -> int:
    source = owner.repo().source()
    try:
        return sum(source.size(p) for p in plans.media_paths(source.paths()))
    finally:
        source.close()


def test_an_upload_measured_before_another_landed_cannot_pass_the_media_limit(admin, site, monkeypatch):
    from commerce_api.admin import media

    owner = admin()
    used = _media_bytes(owner)
    image = _noise(120)  # about 43 KB
    registry = Registry(site["data"] / "platform.db")
    plans.set_overrides(registry, "bakery", {"media_bytes": used + len(image) + 1000}, actor=None)
    try:
        real = media._library
        # What the upload saw of the library before a second upload (of the same weight) landed.
        monkeypatch.setattr(media, "_library", lambda request: (real(request)[0], used - len(image) - 2000))
        head = owner.repo().head()
        first = owner.http.post("/media/upload", data={"csrf_token": owner.csrf, "alt": "Noise"},
                                files={"file": ("noise-a.png", image, "image/png")})
        assert first.status_code == 303, first.text
        assert "Uploaded" in owner.get(first.headers["location"]).text
        assert owner.repo().head() != head
        head = owner.repo().head()
        second = owner.http.post("/media/upload", data={"csrf_token": owner.csrf, "alt": "Noise"},
                                 files={"file": ("noise-b.png", _noise(120), "image/png")})
        assert "of media" in alert(owner.get(second.headers["location"]))
        assert owner.repo().head() == head
        assert _media_bytes(owner) <= used + len(image) + 1000
    finally:
        plans.set_overrides(registry, "bakery", {}, actor=None)
        registry.close()
