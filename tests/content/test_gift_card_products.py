"""Gift-card products in content: the flag, its expiry, stock off by default, errors with file and
line, and the flag carried through the catalog snapshot into the API's tables."""

from __future__ import annotations

import json

import pytest

from builder.plan import catalog_snapshot
from content.errors import ContentErrors
from content.migrations import connect
from content.parse import parse_site
from content.schema import TENANT
from content.source import DirSource
from publish.catalog import import_snapshot
from tests.conftest import SITES

GIFT = """---
name: Gift card
price: "10.00"
gift_card: {gift}
variants:
  - {{sku: G-10}}
  - {{sku: G-25, price: "25.00"}}
---
"""


def test_a_gift_card_product_sells_amounts_without_stock(scratch_site):
    site = scratch_site({"products/gift.md": GIFT.format(gift="{valid_months: 12}")})
    product = parse_site(DirSource(site)).product("gift")
    assert product.gift_card and product.gift_card_months == 12
    assert [(v.sku, v.price.amount, v.track_stock) for v in product.variants] == [("G-10", 1000, False),
                                                                                   ("G-25", 2500, False)]
    plain = parse_site(DirSource(scratch_site({"products/gift.md": GIFT.format(gift="true")}))).product("gift")
    assert plain.gift_card and plain.gift_card_months is None


@pytest.mark.parametrize("value, message", [
    ('"yes"', "products/gift.md:4: gift_card: must be true, false or a mapping such as {valid_months: 24}"),
    ("{valid_months: 0}", "products/gift.md:4: valid_months: must be a whole number of at least 1"),
    ("{valid_months: 500}", "products/gift.md:4: valid_months: must be at most 120 (ten years)"),
    ("{months: 3}", "products/gift.md:4: months: unknown field (expected one of: valid_months)"),
])
def test_bad_gift_card_fields_name_file_line_and_field(scratch_site, value, message):
    with pytest.raises(ContentErrors) as raised:
        parse_site(DirSource(scratch_site({"products/gift.md": GIFT.format(gift=value)})))
    assert message in [str(e) for e in raised.value.errors]


def test_the_snapshot_carries_the_flag_to_the_api(tmp_path):
    content = parse_site(DirSource(SITES / "bakery"))
    snapshot, _ = catalog_snapshot(content, list(content.products))
    cards = [p for p in snapshot["products"] if "gift_card" in p]
    assert [p["slug"] for p in cards] == ["gift-card"] and cards[0]["gift_card"] == {"valid_months": 24}
    assert all("gift_card" not in p for p in snapshot["products"] if p["slug"] != "gift-card")
    conn = connect(tmp_path / "tenant.db", TENANT)
    import_snapshot(conn, snapshot)
    skus = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'gift_cards'").fetchone()[0])
    assert skus == {sku: {"valid_months": 24} for sku in ("GIFT-10", "GIFT-25", "GIFT-50")}
    conn.close()
