"""site.yaml's tax block (origin, OSS, own rates, the legacy keys) and products' tax_category."""

from __future__ import annotations

from decimal import Decimal

import pytest

from content.errors import ContentErrors
from content.parse import parse_site
from content.source import DirSource
from content.tax import snapshot


def test_the_full_tax_block_parses(scratch_site):
    site = scratch_site({"site.yaml": """
        name: S
        tax:
          label: MwSt
          prices_include_tax: false
          origin: DE
          oss: true
          shipping: false
          rates:
            GB: {standard: 20, reduced: 5}
            US-NY: {standard: 8.875}
            FR: {reduced: 5.5}
        """})
    tax = parse_site(DirSource(site)).site.tax
    assert (tax.label, tax.inclusive, tax.origin, tax.oss, tax.shipping) == ("MwSt", False, "DE", True, False)
    assert tax.rates["US-NY"] == {"standard": Decimal("8.875")}
    assert snapshot(tax) == {"label": "MwSt", "inclusive": False, "origin": "DE", "oss": True, "shipping": False,
                             "rate": "0", "rates": {"FR": {"reduced": "5.5"}, "GB": {"standard": "20", "reduced": "5"},
                                                    "US-NY": {"standard": "8.875"}}}


def test_the_legacy_block_keeps_working(scratch_site):
    site = scratch_site({"site.yaml": "name: S\ntax:\n  rate: 7.7\n  inclusive: false\n  label: GST\n"})
    tax = parse_site(DirSource(site)).site.tax
    assert (tax.rate, tax.inclusive, tax.origin, tax.oss, tax.shipping, tax.rates) == \
        (Decimal("7.7"), False, None, False, True, {})
    assert snapshot(tax)["rate"] == "7.7" and snapshot(None)["rates"] == {}


BROKEN = [
    ("origin not a code", "tax:\n  origin: Germany\n", "site.yaml:3: origin: 'Germany' is not a two-letter country code"),
    ("origin UK", "tax:\n  origin: UK\n", "site.yaml:3: origin: 'UK' is not an ISO country code; write GB"),
    ("oss outside the EU", "tax:\n  origin: GB\n  oss: true\n", "site.yaml:4: oss: the one-stop shop is for shops selling "
                                                               "from an EU country; set origin to one (such as DE), not GB"),
    ("oss without origin", "tax:\n  oss: true\n", "site.yaml:3: oss: the one-stop shop is for shops selling"),
    ("rate over 100", "tax:\n  rate: 120\n", "site.yaml:3: rate: must be a percentage between 0 and 100"),
    ("own rate over 100", "tax:\n  rates:\n    GB: {standard: 200}\n", "site.yaml:4: standard: must be a percentage"),
    ("negative rate", "tax:\n  rates:\n    GB:\n      reduced: -5\n", "site.yaml:5: reduced: must be a number of at least 0"),
    ("bad rates key", "tax:\n  rates:\n    Britain: {standard: 20}\n", "site.yaml:4: rates: 'Britain' is not a country code"),
    ("unknown category", "tax:\n  rates:\n    GB: {luxury: 25}\n", "site.yaml:4: luxury: unknown field"),
    ("region without standard", "tax:\n  rates:\n    US-NY: {reduced: 4}\n", "site.yaml:4: rates: US-NY: needs a standard rate"),
    ("unknown key", "tax:\n  vat: 20\n", "site.yaml:3: vat: unknown field"),
    ("both names of inclusive", "tax:\n  inclusive: true\n  prices_include_tax: true\n",
     "site.yaml:3: inclusive: is the old name of prices_include_tax"),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_a_broken_tax_block_names_line_and_field(scratch_site, text, expected):
    with pytest.raises(ContentErrors) as info:
        parse_site(DirSource(scratch_site({"site.yaml": "name: S\n" + text})))
    messages = [str(e) for e in info.value.errors]
    assert any(m.startswith(expected) for m in messages), messages


def test_tax_category_comes_from_the_product_the_variant_or_the_gift_card(scratch_site):
    content = parse_site(DirSource(scratch_site({
        "products/bread.md": "---\nname: Bread\nsku: B\nprice: '3'\ntax_category: reduced\n---\n",
        "products/mug.md": ("---\nname: Mug\nprice: '9'\ntax_category: reduced\noptions:\n  - {name: Size, values: [S, L]}\n"
                            "variants:\n  - {sku: M-S, options: {Size: S}}\n"
                            "  - {sku: M-L, options: {Size: L}, tax_category: standard}\n---\n"),
        "products/card.md": "---\nname: Card\nsku: GC\nprice: '25'\ngift_card: true\ntax_category: standard\n---\n",
        "products/plain.md": "---\nname: Plain\nsku: P\nprice: '1'\n---\n",
    })))
    categories = {v.sku: v.tax_category for p in content.products for v in p.variants}
    assert categories == {"B": "reduced", "M-S": "reduced", "M-L": "standard", "GC": "zero", "P": "standard"}
    assert content.product("card").tax_category == "zero"


def test_an_unknown_tax_category_names_its_line(scratch_site):
    with pytest.raises(ContentErrors) as info:
        parse_site(DirSource(scratch_site({
            "products/bread.md": "---\nname: Bread\nsku: B\nprice: '3'\ntax_category: food\n---\n"})))
    assert [str(e) for e in info.value.errors] == [
        "products/bread.md:5: tax_category: 'food' is not one of: standard, reduced, zero"]
