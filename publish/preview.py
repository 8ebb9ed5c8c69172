"""The admin's live preview: the API reaches the builder's renderer only through publish."""

from builder.preview import PreviewError, preview_html

__all__ = ["PreviewError", "preview_html"]
