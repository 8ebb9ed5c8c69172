"""The admin's content check on a save knows shipping.yaml: a site.yaml that keeps the legacy shipping
block beside shipping.yaml is refused with both files named, and nothing is committed."""

from __future__ import annotations

import httpx

from content.gitrepo import Author


def test_a_settings_save_beside_shipping_yaml_with_the_legacy_block_is_refused(admin):
    owner = admin()
    repo = owner.repo()
    assert repo.read("shipping.yaml") is not None  # the demo bakery ships by shipping.yaml
    legacy = repo.read("site.yaml") + b'shipping:\n  flat_rate: "4.95"\n  countries: [GB]\n'
    repo.write({"site.yaml": legacy}, Author("Git user", "owner@bakery.test"), "Old shipping block, pushed past the check")
    head = repo.head()
    form = {"name": "Rye & Crumb", "tagline": "Bread", "theme": "storefront", "logo": "bakery-front.jpg",
            "payment_instructions": "Pay by transfer.", "message": "Rename"}
    refused = owner.post("/settings/site", {**form, "flat_rate": "4.95", "countries": "GB"})
    error = httpx.URL(refused.headers["location"]).params["error"]
    assert "site.yaml:" in error and "shipping: shipping.yaml replaces this block" in error, error
    assert repo.head() == head

    repo.write({"site.yaml": legacy.split(b"shipping:\n")[0]}, Author("Git user", "owner@bakery.test"), "Fixed")
    done = owner.post("/settings/site", form)
    assert "saved" in done.headers["location"], done.headers["location"]
    assert repo.head() != head


def test_a_product_save_that_would_break_shipping_yaml_is_refused(admin):
    """shipping.yaml keeps cakes out of the post: taking the last cake out of that category would
    make every later publish fail, so the save says so instead."""
    manager = admin("bakery", "shop@bakery.test")
    head = manager.repo().head()
    refused = manager.post("/products/save", {
        "path": "products/almond-financiers.md", "name": "Almond Financiers", "sku": "AF-6", "price": "8.50",
        "categories": "sweet", "images": ["almond-financiers.jpg"], "track_stock": "1", "body": "Small cakes.",
        "message": "Financiers are just sweet"})
    assert refused.status_code == 422
    assert "shipping.yaml" in refused.text and "no product is in the category" in refused.text
    assert "this change would break shipping.yaml" in refused.text
    assert manager.repo().head() == head
