"""Responsive image derivatives: a few widths, WebP plus the original format, cached by content.

Each image is decoded once per content for the whole installation: derivatives live in a cache keyed
by the source's SHA-256 and everything that shapes the derivatives (widths, output format, encoder
settings, this module's ``VERSION``), shared by every tenant's builds (``TESSERA_DATA_DIR/cache/images``),
and hard-linked into every build that needs them. An entry is made in a private folder and renamed
into place whole, so a build never sees half of one, and two builds making the same one at once both
end up with one complete entry. The cache can be deleted at any time between builds: an entry that is
missing is made again. Templates get width and height for every ``<img>`` so pages do
not shift while loading. Only what ``content.media`` accepts is decoded (JPEG, PNG, WebP, within
its pixel limit, checked on the header first); the original keeps its name and is served with the
type of its decoded format, whatever its extension says.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from content.media import MEDIA_TYPES, MediaError, open_image

WIDTHS = (480, 960, 1600)
RASTER = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
VERSION = "img-3"  # img-2: meta.json records the decoded format; img-3: shared by tenants, keyed by SHA-256
# Encoder settings: part of every entry's key, so changing one makes new entries rather than reusing old ones.
JPEG_QUALITY = 80
WEBP_QUALITY = 78
WEBP_METHOD = 4


@dataclass(frozen=True)
class Variant:
    url: str
    width: int
    format: str  # "webp", "jpeg", "png"


@dataclass(frozen=True)
class ImageInfo:
    name: str
    url: str  # the original file, for links and og:image
    width: int
    height: int
    variants: tuple[Variant, ...]
    media_type: str = "image/jpeg"  # of the original, from its decoded format

    def srcset(self, fmt: str, max_width: int | None = None) -> str:
        """Widths of ``fmt``; with ``max_width``, none wider than needed (the smallest at or past it
        is the last), so a card that is never wider than 300 px does not list a 1600 px file."""
        chosen = [v for v in self.variants if v.format == fmt]
        if max_width is not None:
            enough = next((i for i, v in enumerate(chosen) if v.width >= max_width), len(chosen) - 1)
            chosen = chosen[:enough + 1]
        return ", ".join(f"{v.url} {v.width}w" for v in chosen)

    @property
    def fallback_format(self) -> str:
        return next((v.format for v in self.variants if v.format != "webp"), "webp")

    def src(self, max_width: int = 960) -> str:
        fitting = [v for v in self.variants if v.format == self.fallback_format and v.width <= max_width]
        chosen = fitting[-1] if fitting else min((v for v in self.variants if v.format == self.fallback_format),
                                                  key=lambda v: v.width)
        return chosen.url


class ImageError(Exception):
    pass


def cache_key(data: bytes, ext: str) -> str:
    """The cache entry for ``data`` under a name ending in ``ext``: the extension picks the derivatives'
    format, so the same bytes named .png and .jpg make two entries."""
    fmt = RASTER.get(ext, "PNG")
    shape = f"{VERSION}|{','.join(map(str, WIDTHS))}|{fmt}|{JPEG_QUALITY}|{WEBP_QUALITY}|{WEBP_METHOD}"
    return f"{hashlib.sha256(data).hexdigest()}-{hashlib.blake2b(shape.encode(), digest_size=6).hexdigest()}"


def process(name: str, data: bytes, cache_dir: Path) -> tuple[ImageInfo, dict[str, Path]]:
    """Returns the image's info and its output files (output path → cached file)."""
    stem, ext = os.path.splitext(name)
    ext = ext.lower().lstrip(".")
    key = cache_key(data, ext)
    folder = cache_dir / key[:2] / key
    try:
        meta = json.loads((folder / "meta.json").read_bytes())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        meta = _derive(name, data, ext, folder)
    short = hashlib.blake2b(key.encode(), digest_size=5).hexdigest()  # in URLs: new bytes, new URL
    files: dict[str, Path] = {f"media/{name}": folder / "original"}
    variants = []
    for width, fmt, file_ext in meta["variants"]:
        out = f"media/{stem}-{width}.{short}.{file_ext}"
        files[out] = folder / f"{width}.{file_ext}"
        variants.append(Variant("/" + out, width, fmt))
    info = ImageInfo(name, f"/media/{name}", meta["width"], meta["height"], tuple(variants),
                     MEDIA_TYPES[meta["format"]])
    return info, files


def _derive(name: str, data: bytes, ext: str, folder: Path) -> dict:
    path = f"media/{name}"
    try:
        image = open_image(path, data)  # the pixel limit, checked on the header
        image.load()  # then every pixel decodes
        decoded = image.format
        ImageOps.exif_transpose(image, in_place=True)  # in place: one copy of up to 40 megapixels, not two
    except MediaError as exc:
        raise ImageError(str(exc).removeprefix(path).lstrip(": ")) from None
    except OSError as exc:
        raise ImageError(f"cannot be read as an image ({exc.__class__.__name__})") from None
    width, height = image.size
    folder.parent.mkdir(parents=True, exist_ok=True)
    # The entry is made in a folder of this build's own, then renamed into place whole.
    private = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        fmt = RASTER.get(ext, "PNG")
        file_ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
        variants = []
        sizes = sorted({w for w in WIDTHS if w < width} | {min(width, WIDTHS[-1])})
        for target in sizes:
            copy = image if target == width else image.resize((target, round(height * target / width)),
                                                             Image.Resampling.LANCZOS)
            if fmt != "WEBP":
                _save(copy, private / f"{target}.{file_ext}", fmt)
                variants.append((target, fmt.lower(), file_ext))
            _save(copy, private / f"{target}.webp", "WEBP")
            variants.append((target, "webp", "webp"))
        (private / "original").write_bytes(data)
        meta = {"width": width, "height": height, "variants": variants, "format": decoded}
        (private / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(private, folder)
        except OSError:  # another build made it first (or a dead one left it): theirs is as good as ours
            if not (folder / "meta.json").exists():
                shutil.rmtree(folder, ignore_errors=True)  # not a whole entry: replace it with ours
                with contextlib.suppress(OSError):  # unless a third build just did
                    os.rename(private, folder)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return meta


def _save(image: Image.Image, path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    else:
        image.save(buffer, "PNG", optimize=True)
    path.write_bytes(buffer.getvalue())

