"""CSV cells that a spreadsheet opens as text, never as a formula."""

from __future__ import annotations

from typing import Any


def cell(value: Any) -> Any:
    """A text cell that starts with = + - or @ (or a tab or carriage return before one) would run as a
    formula in a spreadsheet: a leading apostrophe makes it text. Numbers (ints, decimal amounts) are
    written as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
