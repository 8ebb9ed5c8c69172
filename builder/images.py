"""Responsive image derivatives: a few widths, WebP plus the original format, cached by content.

Each image is decoded once per content hash; derivatives live in the build cache and are copied
into every build that needs them. Templates get width and height for every ``<img>`` so pages do
not shift while loading.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

WIDTHS = (480, 960, 1600)
RASTER = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
VERSION = "img-1"
_UNSAFE_SVG = re.compile(rb"<script|\son[a-z]+\s*=|javascript:|<foreignObject|<!ENTITY", re.I)


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

    def srcset(self, fmt: str) -> str:
        return ", ".join(f"{v.url} {v.width}w" for v in self.variants if v.format == fmt)

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
        meta = _derive(data, ext, folder)
    short = digest[:10]
    files: dict[str, Path] = {f"media/{name}": folder / f"original.{ext}"}
    variants = []
    for width, fmt, file_ext in meta["variants"]:
        out = f"media/{stem}-{width}.{short}.{file_ext}"
        files[out] = folder / f"{width}.{file_ext}"
        variants.append(Variant("/" + out, width, fmt))
    info = ImageInfo(name, f"/media/{name}", meta["width"], meta["height"], tuple(variants))
    return info, files


def _derive(data: bytes, ext: str, folder: Path) -> dict:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot be read as an image ({exc.__class__.__name__})") from None
    image = ImageOps.exif_transpose(image)
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
    meta = {"width": width, "height": height, "variants": variants}
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


def check_svg(data: bytes) -> str | None:
    """SVG files can carry scripts; refuse any that do rather than publish them."""
    if _UNSAFE_SVG.search(data):
        return "is an SVG with scripts or event handlers, which are not allowed; export it again without them"
    return None
