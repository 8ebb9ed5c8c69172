"""An order of gift cards only has no postal address (they are sent by email): every order email
renders without one, says nothing of a delivery address, and keeps the rest of the order."""

from __future__ import annotations

from pathlib import Path

import pytest

from commerce_api.admin.notifications import SAMPLE_ORDER
from commerce_api.notify.emails import Emails

THEMES = Path(__file__).resolve().parents[2] / "themes"
ORDER = {**SAMPLE_ORDER, "shipping_address": None, "billing_address": None, "shipping": 0, "total": 2400,
         "tracking_number": None, "carrier": None, "carrier_name": None, "tracking_url": None,
         "lines": [{"sku": "GIFT-25", "name": "Gift card", "title": "£25", "quantity": 1, "unit_price": 2400,
                    "line_total": 2400, "discount": 0}]}


@pytest.mark.parametrize("name", ["order_confirmation", "order_paid", "order_cancelled", "staff_new_order"])
def test_order_emails_render_without_an_address(name):
    rendered = Emails(THEMES, "base").render(name, {"site": {"name": "Rye & Crumb"}, "order": ORDER, "paid": True,
                                                    "payment_instructions": "", "admin_url": "https://a.test/",
                                                    "gift_cards": [], "event": "order.paid"})
    assert "Gift card" in rendered.text and "Delivery to" not in rendered.text
    assert "Delivery to" not in (rendered.html or "")
