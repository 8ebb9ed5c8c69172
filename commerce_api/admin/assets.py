"""The admin's own stylesheet and icon sprite, served from files with a fingerprint in their names.

A page names ``/assets/admin.<hash>.css``: the name changes whenever the file does, so the file can be
cached for a year and every page after the first loads no CSS at all (the inline ``<style>`` it
replaces was sent again with every page, which is never cached). Same origin as the pages, so the
admin's CSP (``default-src 'self'``) allows them without any new source. Only the files listed here
are served: a name that is not one of them, or an old fingerprint, is a 404."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from litestar import Response, get
from litestar.params import FromPath

from ..errors import NotFound

STATIC = Path(__file__).parent / "static"
FILES = {"admin.css": "text/css; charset=utf-8", "icons.svg": "image/svg+xml"}
YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    name: str  # admin.css
    url_name: str  # admin.3f2a9c1d0b.css
    body: bytes
    media_type: str


@lru_cache(maxsize=None)  # the files ship with the code: read once per process, never changed in place
def _assets() -> dict[str, Asset]:
    found = {}
    for name, media_type in FILES.items():
        body = (STATIC / name).read_bytes()
        stem, _, ext = name.rpartition(".")
        url_name = f"{stem}.{hashlib.sha256(body).hexdigest()[:10]}.{ext}"
        found[url_name] = Asset(name, url_name, body, media_type)
    return found


def asset_url(name: str) -> str:
    """The fingerprinted URL of one of FILES (on the admin's origin, whatever site's page asks)."""
    for asset in _assets().values():
        if asset.name == name:
            return f"/assets/{asset.url_name}"
    raise KeyError(f"{name} is not one of the admin's assets ({', '.join(FILES)})")


@get("/admin/assets/{name:str}", opt={"tenant": False}, sync_to_thread=False, include_in_schema=False)
def serve(name: FromPath[str]) -> Response:
    asset = _assets().get(name)
    if asset is None:
        raise NotFound("no such admin asset")
    return Response(asset.body, media_type=asset.media_type,
                    headers={"Cache-Control": f"public, max-age={YEAR}, immutable", "X-Content-Type-Options": "nosniff"})


ROUTES = [serve]
