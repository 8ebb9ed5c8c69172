"""Checking an uploaded image before it enters a tenant's repository: decoded for real by Pillow,
within the plan's size, named safely. SVG is refused: it can carry scripts."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_PIXELS = 40_000_000  # 40 megapixels: a bigger image is a decompression bomb or a mistake
_NAME = re.compile(r"[^a-z0-9]+")


class MediaError(ValueError):
    """The upload is refused; the message says why in words for the person uploading."""


@dataclass(frozen=True)
class CheckedImage:
    name: str  # safe file name under media/, its extension from the decoded format
    width: int
    height: int
    format: str


def safe_name(filename: str, extension: str) -> str:
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    stem = _NAME.sub("-", stem.lower()).strip("-")[:80] or "image"
    return f"{stem}.{extension}"


def check_image(filename: str, data: bytes, max_bytes: int) -> CheckedImage:
    if not data:
        raise MediaError(f"{filename} is empty")
    if len(data) > max_bytes:
        raise MediaError(f"{filename} is {len(data) / 2**20:.1f} MB; this plan takes files up to "
                         f"{max_bytes / 2**20:.0f} MB")
    if filename.lower().endswith((".svg", ".svgz")) or data.lstrip()[:5] in (b"<?xml", b"<svg "):
        raise MediaError(f"{filename}: SVG files can carry scripts, so uploads take JPEG, PNG and WebP only")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()  # structure and checksums
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise MediaError(f"{filename} is {image.width}×{image.height} pixels; the limit is "
                                     f"{MAX_PIXELS // 1_000_000} megapixels")
                image.load()  # every pixel decodes
                fmt = image.format or ""
                size = image.size
    except MediaError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(f"{filename} is not an image this site can show (JPEG, PNG or WebP)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{filename} is damaged and cannot be decoded ({exc})") from None
    if fmt not in FORMATS:
        raise MediaError(f"{filename} is a {fmt or 'unknown'} image; uploads take JPEG, PNG and WebP")
    return CheckedImage(safe_name(filename, FORMATS[fmt]), size[0], size[1], fmt)


def thumbnail(data: bytes, width: int = 240) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((width, width * 2))
        out = io.BytesIO()
        image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "WEBP", quality=80)
    return out.getvalue()
