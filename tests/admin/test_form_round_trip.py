"""What the admin's forms read from a file is what they write back: an unchanged save changes nothing."""

from __future__ import annotations

import pytest

from commerce_api.admin import variants
from commerce_api.admin.common import Rejected
from commerce_api.admin.content import Unreadable, _file, front_matter

PAGE_WITH_DASHES = """\
---
title: About us
excerpt: Fresh bread---every morning
status: draft
---
We bake.

---

A rule above, in the body.
"""


def test_a_value_holding_three_dashes_stays_in_its_field():
    data, body = front_matter(PAGE_WITH_DASHES)
    assert data == {"title": "About us", "excerpt": "Fresh bread---every morning", "status": "draft"}
    assert body == "We bake.\n\n---\n\nA rule above, in the body.\n"


def test_saving_the_form_unchanged_keeps_the_file_and_a_draft_a_draft():
    data, body = front_matter(PAGE_WITH_DASHES)
    form = {"title": data["title"], "excerpt": data["excerpt"], "status": data["status"], "body": body}
    assert _file(form, data, PAGE_WITH_DASHES.encode()).decode() == PAGE_WITH_DASHES


def test_broken_front_matter_names_the_files_line():
    with pytest.raises(Unreadable, match="line 3"):
        front_matter("---\ntitle: A\n- item\n---\nBody\n")
    with pytest.raises(Unreadable, match="no closing"):
        front_matter("---\ntitle: A\n")
    assert front_matter("No front matter --- here.\n") == ({}, "No front matter --- here.\n")


TITLED = {"name": "Loaf tin", "price": "12.00",
          "variants": [{"sku": "TIN-S", "title": "Small"}, {"sku": "TIN-L", "title": "Large", "price": "15.00"}]}


def test_variants_told_apart_by_title_alone_save_as_they_were():
    kept = variants.apply(variants.from_file(TITLED), TITLED)
    assert kept["variants"] == TITLED["variants"] and "options" not in kept


def test_a_titled_variant_renamed_and_one_added_keep_titles():
    rows = variants.from_file(TITLED)
    rows.rows[0].name = "Small tin"
    rows.rows.append(variants.Row(name="Huge", sku="TIN-XL", price="19.00"))
    saved = variants.apply(rows, TITLED)["variants"]
    assert [v.get("title") for v in saved] == ["Small tin", "Large", "Huge"]


def test_a_renamed_option_row_drops_the_title_of_its_old_values():
    data = {"name": "Tea", "options": [{"name": "Size", "values": ["S"]}],
            "variants": [{"sku": "T-S", "title": "Small caddy", "options": {"Size": "S"}}]}
    rows = variants.from_file(data)
    rows.rows[0].name = "M"
    assert variants.apply(rows, data)["variants"] == [{"sku": "T-S", "options": {"Size": "M"}}]
    unchanged = variants.apply(variants.from_file(data), data)["variants"]
    assert unchanged == data["variants"]


def test_new_rows_without_option_names_are_still_refused():
    rows = variants.Variants("", [variants.Row(name="Large", sku="X-L")])
    with pytest.raises(Rejected) as refused:
        variants.apply(rows, {"name": "X", "price": "1.00"})
    assert any("Options: name the choice" in e for e in refused.value.errors)


def test_stock_is_capped_at_a_billion_units():
    data = {"name": "Tea", "options": [{"name": "Size", "values": ["S"]}],
            "variants": [{"sku": "T-S", "options": {"Size": "S"}}]}
    rows = variants.from_file(data)
    rows.rows[0].stock = str(2**63 - 1)
    with pytest.raises(Rejected) as refused:
        variants.apply(rows, data)
    assert any("stock must be a whole number from 0 to 1,000,000,000" in e for e in refused.value.errors)
    rows.rows[0].stock = "1000000000"
    variants.apply(rows, data)
