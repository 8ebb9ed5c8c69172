"""Typed reads of front-matter fields that collect errors instead of stopping at the first.

    f = Fields(data, "products/rye.md", errors)
    name = f.text("name", required=True)
    price = f.price("price", "EUR")

Each failed read appends a ``ContentError`` naming the file, the key's line and the field, and
returns a harmless default so that parsing can go on and report every problem at once.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from .errors import ContentError
from .money import Money, parse_price
from .yamltext import Mapping

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# An email address as the platform accepts one anywhere (shoppers, forms, accounts, site settings):
# plain letters, digits and . _ + ' - before the @, a domain of dot-separated labels. Stricter than
# RFC 5322 on purpose: no quoting, no %, ?, commas or spaces, so an address can never become two
# recipients, a header or a mailto: with extra fields.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"^[A-Za-z0-9_+'-](?:[A-Za-z0-9._+'-]{{0,62}}[A-Za-z0-9_+'-])?@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")


def is_email(text: object) -> bool:
    return isinstance(text, str) and len(text) <= 254 and ".." not in text and bool(EMAIL.match(text))


class Fields:
    def __init__(self, data: Mapping, path: str, errors: list[ContentError],
                 known: set[str] | None = None) -> None:
        self.data, self.path, self.errors = data, path, errors
        if known is not None:
            for key in data:
                if key not in known:
                    self.error(str(key), f"unknown field (expected one of: {', '.join(sorted(known))})")

    def line(self, key: str) -> int:
        return self.data.line_of(key) if isinstance(self.data, Mapping) else 1

    def error(self, key: str, message: str, line: int | None = None) -> None:
        self.errors.append(ContentError(self.path, line or self.line(key), message, key))

    def _get(self, key: str, required: bool) -> object:
        value = self.data.get(key)
        if value is None and required:
            self.errors.append(ContentError(self.path, self.data.line, "is required", key))
        return value

    def text(self, key: str, default: str = "", *, required: bool = False, max_len: int = 2000) -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(key, "must be text")
            return default
        if len(value) > max_len:
            self.error(key, f"is longer than {max_len} characters")
        return value.strip()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in choices:
            self.error(key, f"{value!r} is not one of: {', '.join(choices)}")
            return default
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(key, "must be true or false")
            return default
        return value

    def integer(self, key: str, minimum: int = 0) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(key, f"must be a whole number of at least {minimum}")
            return None
        return value

    def number(self, key: str) -> Decimal | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value < 0:
            self.error(key, "must be a number of at least 0")
            return None
        return Decimal(value)

    def slug(self, key: str, default: str) -> str:
        value = self.text(key, default)
        if not SLUG.match(value):
            self.error(key, f"{value!r} is not a valid slug (lowercase letters, digits and single hyphens)")
        return value

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            self.error(key, "must be a list of text")
            return ()
        return tuple(str(v).strip() for v in value if str(v).strip())

    def price(self, key: str, currency: str, *, required: bool = False) -> Money | None:
        value = self._get(key, required)
        if value is None:
            return None
        try:
            return parse_price(value, currency)
        except ValueError as exc:
            self.error(key, str(exc))
            return None

    def moment(self, key: str, zone: tzinfo) -> datetime | None:
        """A date or date-time; one without a zone is read in the site's time zone."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                self.error(key, f"{value!r} is not a date (use 2026-05-01 or 2026-05-01T09:30)")
                return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=zone)
        if isinstance(value, date):
            return datetime.combine(value, time(0, 0), tzinfo=zone)
        self.error(key, "must be a date")
        return None

    def mapping(self, key: str) -> Mapping | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.error(key, "must be a mapping of fields (key: value)")
            return None
        return value
