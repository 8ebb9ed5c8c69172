"""Domains in the admin follow the platform's rules: no platform names, and removing the primary moves the
site back to its subdomain."""

from __future__ import annotations

import httpx

from content.registry import Registry


def test_platform_names_are_refused_and_removing_the_primary_republishes(admin, dns):
    owner = admin()
    for name in ("admin.localhost", "studio.localhost", "localhost"):
        refused = owner.post("/settings/domains", {"action": "add", "domain": name})
        assert "domain: " in httpx.URL(refused.headers["location"]).params["error"], name
    assert "studio.localhost</" not in owner.get("/settings").text

    owner.post("/settings/domains", {"action": "add", "domain": "shop.rye.example"})
    registry = Registry(owner.site["data"] / "platform.db")
    try:
        registry.verify_domain("shop.rye.example")
        registry.set_primary("bakery", "shop.rye.example")
    finally:
        registry.close()
    removed = owner.post("/settings/domains", {"action": "remove", "domain": "shop.rye.example"})
    assert "Republishing" in httpx.URL(removed.headers["location"]).params["saved"]
    job = owner.wait_for_job(removed.headers["location"])
    assert job["status"] == "done", job
    sitemap = (owner.site["data"] / "tenants" / "bakery" / "build" / "sitemap.xml").read_text()
    assert "shop.rye.example" not in sitemap and "bakery.localhost" in sitemap
