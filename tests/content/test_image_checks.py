"""One image check for every way an image enters: the pixel limit is read from the header, before
anything is decoded, by uploads, pushes, builds, thumbnails and the preview alike."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

import content.media as media
from builder import images as imagelib
from content.media import MediaError, check_image, check_stored, open_image, thumbnail
from tests.images import png_bomb


def encoded(fmt: str, size=(64, 48), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 120, 40) if mode == "RGB" else 1).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt,media_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_accepted_images_report_their_decoded_type(fmt, media_type):
    checked = check_image("Shop Front.bin", encoded(fmt))
    assert (checked.width, checked.height, checked.format, checked.media_type) == (64, 48, fmt, media_type)
    assert checked.name == "shop-front." + media.FORMATS[fmt]


@pytest.mark.parametrize("name,data,expected", [
    ("anim.gif", encoded("GIF", mode="P"), "anim.gif is not an image this site can show (JPEG, PNG and WebP)"),
    ("scan.tiff", encoded("TIFF"), "scan.tiff is not an image this site can show"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "logo.svg: SVG files can carry scripts"),
    ("steal.png", b"fetch('/admin/users')", "steal.png is not an image this site can show"),
])
def test_other_files_are_refused(name, data, expected):
    with pytest.raises(MediaError) as info:
        check_image(name, data)
    assert expected in str(info.value)


@pytest.mark.parametrize("path", ["media/steal.js", "media/page.html", "media/README", "media/report.pdf"])
def test_stored_media_needs_an_image_name(path):
    with pytest.raises(MediaError, match=f"{path}: media takes JPEG, PNG and WebP images only"):
        check_stored(path, encoded("PNG"))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, at 89 megapixels
def test_a_bomb_is_refused_from_its_header():
    bomb = png_bomb(13000, 13000)
    started = time.perf_counter()
    for check in (lambda: open_image("bomb.png", bomb), lambda: check_image("bomb.png", bomb),
                  lambda: thumbnail(bomb, name="bomb.png")):
        with pytest.raises(MediaError, match="bomb.png is 13000×13000 pixels; the limit is 40 megapixels"):
            check()
    # Decoding it once takes seconds and 483 MiB; reading three headers takes milliseconds.
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("way_in", ["upload or push", "thumbnail", "build and preview"])
def test_every_way_in_obeys_the_one_limit(way_in, monkeypatch, tmp_path):
    monkeypatch.setattr(media, "MAX_PIXELS", 64 * 47)
    image = encoded("PNG")  # 64×48: one row over the lowered limit
    with pytest.raises((MediaError, imagelib.ImageError), match="64×48 pixels; the limit is"):
        if way_in == "upload or push":
            check_stored("media/photo.png", image)
        elif way_in == "thumbnail":
            thumbnail(image, name="photo.png")
        else:
            imagelib.process("photo.png", image, tmp_path)
