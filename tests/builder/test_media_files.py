"""Media in a site folder is held to the upload's rules whatever brought it there (push, import):
JPEG, PNG and WebP within the pixel limit, typed by what it decodes as; and the build lists the
only scripts pages may run."""

from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from builder.errors import BuildErrors
from tests.builder.test_safety import site_with
from tests.images import png_bomb


def png(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 60, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("path,data,expected", [
    ("media/steal.js", b"fetch('/admin/users')", "media/steal.js: media takes JPEG, PNG and WebP images only"),
    ("media/logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "media/logo.svg: media takes JPEG, PNG and WebP"),
    ("media/offer.html", b"<script>alert(1)</script>", "media/offer.html: media takes JPEG, PNG and WebP"),
    ("media/photo.png", b"fetch('/admin/users')", "media/photo.png: is not an image this site can show"),
    ("media/photo.jpg", b"not really a jpeg", "media/photo.jpg: is not an image this site can show"),
])
def test_media_that_is_not_an_image_fails_the_build_naming_the_file(tmp_path, build_site, path, data, expected):
    with pytest.raises(BuildErrors) as info:
        build_site(site_with(tmp_path, {path: data}), shop=False)
    assert [str(e) for e in info.value.errors][0].startswith(expected)
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_image_over_the_pixel_limit_fails_the_build(tmp_path, build_site):
    site = site_with(tmp_path, {"media/bomb.png": png_bomb(13000, 13000)})
    with pytest.raises(BuildErrors, match=r"media/bomb.png: is 13000×13000 pixels; the limit is 40 megapixels"):
        build_site(site, shop=False)


def test_media_types_come_from_the_decoded_image(tmp_path, build_site):
    site = site_with(tmp_path, {"media/photo.jpg": png(), "pages/about.md": "---\ntitle: About\n---\n![A](media/photo.jpg)\n"})
    build_site(site, shop=False)
    manifest = json.loads((tmp_path / "out" / "_tessera" / "manifest.json").read_text())
    assert manifest["media/photo.jpg"][2] == "image/png"  # a PNG, whatever its name says
    media = {path: kind for path, (_, _, kind) in manifest.items() if path.startswith("media/")}
    assert set(media.values()) <= {"image/png", "image/jpeg", "image/webp"}
    assert any(kind == "image/webp" for kind in media.values())


def test_the_build_lists_its_scripts(build_site, tmp_path):
    shop_site = site_with(tmp_path, {"products/rye.md": '---\nname: Rye\nsku: RYE-1\nprice: "7.00"\n---\nA loaf.\n'})
    build_site(shop_site)
    out = tmp_path / "out"
    listed = json.loads((out / "_tessera" / "build.json").read_text())["scripts"]
    (search,) = [s for s in listed if re.fullmatch(r"/assets/search\.[0-9a-f]{10}\.js", s)]  # the search page's
    assert search not in (out / "index.html").read_text()
    scripts = [s for s in listed if s != search]
    assert len(scripts) == 2 and re.fullmatch(r"/assets/cart\.[0-9a-f]{10}\.js", scripts[0])
    assert re.fullmatch(r"/assets/checkout\.[0-9a-f]{10}\.js", scripts[1])  # the checkout and order pages'
    assert all((out / s.lstrip("/")).exists() for s in scripts)
    assert f'<script defer src="{scripts[0]}"></script>' in (out / "index.html").read_text()
    assert scripts[1] not in (out / "index.html").read_text()
    assert f'<script defer src="{scripts[1]}"></script>' in (out / "checkout" / "index.html").read_text()
    build_site(shop_site, shop=False)
    assert json.loads((out / "_tessera" / "build.json").read_text())["scripts"] == [search]  # posts are searched too
