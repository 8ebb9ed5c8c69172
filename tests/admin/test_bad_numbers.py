"""Numbers in admin forms and paths: "²", 10**20 and the like are a 400 or a message naming the
field, never a 500 (``str.isdigit`` accepts "²", and a number past 64 bits overflows in SQLite)."""

from __future__ import annotations

import pytest

from commerce_api.admin.common import number
from commerce_api.errors import BadRequest

BIG = "1" + "0" * 20


@pytest.mark.parametrize("value", ["²", "١٢", "-1", "1.5", "", " ", "abc", BIG, str(2**63)])
def test_a_form_number_out_of_shape_or_range_is_a_400_naming_the_field(value):
    with pytest.raises(BadRequest) as info:
        number({"deploy": value}, "deploy")
    assert info.value.field == "deploy"


@pytest.mark.parametrize(("value", "expected"), [("0", 0), (" 42 ", 42), (str(2**63 - 1), 2**63 - 1), (["1", "7"], 7)])
def test_a_form_number_in_range_is_read(value, expected):
    assert number({"n": value}, "n") == expected


@pytest.mark.parametrize(("path", "data"), [
    ("/deploys/rollback", {"deploy": "²"}),
    ("/deploys/rollback", {"deploy": BIG}),
    ("/tokens/revoke", {"id": "²"}),
    (f"/orders/{BIG}/paid", {}),
    (f"/orders/{BIG}/status", {"status": "shipped"}),
])
def test_admin_forms_refuse_bad_numbers_with_a_page(admin, path, data):
    response = admin().post(path, data)
    assert response.status_code == 400, response.text[:500]
    assert "text/html" in response.headers["content-type"]


def test_an_order_page_past_the_largest_number_is_a_400(admin):
    response = admin().get(f"/orders/{BIG}")
    assert response.status_code == 400


@pytest.mark.parametrize("level", ["²", BIG])
def test_the_stock_form_refuses_a_number_it_cannot_store(admin, level):
    owner = admin()
    response = owner.post("/stock", {"path": "products/sourdough.md", "on_hand.BG-1": level})
    assert response.status_code == 303
    assert "error=Stock%20for%20BG-1" in response.headers["location"]
