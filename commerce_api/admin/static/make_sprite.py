"""Rebuild icons.svg from the lucide-static npm package (ISC), keeping only the icons the admin uses.

    npm pack lucide-static@1.62.0 && tar xzf lucide-static-1.62.0.tgz
    python commerce_api/admin/static/make_sprite.py package/icons

Each icon becomes a <symbol id="NAME"> that ``icon(NAME)`` in ui.html draws with <use>."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ICONS = ["layout-dashboard", "file-text", "image", "inbox", "package", "shopping-cart", "percent", "gift",
         "chart-column", "rocket", "bell", "users", "webhook", "settings", "user", "building-2", "menu", "plus",
         "upload", "circle-alert", "check", "triangle-alert", "truck", "credit-card", "git-commit-horizontal",
         "clock", "log-out", "search", "download", "x", "boxes"]


def main(folder: Path, out: Path) -> None:
    symbols = []
    for name in ICONS:
        svg = (folder / f"{name}.svg").read_text()
        body = re.search(r"<svg[^>]*>(.*)</svg>", svg, re.S).group(1)
        body = re.sub(r"\s*\n\s*", "", body).replace(" />", "/>")
        symbols.append(f'<symbol id="{name}" viewBox="0 0 24 24">{body}</symbol>')
    out.write_text('<svg xmlns="http://www.w3.org/2000/svg"><!-- Lucide icons (lucide-static 1.62.0), ISC licence: '
                   'see ICONS.md --><defs><style>symbol{fill:none;stroke:currentColor;stroke-width:2;'
                   'stroke-linecap:round;stroke-linejoin:round}</style></defs>' + "".join(symbols) + "</svg>\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).with_name("icons.svg"))
