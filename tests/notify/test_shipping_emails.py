"""Order emails say how the order comes: the shipping method and its estimate with the postal address,
or, for collection, the place, its address and the slot instead of a postal address. A business buyer's
VAT number and a zero-rated sale's note are in them too; orders from before shipping options still render."""

from __future__ import annotations

from pathlib import Path

import pytest

from commerce_api.admin.notifications import SAMPLE_ORDER
from commerce_api.notify.emails import Emails

THEMES = Path(__file__).resolve().parents[2] / "themes"
ORDER_EMAILS = ["order_confirmation", "order_paid", "order_shipped", "order_cancelled", "staff_new_order"]
DELIVERY = {**SAMPLE_ORDER, "currency": "GBP", "shipping": 350, "total": 2750,
            "shipping_option": {"id": "local/van", "kind": "local", "name": "Bakery van",
                                "estimate": "Next morning, 7–10am"},
            "pickup": None, "vat_number": None, "tax_lines": [], "tax_note": ""}
PICKUP = {**SAMPLE_ORDER, "currency": "GBP", "shipping": 0, "total": 2400, "shipping_method": "pickup",
          "shipping_address": {"name": "Cora Collects"},
          "shipping_option": {"id": "pickup/leith-walk", "kind": "pickup", "name": "Rye & Crumb, Leith Walk",
                              "estimate": None},
          "pickup": {"location": "pickup/leith-walk", "name": "Rye & Crumb, Leith Walk",
                     "address": "112 Leith Walk, Edinburgh EH6 5DT", "start": "2026-12-01T09:00:00+00:00",
                     "end": "2026-12-01T10:00:00+00:00", "label": "Tue 1 Dec, 09:00–10:00"},
          "vat_number": None, "tax_lines": [], "tax_note": ""}


def render(name: str, order: dict):
    return Emails(THEMES, "base").render(name, {"site": {"name": "Rye & Crumb"}, "order": order, "paid": False,
                                                "payment_instructions": "", "admin_url": "https://a.test/",
                                                "gift_cards": [], "event": "order.placed"})


@pytest.mark.parametrize("name", ORDER_EMAILS)
def test_a_delivery_names_its_method_and_estimate_beside_the_address(name):
    rendered = render(name, DELIVERY)
    for body in (rendered.text, rendered.html):
        assert "Bakery van" in body and "Next morning, 7–10am" in body
        assert "1 Sample Street" in body and "SA1 1AA" in body


@pytest.mark.parametrize("name", ORDER_EMAILS)
def test_a_collection_names_the_place_its_address_and_the_slot_and_no_postal_address(name):
    rendered = render(name, PICKUP)
    for body in (rendered.text, rendered.html):
        assert "Rye & Crumb, Leith Walk" in body.replace("&amp;", "&")
        assert "112 Leith Walk, Edinburgh EH6 5DT" in body and "Tue 1 Dec, 09:00–10:00" in body
        assert "Cora Collects" in body and "Delivery to" not in body


def test_a_place_without_hours_asks_for_no_slot():
    shop = {**PICKUP, "shipping_option": {"id": "pickup/shop", "kind": "pickup", "name": "Collect from the shop",
                                          "estimate": None},
            "pickup": {"location": "pickup/shop", "name": "Collect from the shop", "address": "", "start": None,
                       "end": None, "label": None}}
    rendered = render("order_confirmation", shop)
    assert "Collect from the shop" in rendered.text and "None" not in rendered.text
    assert "None" not in rendered.html


def test_a_business_buyer_sees_their_vat_number_and_the_reverse_charge():
    business = {**DELIVERY, "vat_number": "DE123456789", "tax_note": "reverse charge", "tax": 0,
                "tax_lines": [{"jurisdiction": "DE", "category": "standard", "rate": "0", "base": 2750, "amount": 0,
                               "note": "reverse charge"}]}
    rendered = render("order_confirmation", business)
    for body in (rendered.text, rendered.html):
        assert "DE123456789" in body and "reverse charge" in body


@pytest.mark.parametrize("name", ORDER_EMAILS)
def test_an_order_from_before_shipping_options_still_reads_as_before(name):
    rendered = render(name, SAMPLE_ORDER)  # no shipping_option, pickup, vat_number or tax_note at all
    assert "Delivery to" in rendered.text and "1 Sample Street" in rendered.text
    assert "None" not in rendered.text
