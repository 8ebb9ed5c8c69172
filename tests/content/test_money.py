import pytest

from content.money import Money, parse_price


@pytest.mark.parametrize("text,currency,amount", [
    ("12.50", "EUR", 1250), ("12.5", "EUR", 1250), ("12", "EUR", 1200), ("0.01", "GBP", 1),
    (7, "EUR", 700), ("1500", "JPY", 1500), ("1.234", "KWD", 1234), (" 3.00 ", "USD", 300),
])
def test_parse_valid(text, currency, amount):
    assert parse_price(text, currency) == Money(amount, currency)


@pytest.mark.parametrize("text,currency", [
    ("12,50", "EUR"), ("1.005", "EUR"), ("-1.00", "EUR"), ("1e3", "EUR"), ("", "EUR"),
    ("12.5", "JPY"), (True, "EUR"), (None, "EUR"), ("€12", "EUR"), ("012", "EUR"), (1.5, "EUR"),
])
def test_parse_refuses(text, currency):
    with pytest.raises(ValueError):
        parse_price(text, currency)


def test_arithmetic_and_currency_guard():
    assert Money(250, "EUR") * 3 + Money(50, "EUR") == Money(800, "EUR")
    with pytest.raises(ValueError):
        Money(1, "EUR") + Money(1, "GBP")


@pytest.mark.parametrize("money,text", [
    (Money(1250, "EUR"), "12.50"), (Money(5, "EUR"), "0.05"), (Money(1500, "JPY"), "1500"),
    (Money(-120, "EUR"), "-1.20"),
])
def test_decimal_text(money, text):
    assert money.decimal() == text
