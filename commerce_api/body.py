"""Reading a request's JSON body: every way it can be unreadable is a 400 naming ``body``.

Litestar decodes JSON with msgspec, which raises plain Python errors for bytes that are not UTF-8
and for nesting deeper than its recursion limit; left alone they would be 500s with a traceback.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

from .errors import BadRequest


class ApiRequest(Request):
    """The app's request class: the same as Litestar's, with a JSON body that fails as a 400."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8",
                             field="body", code="invalid_body") from None
        except RecursionError:
            raise BadRequest("the JSON body is nested too deeply; no request needs more than a few levels",
                             field="body", code="invalid_body") from None
        except SerializationException as exc:
            raise BadRequest(f"the body is not valid JSON: {exc.detail or exc}", field="body",
                             code="invalid_body") from None
