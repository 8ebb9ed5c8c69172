"""Whole numbers in paths and query strings, bounded to what SQLite stores (64-bit signed).

A number past that range would overflow inside a query (a 500); bounded here, it is a 400 that
names the parameter, and the bounds appear in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.params import PathParameter, QueryParameter

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

Id = Annotated[int, PathParameter(ge=1, le=INT64_MAX)]
"""An order number, user id or token id in a path."""

Int = Annotated[int, QueryParameter(ge=INT64_MIN, le=INT64_MAX)]
"""A number in the query string (page, limit, offset); routes clamp it to a sensible range."""

OptionalInt = Annotated[int | None, QueryParameter(ge=INT64_MIN, le=INT64_MAX)]
"""An optional number in the query string (a price filter)."""

Count = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
"""A count in a JSON body (stock on hand)."""
