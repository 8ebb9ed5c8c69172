"""Publishing carries shipping.yaml and the tax settings into the shop's rules, and each variant's
weight and tax category into the catalog; an edit to shipping.yaml alone is enough to change them."""

from __future__ import annotations

import json

from content.migrations import connect
from content.schema import TENANT
from publish.catalog import import_snapshot
from tessera.sites import publish_tenant
from tests.publish.conftest import EDITOR


def _rules(tenants, slug: str) -> dict:
    conn = tenants.open_db(slug)
    try:
        return json.loads(conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()["value"])
    finally:
        conn.close()


def test_variants_keep_weight_and_tax_category_and_older_snapshots_still_import(tmp_path):
    conn = connect(tmp_path / "tenant.db", TENANT)
    variant = {"title": "T", "price": 100, "currency": "EUR"}
    import_snapshot(conn, {"products": [{"slug": "p", "name": "P", "url": "/p/", "variants": [
        {**variant, "sku": "NEW", "weight": 900, "tax_category": "reduced"},
        {**variant, "sku": "OLD"}]}]})  # published before weights and tax categories were
    rows = {r["sku"]: (r["weight"], r["tax_category"])
            for r in conn.execute("SELECT sku, weight, tax_category FROM catalog_variants")}
    assert rows == {"NEW": (900, "reduced"), "OLD": (None, "standard")}


def test_an_edit_to_shipping_yaml_alone_changes_the_published_rules(platform):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    rules = _rules(tenants, "bakery")
    (uk,) = rules["shipping"]["zones"]
    assert uk["methods"][0]["id"] == "uk/tracked-48" and uk["methods"][0]["weight_bands"][0] == {"up_to": 2000,
                                                                                                 "price": 495}
    assert rules["shipping"]["local_delivery"][0]["id"] == "local/van"
    assert rules["shipping"]["pickup"][0]["slot_minutes"] == 30
    assert set(rules["tax"]) == {"label", "inclusive", "origin", "oss", "shipping", "rate", "rates"}
    conn = tenants.open_db("bakery")
    variants = {r["sku"]: (r["weight"], r["tax_category"])
                for r in conn.execute("SELECT sku, weight, tax_category FROM catalog_variants")}
    conn.close()
    assert variants["AF-6"] == (240, "standard") and variants["GIFT-25"][1] == "zero"

    repo = tenants.repository("bakery")
    text = repo.read("shipping.yaml").decode().replace('price: "3.50"', 'price: "2.50"')
    repo.write({"shipping.yaml": text.encode()}, EDITOR, "Cheaper van")
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert deploy.status == "live"
    assert _rules(tenants, "bakery")["shipping"]["local_delivery"][0]["price"] == 250
