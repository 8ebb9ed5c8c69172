"""The operators' tenants page refuses names that are not names, with the field in the message."""

from __future__ import annotations

import httpx


def test_the_operator_page_refuses_a_bad_name_and_creates_nothing(admin):
    operator = admin("bakery", "admin@tessera.test")
    for name in ("Petal\x00Stem", "x" * 100_000, "Petal\u202eStem"):
        refused = operator.post("/tenants/create", {"slug": "florist", "name": name, "starter": "studio",
                                                          "features": ["cms"]})
        assert refused.status_code == 303
        assert httpx.URL(refused.headers["location"]).params["error"].startswith("name: ")
    assert "florist" not in operator.get("/tenants").text
    assert not (operator.site["data"] / "tenants" / "florist").exists()
