"""Responsive image derivatives: a few widths, WebP plus the original format, cached by content.

Each image is decoded once per content hash; derivatives live in the build cache and are copied
into every build that needs them. Templates get width and height for every ``<img>`` so pages do
not shift while loading. Only what ``content.media`` accepts is decoded (JPEG, PNG, WebP, within
its pixel limit, checked on the header first); the original keeps its name and is served with the
type of its decoded format, whatever its extension says.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from content.media import MEDIA_TYPES, MediaError, open_image

WIDTHS = (480, 960, 1600)
RASTER = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
VERSION = "img-2"  # img-2: meta.json records the decoded format


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


def process(name: str, data: bytes, cache_dir: Path) -> tuple[ImageInfo, dict[str, Path]]:
    """Returns the image's info and its output files (output path → cached file)."""
    digest = hashlib.blake2b(VERSION.encode() + data, digest_size=16).hexdigest()
    stem, ext = os.path.splitext(name)
    ext = ext.lower().lstrip(".")
    folder = cache_dir / digest[:2] / digest
    meta_path = folder / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
    else:
        meta = _derive(name, data, ext, folder)
    short = digest[:10]
    files: dict[str, Path] = {f"media/{name}": folder / f"original.{ext}"}
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
    folder.mkdir(parents=True, exist_ok=True)
    fmt = RASTER.get(ext, "PNG")
    file_ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
    variants = []
    sizes = sorted({w for w in WIDTHS if w < width} | {min(width, WIDTHS[-1])})
    for target in sizes:
        copy = image if target == width else image.resize((target, round(height * target / width)),
                                                         Image.Resampling.LANCZOS)
        if fmt != "WEBP":
            _save(copy, folder / f"{target}.{file_ext}", fmt)
            variants.append((target, fmt.lower(), file_ext))
        _save(copy, folder / f"{target}.webp", "WEBP")
        variants.append((target, "webp", "webp"))
    _atomic_write(folder / f"original.{ext}", data)
    meta = {"width": width, "height": height, "variants": variants, "format": decoded}
    _atomic_write(folder / "meta.json", json.dumps(meta).encode())
    return meta


def _save(image: Image.Image, path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=80, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=78, method=4)
    else:
        image.save(buffer, "PNG", optimize=True)
    _atomic_write(path, buffer.getvalue())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)

