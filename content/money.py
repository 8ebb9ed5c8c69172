"""Money as integer minor units plus an ISO 4217 currency code.

Prices arrive as decimal strings and are parsed strictly: ``"12.50"`` is fine, ``"12,50"``,
``"12.505"`` (for EUR) and ``"1e3"`` are refused. Nothing past parsing ever sees a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

# ISO 4217 minor-unit exponents that differ from 2; every other code uses 2.
_EXPONENTS = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,11})(?:\.([0-9]+))?$")


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def valid_currency(code: str) -> bool:
    return bool(_CURRENCY.match(code))


SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥", "CHF": "CHF ", "AUD": "A$", "CAD": "C$"}


def display(value: Money | None) -> str:
    """As shoppers read a price: £4.95, €12.00, 1200 SEK."""
    if value is None:
        return ""
    symbol = SYMBOLS.get(value.currency)
    return f"{symbol}{value.decimal()}" if symbol else f"{value.decimal()} {value.currency}"


@dataclass(frozen=True, order=True)
class Money:
    amount: int  # minor units
    currency: str

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, quantity: int) -> Money:
        if not isinstance(quantity, int):
            return NotImplemented
        return Money(self.amount * quantity, self.currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {getattr(other, 'currency', other)!r}")

    def decimal(self) -> str:
        """The amount as a decimal string, e.g. ``"12.50"``."""
        exp = exponent(self.currency)
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exp)
        return f"{sign}{whole}.{frac:0{exp}d}" if exp else f"{sign}{whole}"

    def __str__(self) -> str:
        return f"{self.decimal()} {self.currency}"


def parse_price(value: object, currency: str) -> Money:
    """Parse a price from a file. Raises ``ValueError`` with a message fit for an editor."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a price; write it as a decimal such as \"12.50\"")
    text = str(value).strip() if isinstance(value, (str, int, Decimal)) else None
    if text is None:
        raise ValueError(f"{value!r} is not a price; write it as a decimal such as \"12.50\"")
    match = _DECIMAL.match(text)
    if not match:
        raise ValueError(f'"{text}" is not a decimal price (use digits and a dot, e.g. "12.50")')
    exp = exponent(currency)
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > exp:
        raise ValueError(f'"{text}" has more than {exp} decimal places for {currency}')
    return Money(int(whole) * 10**exp + int(frac.ljust(exp, "0") or 0), currency)
