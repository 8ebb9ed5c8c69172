"""Errors raised by the builder.

    TesseraError (content.errors)
    ├── ContentErrors                  problems in the site's files (fix the files)
    │   └── BuildErrors                also template errors and broken references, each with file and line
    └── ThemeNotFound                  the site names a theme that is not installed (pick one that is)
"""

from __future__ import annotations

from content.errors import ContentError, ContentErrors, TesseraError

__all__ = ["BuildErrors", "ContentError", "ThemeNotFound"]


class BuildErrors(ContentErrors):
    """The build failed; every problem is listed and the previous output is untouched."""

    code = "build_failed"


class ThemeNotFound(TesseraError):
    code = "theme_not_found"
