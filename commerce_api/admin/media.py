"""The media library: upload (picker or drag and drop), checked by decoding; alt text; thumbnails;
where each file is used; removal of unused files. Files are commits in the tenant's repository."""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

import yaml
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from typing_extensions import Annotated

from content.errors import ContentErrors
from content.media import MediaError, check_image, thumbnail
from content import plans

from ..errors import BadRequest, NotFound
from ..security import services_of
from .common import Form, Rejected, back, commit, page, parse, repo_of, text, who

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
LARGEST_UPLOAD = plans.UPLOAD_CEILING  # what any plan may allow; the site's own limit is checked per file


def _limits(request: Request) -> dict[str, int | None]:
    limits = plans.limits_for(services_of(request).db.registry, who(request).tenant)
    upload = limits["upload_bytes"]
    return {**limits, "upload_bytes": LARGEST_UPLOAD if upload is None else min(upload, LARGEST_UPLOAD)}


def _name(value: str) -> str:
    name = value.removeprefix("media/")
    if not name or "/" in name or "\\" in name or name.startswith(".") or name.endswith((".yaml", ".yml")):
        raise BadRequest("not a media file name", field="name")
    return name


def _library(request: Request) -> tuple[list[dict], int]:
    repo = repo_of(request)
    source = repo.source()
    try:
        paths = source.paths()
        files = [p for p in paths if p.startswith("media/") and not p.endswith((".yaml", ".yml"))]
        used: dict[str, list[str]] = {}
        titles: dict[str, list[str]] = {}  # what people call the pages using a file, for the library
        try:
            content = parse(request, source)
            for item in (*content.pages, *content.posts, *content.products):
                names = set(getattr(item, "images", ()) or ()) | ({item.image} if getattr(item, "image", None) else set())
                names |= {p.removeprefix("media/") for p in files if p in item.body}
                for name in names:
                    used.setdefault(name.removeprefix("media/"), []).append(item.path)
                    titles.setdefault(name.removeprefix("media/"), []).append(getattr(item, "title", None)
                                                                              or getattr(item, "name", item.path))
            if logo := (content.site.theme_settings or {}).get("logo"):
                used.setdefault(str(logo).removeprefix("media/"), []).append("site.yaml (logo)")
                titles.setdefault(str(logo).removeprefix("media/"), []).append("the site's logo")
        except ContentErrors:
            pass
        items, total = [], 0
        for path in files:
            name = path.removeprefix("media/")
            meta = source.read(path + ".yaml") if path + ".yaml" in paths else b""
            alt = (yaml.safe_load(meta) or {}).get("alt", "") if meta else ""
            size = source.size(path)
            total += size
            items.append({"name": name, "alt": alt, "size": size, "used_by": sorted(used.get(name, [])),
                          "used_titles": sorted(titles.get(name, []))})
        return items, total
    finally:
        source.close()


@get("/admin/media", opt={"action": "media:read"}, sync_to_thread=True, include_in_schema=False)
def library(request: Request) -> Response:
    items, total = _library(request)
    limits = _limits(request)
    for item in items:
        item["anchor"] = _anchor(item["name"])
    return page(request, "media.html", title="Media", section="media", items=items, total=total, limits=limits,
                can_write=who(request).can("media:write"))


@post("/admin/media/upload", opt={"action": "media:write"}, sync_to_thread=True, include_in_schema=False,
      request_max_body_size=LARGEST_UPLOAD + 64 * 1024)
