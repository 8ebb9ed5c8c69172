"""Draw the starter sites' photos: deterministic still lifes made with Pillow, no downloads.

Run from the repository root: ``python sites/make_images.py``. The output is committed; the
platform never runs this at run time.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent
W, H = 1200, 900


def backdrop(rng: random.Random, top: tuple, bottom: tuple) -> Image.Image:
    img = Image.new("RGB", (W, H))
    draw = ImageDraw.Draw(img)
    for y in range(H):
        t = y / H
        draw.line([(0, y), (W, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    # a table edge
    draw.rectangle([0, int(H * 0.68), W, H], fill=tuple(max(0, c - 40) for c in bottom))
    return img


def loaf(img: Image.Image, rng: random.Random, crust: tuple, shape: str, scale: float = 1.0) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    cx, cy = W // 2 + rng.randint(-60, 60), int(H * 0.6)
    if shape == "round":
        rx, ry = int(300 * scale), int(220 * scale)
    elif shape == "long":
        rx, ry = int(470 * scale), int(150 * scale)
    else:
        rx, ry = int(260 * scale), int(260 * scale)
    draw.ellipse([cx - rx + 20, cy - ry + 60, cx + rx + 40, cy + ry + 70], fill=(0, 0, 0, 70))  # shadow
    for i in range(14, 0, -1):
        shade = tuple(min(255, int(c * (0.75 + i * 0.025))) for c in crust)
        k = i / 14
        draw.ellipse([cx - rx * k, cy - ry * k - (1 - k) * 40, cx + rx * k, cy + ry * k - (1 - k) * 40],
                     fill=shade + (255,))
    for n in range(rng.randint(3, 5)):  # scoring
        x = cx - rx * 0.6 + n * rx * 0.35
        draw.arc([x - 80, cy - ry * 0.7, x + 80, cy + ry * 0.3], 200, 320,
                 fill=tuple(min(255, c + 60) for c in crust) + (255,), width=9)
    for _ in range(500):  # flour dust and seeds
        a, r = rng.random() * math.tau, rng.random()
        x, y = cx + math.cos(a) * rx * r * 0.9, cy + math.sin(a) * ry * r * 0.9 - 30
        draw.point((x, y), fill=(250, 245, 235, rng.randint(60, 200)))


def pastry(img: Image.Image, rng: random.Random, colour: tuple, count: int) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    for i in range(count):
        cx = int(W * (i + 1) / (count + 1)) + rng.randint(-30, 30)
        cy = int(H * 0.62) + rng.randint(-20, 20)
        r = rng.randint(110, 150) if count < 4 else rng.randint(80, 110)
        draw.ellipse([cx - r + 15, cy - r * 0.6 + 40, cx + r + 25, cy + r * 0.6 + 45], fill=(0, 0, 0, 60))
        for j in range(8, 0, -1):
            k = j / 8
            shade = tuple(min(255, int(c * (0.8 + j * 0.03))) for c in colour)
            draw.ellipse([cx - r * k, cy - r * 0.6 * k, cx + r * k, cy + r * 0.6 * k], fill=shade + (255,))
        for j in range(4):
            draw.arc([cx - r + j * 18, cy - r * 0.5, cx + r - j * 18, cy + r * 0.5], 190, 350,
                     fill=(255, 235, 200, 150), width=5)


def abstract(rng: random.Random, palette: list[tuple]) -> Image.Image:
    img = backdrop(rng, palette[0], palette[1])
    draw = ImageDraw.Draw(img, "RGBA")
    for _ in range(7):
        colour = rng.choice(palette[2:]) + (rng.randint(90, 200),)
        x, y = rng.randint(0, W), rng.randint(0, H)
        r = rng.randint(80, 320)
        if rng.random() < 0.5:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            draw.rectangle([x - r, y - r // 2, x + r, y + r // 2], fill=colour)
    return img.filter(ImageFilter.GaussianBlur(2))


BAKERY = {
    "country-sourdough.jpg": ("loaf", (150, 95, 50), "round"),
    "dark-rye.jpg": ("loaf", (90, 55, 35), "square"),
    "seeded-spelt.jpg": ("loaf", (165, 120, 70), "long"),
    "baguette.jpg": ("loaf", (190, 135, 70), "long"),
    "brioche.jpg": ("loaf", (205, 140, 50), "round"),
    "croissants.jpg": ("pastry", (210, 150, 70), 3),
    "cinnamon-buns.jpg": ("pastry", (170, 105, 55), 4),
    "almond-financiers.jpg": ("pastry", (200, 160, 95), 5),
    "oat-cookies.jpg": ("pastry", (185, 140, 90), 5),
    "starter-kit.jpg": ("loaf", (225, 215, 190), "square"),
    "bakery-front.jpg": ("loaf", (160, 100, 60), "long"),
    "morning-bake.jpg": ("pastry", (190, 130, 60), 3),
}

STUDIO = {
    "harbour-at-dawn.jpg": [(40, 60, 90), (230, 160, 120), (250, 210, 150), (70, 90, 130)],
    "concrete-and-light.jpg": [(200, 200, 195), (120, 120, 118), (60, 60, 58), (240, 235, 220)],
    "market-hall.jpg": [(90, 40, 30), (210, 150, 90), (240, 200, 120), (120, 70, 40)],
    "forest-study.jpg": [(20, 50, 30), (110, 150, 90), (200, 220, 150), (40, 80, 50)],
    "portrait-series.jpg": [(60, 50, 60), (180, 150, 140), (230, 200, 180), (100, 80, 90)],
    "studio-desk.jpg": [(240, 238, 230), (180, 170, 150), (40, 40, 40), (200, 90, 60)],
}


def main() -> None:
    for name, (kind, colour, extra) in BAKERY.items():
        rng = random.Random(name)
        img = backdrop(rng, (245, 236, 220), (196, 170, 140))
        if kind == "loaf":
            loaf(img, rng, colour, extra)
        else:
            pastry(img, rng, colour, extra)
        img.filter(ImageFilter.SMOOTH).save(HERE / "bakery" / "media" / name, quality=80, optimize=True,
                                            progressive=True)
    for name, palette in STUDIO.items():
        abstract(random.Random(name), palette).save(HERE / "studio" / "media" / name, quality=80,
                                                    optimize=True, progressive=True)


if __name__ == "__main__":
    main()
