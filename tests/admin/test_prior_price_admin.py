"""The admin's product save applies the prior price rule to the would-be site: a "was" price above the
lowest price charged in the 30 days before is refused with the file and line, a true one saved."""

from __future__ import annotations

from content.gitrepo import Author
from tests.admin.conftest import alert


def test_a_false_was_price_is_refused_on_save(admin):
    owner = admin("bakery", "owner@bakery.test")
    repo = owner.repo()
    site_yaml = repo.read("site.yaml") or b""
    repo.write({"site.yaml": site_yaml + b"prior_price_rule: true\n"}, Author("Owner", "owner@bakery.test"),
               "Show the lowest price of the 30 days before a reduction")
    head = repo.head()
    form = {"path": "products/almond-financiers.md", "base": head, "name": "Almond Financiers", "sku": "AF-6",
            "categories": "sweet, cakes", "track_stock": "1", "images": ["almond-financiers.jpg"], "weight": "240",
            "body": "Small almond cakes.", "message": "Financiers on offer"}
    refused = owner.post("/products/save", {**form, "price": "7.50", "compare_price": "9.00"})
    assert refused.status_code == 422
    message = alert(refused)
    assert "products/almond-financiers.md:" in message
    assert "compare_price: £9.00 claims a reduction, but the lowest price charged in the 30 days before it " \
           "began" in message
    assert "is £8.50; show £8.50 as the earlier price, or remove compare_price" in message
    # The brioche has shown "was £6.50" since the site began, which the rule cannot vouch for; that
    # is the brioche's problem, reported where it is, and does not block a save of another file.
    assert "brioche" not in message
    assert repo.head() == head

    saved = owner.post("/products/save", {**form, "price": "7.50", "compare_price": "8.50"})
    assert saved.status_code == 303
    assert b"compare_price" in (repo.read("products/almond-financiers.md") or b"")
