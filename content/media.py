"""Images, however they enter a site (admin upload, git push, import): decoded for real by Pillow,
never past one pixel limit, named safely. Only JPEG, PNG and WebP: SVG can carry scripts, and
anything else under ``media/`` would be served from the site's own origin.

``open_image`` is the one way in: it reads the header and refuses an image over ``MAX_PIXELS``
before a single pixel is decoded. The push hook, the builder, admin thumbnails and the preview
all go through it, so the limit is this one constant.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp"})
MAX_PIXELS = 40_000_000  # 40 megapixels: a bigger image is a decompression bomb or a mistake
ACCEPTED = "JPEG, PNG and WebP"
_NAME = re.compile(r"[^a-z0-9]+")


class MediaError(ValueError):
    """The image is refused; the message names the file and says why in words for its author."""


@dataclass(frozen=True)
class CheckedImage:
    name: str  # safe file name under media/, its extension from the decoded format
    width: int
    height: int
    format: str  # "JPEG", "PNG" or "WEBP", as decoded

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def safe_name(filename: str, extension: str) -> str:
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    stem = _NAME.sub("-", stem.lower()).strip("-")[:80] or "image"
    return f"{stem}.{extension}"


def open_image(filename: str, data: bytes) -> Image.Image:
    """The image with only its header read, refused if it is not JPEG, PNG or WebP or if it has
    more than ``MAX_PIXELS`` pixels. Decode it (``load()``, ``thumbnail()``...) only after this."""
    if filename.lower().endswith((".svg", ".svgz")) or data.lstrip()[:5] in (b"<?xml", b"<svg "):
        raise MediaError(f"{filename}: SVG files can carry scripts, so media takes {ACCEPTED} images only")
    try:
        # formats=: no other decoder ever sees the bytes (fewer parsers, and no surprise formats).
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError:
        raise MediaError(f"{filename} is not an image this site can show ({ACCEPTED})") from None
    except Image.DecompressionBombError:  # Pillow's own, far higher backstop
        raise MediaError(f"{filename} is larger than the limit of {MAX_PIXELS // 1_000_000} megapixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{filename} is damaged and cannot be decoded ({exc})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise MediaError(f"{filename} is {width}×{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels")
    return image


def check_image(filename: str, data: bytes, max_bytes: int | None = None) -> CheckedImage:
    """Decode the whole image (within the limits) and say what it is; ``MediaError`` if refused."""
    if not data:
        raise MediaError(f"{filename} is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise MediaError(f"{filename} is {len(data) / 2**20:.1f} MB; this plan takes files up to "
                         f"{max_bytes / 2**20:.0f} MB")
    with open_image(filename, data) as probe:
        try:
            probe.verify()  # structure and checksums
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaError(f"{filename} is damaged and cannot be decoded ({exc})") from None
    with open_image(filename, data) as image:
        try:
            image.load()  # every pixel decodes
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaError(f"{filename} is damaged and cannot be decoded ({exc})") from None
        fmt, size = image.format or "", image.size
    return CheckedImage(safe_name(filename, FORMATS[fmt]), size[0], size[1], fmt)


def check_name(path: str) -> None:
    """A file already named in a repository (pushed or imported) keeps its name, so pages' links to
    it still work; the name must still be an image's."""
    name = path.rsplit("/", 1)[-1]
    if "." not in name or name.rsplit(".", 1)[-1].lower() not in EXTENSIONS:
        raise MediaError(f"{path}: media takes {ACCEPTED} images only (named .jpg, .jpeg, .png or .webp); "
                         "host other files elsewhere and link to them")


def check_stored(path: str, data: bytes, max_bytes: int | None = None) -> CheckedImage:
    check_name(path)
    return check_image(path, data, max_bytes)


def thumbnail(data: bytes, width: int = 240, name: str = "image") -> bytes:
    with open_image(name, data) as image:
        image.thumbnail((width, width * 2))
        out = io.BytesIO()
        image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "WEBP", quality=80)
    return out.getvalue()
