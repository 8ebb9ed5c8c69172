"""The catalog snapshot carries shipping.yaml (normalised), the tax settings and each variant's weight
and tax category, and an edit to shipping.yaml alone reaches it on an incremental build."""

from __future__ import annotations

import json
import os
import time

from tests.conftest import write_site

SITE = {
    "site.yaml": """
        name: Prints
        currency: EUR
        tax:
          origin: DE
          oss: true
          rates:
            CH: {standard: 8.1}
        """,
    "posts/hello.md": "---\ntitle: Hello\npublished_at: 2026-01-01\n---\nNews.\n",
    "products/print.md": """
        ---
        name: Harbour print
        price: "40.00"
        weight: 300
        tax_category: reduced
        categories: [prints]
        options:
          - {name: Size, values: [A4, A2]}
        variants:
          - {sku: HP-A4, options: {Size: A4}}
          - {sku: HP-A2, options: {Size: A2}, price: "90.00", weight: 900, tax_category: standard}
        ---
        """,
    "products/card.md": "---\nname: Gift card\nsku: GC-25\nprice: '25'\ngift_card: true\n---\n",
    "products/pin.md": "---\nname: Pin\nsku: PIN\nprice: '3'\n---\n",
}

SHIPPING = """
    zones:
      - name: Germany
        id: de
        countries: [DE]
        methods:
          - name: DHL Paket
            id: dhl
            price: "4.90"
            free_over: "100"
    pickup:
      - name: Studio
        address: Torstr. 1, Berlin
        country: DE
        hours: {tue: "10:00-18:00"}
        closed: [2026-12-24]
    """


def _catalog(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "_tessera" / "catalog.json").read_text())


def test_variants_carry_weight_and_tax_category_and_tax_its_settings(tmp_path, build_site):
    build_site(write_site(tmp_path / "site", SITE))
    catalog = _catalog(tmp_path)
    variants = {v["sku"]: (v["weight"], v["tax_category"]) for p in catalog["products"] for v in p["variants"]}
    assert variants == {"HP-A4": (300, "reduced"), "HP-A2": (900, "standard"), "GC-25": (None, "zero"),
                        "PIN": (None, "standard")}
    assert catalog["tax"] == {"label": "VAT", "inclusive": True, "origin": "DE", "oss": True, "shipping": True,
                              "rate": "0", "rates": {"CH": {"standard": "8.1"}}}
    assert catalog["shipping"] == {"flat_rate": 0, "free_over": None, "countries": []}  # no shipping set: legacy


def test_a_legacy_site_keeps_the_legacy_shipping_object(tmp_path, build_site):
    site = write_site(tmp_path / "site", {**SITE, "site.yaml": "name: Old\ncurrency: GBP\nshipping:\n"
                                                              "  flat_rate: '4.95'\n  free_over: '40'\n  countries: [GB]\n"})
    build_site(site)
    catalog = _catalog(tmp_path)
    assert catalog["shipping"] == {"flat_rate": 495, "free_over": 4000, "countries": ["GB"]}
    assert catalog["tax"]["origin"] is None and catalog["tax"]["rate"] == "0"


def test_an_edit_to_shipping_yaml_alone_reaches_the_catalog_incrementally(tmp_path, build_site):
    site = write_site(tmp_path / "site", {**SITE, "shipping.yaml": SHIPPING})
    first = build_site(site)
    catalog = _catalog(tmp_path)
    assert catalog["shipping"]["zones"][0]["methods"][0] == {
        "id": "de/dhl", "name": "DHL Paket", "price": 490, "free_over": 10000, "min_order": None, "estimate": "",
        "weight_bands": [], "subtotal_bands": [], "exclude_products": [], "exclude_categories": []}
    assert catalog["shipping"]["pickup"][0]["hours"] == {"tue": [["10:00", "18:00"]]}
    assert catalog["shipping"]["local_delivery"] == []
    for path in site.rglob("*"):  # settle: files older than the build are trusted by their stat key
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    build_site(site)
    assert build_site(site).up_to_date

    (site / "shipping.yaml").write_text((site / "shipping.yaml").read_text().replace('"4.90"', '"5.90"'))
    edited = build_site(site)
    assert not edited.up_to_date and edited.catalog_version != first.catalog_version
    assert _catalog(tmp_path)["shipping"]["zones"][0]["methods"][0]["price"] == 590
    # The blog does not show shipping: only pages that carry the catalog version are rendered again.
    post = tmp_path / "out" / "blog" / "hello" / "index.html"
    assert f'data-catalog-version="{edited.catalog_version}"' in (tmp_path / "out" / "products" / "print" /
                                                                   "index.html").read_text()
    assert edited.reused > 0 and post.exists()