def upload(request: Request, data: Upload) -> Response:
    member = who(request)
    limits = _limits(request)
    files = data.get("file")
    files = [f for f in (files if isinstance(files, list) else [files]) if isinstance(f, UploadFile) and f.filename]
    alt = text(data, "alt")
    if not files:
        return back(request, "/media", error="Choose an image to upload.")
    if not alt:
        return back(request, "/media", error="Describe the image in the alt text: people who cannot see it rely on it.")
    _, total = _library(request)
    before = total
    repo = repo_of(request)
    changes: dict[str, bytes | None] = {}
    try:
        for upload_ in files:
            body = upload_.file.read()
            checked = check_image(upload_.filename, body, limits["upload_bytes"])
            name = checked.name
            stem, ext = name.rsplit(".", 1)
            n = 2
            while repo.read(f"media/{name}") is not None or f"media/{name}" in changes:
                name, n = f"{stem}-{n}.{ext}", n + 1
            total += len(body)
            plans.check(services_of(request).db.registry, member.tenant, "media_bytes", before, total, limits)
            changes[f"media/{name}"] = body
            changes[f"media/{name}.yaml"] = yaml.safe_dump({"alt": alt}, allow_unicode=True).encode()
    except (MediaError, plans.LimitReached) as exc:
        return back(request, "/media", error=str(exc))
    names = [p.removeprefix("media/") for p in changes if not p.endswith(".yaml")]
    try:
        commit(request, changes, text(data, "message") or f"Upload {', '.join(names)}")
    except Rejected as exc:
        return back(request, "/media", error="; ".join(exc.errors) or "someone saved at the same moment; try again")
    return back(request, "/media", saved=f"Uploaded {', '.join(names)}. Copy Markdown under it puts it in a text.")


@post("/admin/media/alt", opt={"action": "media:write"}, sync_to_thread=True, include_in_schema=False)
def set_alt(request: Request, data: Form) -> Response:
    name, alt = _name(text(data, "name")), text(data, "alt")
    repo = repo_of(request)
    if repo.read(f"media/{name}") is None:
        raise NotFound(f"no media file {name}")
    if not alt:
        return back(request, "/media", error=f"The alt text for {name} cannot be empty.")
    meta = yaml.safe_load(repo.read(f"media/{name}.yaml") or b"") or {}
    meta["alt"] = alt
    try:
        commit(request, {f"media/{name}.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).encode()},
               f"Describe {name}")
    except Rejected as exc:
        return back(request, "/media", error="; ".join(exc.errors) or "someone saved at the same moment; try again")
    return back(request, f"/media#m-{_anchor(name)}", saved=f"Alt text for {name} saved.")


@post("/admin/media/delete", opt={"action": "media:write"}, sync_to_thread=True, include_in_schema=False)
def delete(request: Request, data: Form) -> Response:
    name = _name(text(data, "name"))
    items, _ = _library(request)
    item = next((i for i in items if i["name"] == name), None)
    if item is None:
        raise NotFound(f"no media file {name}")
    if item["used_by"]:
        return back(request, "/media", error=f"{name} is used by {', '.join(item['used_by'])}; remove it there first.")
    repo = repo_of(request)
    changes: dict[str, bytes | None] = {f"media/{name}": None}
    if repo.read(f"media/{name}.yaml") is not None:
        changes[f"media/{name}.yaml"] = None
    commit(request, changes, f"Remove {name}")
    return back(request, "/media", saved=f"Removed {name}.")


def _anchor(name: str) -> str:
    """A media file's place in the library page, so a save comes back to the card it was made on."""
    return hashlib.sha256(name.encode()).hexdigest()[:10]


def _file(request: Request, name: str) -> bytes:
    data = repo_of(request).read(f"media/{_name(name)}")
    if data is None:
        raise NotFound(f"no media file {name}")
    return data


@get("/admin/media/file", opt={"action": "media:read"}, sync_to_thread=True, include_in_schema=False)
def original(request: Request, name: FromQuery[str]) -> Response:
    data = _file(request, name)
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if not kind.startswith("image/") or kind == "image/svg+xml":
        kind = "application/octet-stream"
    return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=300",
                                                    "Content-Security-Policy": "default-src 'none'; sandbox"})


@get("/admin/media/thumb", opt={"action": "media:read"}, sync_to_thread=True, include_in_schema=False)
def thumb(request: Request, name: FromQuery[str]) -> Response:
    data = _file(request, name)
    cache = services_of(request).config.data_dir / "tenants" / who(request).tenant.slug / "cache" / "thumbs"
    path = cache / f"{hashlib.sha256(data).hexdigest()[:32]}.webp"
    if not path.exists():
        try:
            small = thumbnail(data)
        except Exception:  # a file that is not a raster image gets no thumbnail, not an error page
            raise NotFound(f"{name} has no thumbnail") from None
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(small)
        tmp.replace(path)
    return Response(path.read_bytes(), media_type="image/webp", headers={"Cache-Control": "private, max-age=86400"})


ROUTES = [library, upload, set_alt, delete, original, thumb]
