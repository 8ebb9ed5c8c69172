"""Whether a site's chosen colours can be read: WCAG 2.2's contrast ratio between the colours the
themes put on each other, checked when the colours are saved (the admin's settings, a git push that
changes them).

The pairs are those the themes use (``themes/base/assets/base.css``): body text and muted text on
the background, links (the primary colour) on the background, and white button text on the primary
colour. A colour left unset is the base theme's. Names such as ``rebeccapurple`` are not checked
(the ratio needs the colour's value); hex colours with transparency neither.
"""

from __future__ import annotations

import re

DEFAULTS = {"primary": "#1f3a5f", "accent": "#c2553d", "background": "#ffffff", "text": "#1b1b1b",
            "muted": "#5f5f5f", "surface": "#f4f2ee"}
MINIMUM = 4.5  # WCAG 2.2 AA, normal text (1.4.3)
# (foreground, background, what people read there)
PAIRS = (("text", "background", "text needs"), ("muted", "background", "muted text needs"),
         ("primary", "background", "links need"), ("#ffffff", "primary", "button labels need"))
_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def luminance(colour: str) -> float | None:
    """Relative luminance of ``#rgb`` or ``#rrggbb``; None for anything else."""
    if not _HEX.match(colour):
        return None
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = []
    for i in (0, 2, 4):
        c = int(digits[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: str, b: str) -> float | None:
    la, lb = luminance(a), luminance(b)
    if la is None or lb is None:
        return None
    light, dark = max(la, lb), min(la, lb)
    return (light + 0.05) / (dark + 0.05)


def problems(colours: dict) -> list[str]:
    """One sentence per pair below ``MINIMUM``, with its ratio: "text #777777 on background #ffffff has a
    contrast of 4.48:1; text needs at least 4.5:1 (WCAG AA): choose a darker or lighter colour"."""
    chosen = {k: v for k, v in (colours or {}).items() if isinstance(v, str)}
    value = {**DEFAULTS, **chosen}
    found = []
    for fore, back, what in PAIRS:
        if fore not in chosen and back not in chosen:
            continue  # the theme's own pair
        fg = fore if fore.startswith("#") else value[fore]
        bg = value[back]
        measured = ratio(fg, bg)
        if measured is not None and measured < MINIMUM:
            named = "white" if fore == "#ffffff" else f"{fore} {fg}"
            found.append(f"{named} on {back} {bg} has a contrast of {_shown(measured)}:1; {what} at least "
                         f"{MINIMUM}:1 (WCAG AA) to be read easily: choose a darker or lighter colour")
    return found


def _shown(measured: float) -> str:
    # Rounded down, so a ratio just under the minimum never shows as the minimum itself.
    return f"{int(measured * 100) / 100:.2f}"
