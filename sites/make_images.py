"""Draw the starter sites' pictures: Twemoji illustrations composed onto warm backdrops with Pillow.

Each picture shows what the product or post is about (a croissant for the croissants), in one style
for the whole site, at 4:3 (1200 x 900) so the builder's 480/960 derivatives and the theme's cards
crop nothing. The logo is a square badge. Sources and licences are recorded in ``sites/IMAGES.md``.

Run from the repository root, once, by hand; the output is committed and the platform never runs it:

    npm pack @twemoji/svg@15.0.0 && tar xzf twemoji-svg-15.0.0.tgz   # the SVGs, in ./package
    pip install cairosvg pillow                                       # cairosvg needs libcairo2
    python sites/make_images.py path/to/package
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import cairosvg
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent
W, H = 1200, 900

# Emoji by code point file name (Twemoji names files by their code points).
BREAD, BAGUETTE, CROISSANT, COOKIE, SHEAF = "1f35e", "1f956", "1f950", "1f36a", "1f33e"
JAR, SPOON, BUTTER, BAGEL, CAKE, CHESTNUT = "1fad9", "1f944", "1f9c8", "1f96f", "1f370", "1f330"
GIFT, COFFEE, PRETZEL, CUPCAKE, BASKET, SHOP = "1f381", "2615", "1f968", "1f9c1", "1f9fa", "1f3ea"
SUNRISE, OFFICE, TREE, TEMPLE, CAMERA, CITY, BOAT, ARTIST, HERB = (
    "1f305", "1f3e2", "1f332", "1f3db", "1f4f7", "1f3d9", "26f5", "1f9d1-200d-1f3a8", "1f33f")

# (file, backdrop top, backdrop bottom, [(emoji, size in px, x, y), ...]) with x, y the centre as
# fractions of the picture. Two pictures of one product share its palette (a gallery reads as one).
WARM = ((250, 238, 219), (226, 196, 160))
RYE = ((238, 226, 212), (190, 160, 130))
CREAM = ((252, 243, 226), (236, 212, 170))
SAGE = ((236, 240, 226), (196, 206, 176))
ROSE = ((250, 232, 224), (226, 184, 168))
BAKERY = [
    ("country-sourdough.jpg", *WARM, [(SHEAF, 300, .22, .42), (BREAD, 560, .55, .56)]),
    ("country-sourdough-crumb.jpg", *WARM, [(BREAD, 820, .5, .6)]),
    ("dark-rye.jpg", *RYE, [(SHEAF, 260, .8, .38), (BREAD, 540, .45, .58)]),
    ("dark-rye-sliced.jpg", *RYE, [(BREAD, 420, .32, .58), (BREAD, 360, .7, .62), (BUTTER, 200, .85, .3)]),
    ("seeded-spelt.jpg", *SAGE, [(SHEAF, 340, .25, .45), (BREAD, 520, .6, .58)]),
    ("baguette.jpg", *CREAM, [(BAGUETTE, 640, .5, .55)]),
    ("baguette-pair.jpg", *CREAM, [(BAGUETTE, 520, .38, .5), (BAGUETTE, 520, .62, .62)]),
    ("brioche.jpg", *CREAM, [(BREAD, 520, .45, .58), (BUTTER, 240, .78, .42)]),
    ("croissants.jpg", *WARM, [(CROISSANT, 400, .28, .62), (CROISSANT, 400, .7, .62), (CROISSANT, 360, .5, .36)]),
    ("croissants-close.jpg", *WARM, [(CROISSANT, 760, .5, .56)]),
    ("croissants-breakfast.jpg", *WARM, [(CROISSANT, 440, .34, .6), (COFFEE, 340, .74, .5)]),
    ("cinnamon-buns.jpg", *ROSE, [(BAGEL, 300, .25, .6), (BAGEL, 300, .5, .66), (BAGEL, 300, .75, .6),
                                  (BAGEL, 260, .5, .32)]),
    ("almond-financiers.jpg", *ROSE, [(CAKE, 300, .3, .6), (CAKE, 300, .65, .62), (CHESTNUT, 170, .84, .36),
                                      (CHESTNUT, 150, .15, .3)]),
    ("oat-cookies.jpg", *CREAM, [(COOKIE, 320, .28, .62), (COOKIE, 320, .62, .66), (COOKIE, 300, .46, .34),
                                 (SHEAF, 200, .84, .36)]),
    ("starter-kit.jpg", *SAGE, [(JAR, 520, .42, .56), (SPOON, 260, .76, .6), (SHEAF, 220, .8, .3)]),
    ("bakery-front.jpg", *WARM, [(SHOP, 520, .5, .5), (BREAD, 200, .16, .78), (CROISSANT, 200, .84, .78)]),
    ("morning-bake.jpg", *CREAM, [(BASKET, 460, .4, .6), (CROISSANT, 260, .4, .34), (COFFEE, 280, .78, .58)]),
    ("gift-card.jpg", *ROSE, [(GIFT, 480, .42, .56), (CROISSANT, 220, .8, .64)]),
    ("shop-window.jpg", *WARM, [(BREAD, 300, .18, .62), (CROISSANT, 300, .5, .66), (BAGUETTE, 300, .82, .6),
                                (COOKIE, 200, .34, .3), (CAKE, 200, .66, .3)]),
]

NIGHT = ((36, 52, 82), (232, 160, 120))
STONE = ((222, 222, 216), (150, 150, 146))
MARKET = ((120, 58, 40), (226, 170, 110))
FOREST = ((34, 70, 48), (150, 184, 120))
DUSK = ((86, 70, 92), (214, 182, 170))
PAPER = ((244, 242, 236), (206, 198, 182))
STUDIO = [
    ("harbour-at-dawn.jpg", *NIGHT, [(SUNRISE, 620, .5, .52), (BOAT, 200, .82, .72)]),
    ("concrete-and-light.jpg", *STONE, [(OFFICE, 520, .4, .54), (CITY, 300, .78, .62)]),
    ("market-hall.jpg", *MARKET, [(TEMPLE, 560, .5, .54)]),
    ("forest-study.jpg", *FOREST, [(TREE, 520, .36, .56), (TREE, 400, .7, .62), (HERB, 180, .88, .8)]),
    ("portrait-series.jpg", *DUSK, [(ARTIST, 560, .5, .55)]),
    ("studio-desk.jpg", *PAPER, [(CAMERA, 480, .42, .56), (COFFEE, 240, .8, .62)]),
]


def emoji(folder: Path, code: str, size: int) -> Image.Image:
    png = cairosvg.svg2png(url=str(folder / f"{code}.svg"), output_width=size, output_height=size)
    return Image.open(io.BytesIO(png)).convert("RGBA")


def backdrop(top: tuple, bottom: tuple) -> Image.Image:
    """A wall that warms towards the bottom, a table top, and a soft light from the upper left."""
    img = Image.new("RGB", (W, H))
    draw = ImageDraw.Draw(img)
    for y in range(H):
        t = y / H
        draw.line([(0, y), (W, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    table = int(H * 0.7)
    shade = tuple(max(0, c - 26) for c in bottom)
    draw.rectangle([0, table, W, H], fill=shade)
    draw.line([(0, table), (W, table)], fill=tuple(max(0, c - 44) for c in bottom), width=3)
    light = Image.new("L", (W, H), 0)
    ImageDraw.Draw(light).ellipse([-W * .3, -H * .5, W * .7, H * .6], fill=60)
    img.paste((255, 255, 255), mask=light.filter(ImageFilter.GaussianBlur(160)))
    grain = Image.effect_noise((W, H), 10).convert("L")  # a little texture, so it is not a flat vector
    return Image.blend(img, Image.merge("RGB", (grain,) * 3), 0.04)


def compose(folder: Path, top: tuple, bottom: tuple, items: list) -> Image.Image:
    img = backdrop(top, bottom)
    for code, size, fx, fy in items:
        art = emoji(folder, code, size)
        x, y = int(W * fx - size / 2), int(H * fy - size / 2)
        shadow = art.getchannel("A").point(lambda a: a * 0.35).filter(ImageFilter.GaussianBlur(size // 18))
        img.paste((40, 24, 10), (x + size // 22, y + size // 14), shadow)
        img.paste(art, (x, y), art)
    return img


def logo(folder: Path) -> Image.Image:
    """The bakery's badge: a sheaf of wheat on a round field of the site's primary colour."""
    big = 512  # drawn large and scaled down: Pillow's ellipses have no anti-aliasing of their own
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse([8, 8, big - 8, big - 8], fill=(122, 62, 18, 255))
    draw.ellipse([32, 32, big - 32, big - 32], outline=(251, 247, 241, 255), width=10)
    art = emoji(folder, SHEAF, 300)
    img.paste(art, ((big - 300) // 2, (big - 300) // 2), art)
    return img.resize((128, 128), Image.Resampling.LANCZOS)


def save(img: Image.Image, path: Path) -> None:
    img.convert("RGB").save(path, quality=76, optimize=True, progressive=True)


def main(folder: Path) -> None:
    for name, top, bottom, items in BAKERY:
        save(compose(folder, top, bottom, items), HERE / "bakery" / "media" / name)
    for name, top, bottom, items in STUDIO:
        save(compose(folder, top, bottom, items), HERE / "studio" / "media" / name)
    badge = logo(folder).quantize(64, method=Image.Quantize.FASTOCTREE)  # 64 colours: 3 KB, not 17
    badge.save(HERE / "bakery" / "media" / "logo.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "package"))
