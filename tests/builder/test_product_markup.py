"""Product JSON-LD never claims stock it cannot know: pages are static and stock is live, so a
tracked sku's offer has no ``availability`` (the page's script shows sold out), while a sku whose
stock is not tracked never sells out and says ``InStock``."""

from __future__ import annotations

import json
import re
import shutil

from tessera.settings import ROOT

LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def product_ld(page: str) -> dict:
    found = [json.loads(m) for m in LD.findall(page)]
    return next(d for d in found if d.get("@type") == "Product")


def test_offers_state_availability_only_when_it_cannot_change(build_site, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "sites" / "bakery", site)
    cookies = site / "products" / "oat-cookies.md"
    cookies.write_text(cookies.read_text().replace("weight: 300\n", "weight: 300\ntrack_stock: false\n"))
    build_site(site)
    out = tmp_path / "out"

    rye = product_ld((out / "products" / "dark-rye" / "index.html").read_text())
    assert rye["offers"]["sku"] == "DR-1000" and "availability" not in rye["offers"]
    assert rye["offers"]["price"] and rye["offers"]["priceCurrency"] == "GBP"

    untracked = product_ld((out / "products" / "oat-cookies" / "index.html").read_text())
    assert [o["availability"] for o in untracked["offers"]] == ["https://schema.org/InStock"] * 2


def test_the_cart_script_and_a_product_page_stay_within_their_budgets(build_site, tmp_path):
    import gzip

    build_site(ROOT / "sites" / "bakery")
    out = tmp_path / "out"
    script = next((out / "assets").glob("cart.*.js")).read_bytes()
    assert len(gzip.compress(script, 9)) <= 10 * 1024  # the cart script: 10 KB gzipped at most
    page = out / "products" / "croissants" / "index.html"  # the product with the most variants
    # What the page loads: its own scripts and stylesheets (the search page's script is not among them).
    loaded = re.findall(r'(?:src|href)="/(assets/[^"]+\.(?:js|css))"', page.read_text())
    assert loaded and not [a for a in loaded if a.startswith("assets/search.")]
    weight = page.stat().st_size + sum((out / a).stat().st_size for a in loaded)
    assert weight <= 50 * 1024, f"the product page weighs {weight} bytes before images, uncompressed"


def test_the_view_beacon_is_tiny_loaded_only_when_asked_and_keeps_the_page_within_budget(build_site, tmp_path):
    import gzip

    site = tmp_path / "site"
    shutil.copytree(ROOT / "sites" / "bakery", site)
    build_site(site)
    assert not list((tmp_path / "out" / "assets").glob("beacon.*.js"))  # counted at the edge: no script
    (site / "site.yaml").write_text((site / "site.yaml").read_text() + "analytics:\n  beacon: true\n")
    build_site(site)
    out = tmp_path / "out"
    beacon = next((out / "assets").glob("beacon.*.js"))
    assert len(gzip.compress(beacon.read_bytes(), 9)) <= 512  # one sendBeacon, nothing more
    page = out / "products" / "croissants" / "index.html"
    assert f'src="/assets/{beacon.name}"' in page.read_text()
    loaded = re.findall(r'(?:src|href)="/(assets/[^"]+\.(?:js|css))"', page.read_text())  # what the page loads
    weight = page.stat().st_size + sum((out / a).stat().st_size for a in loaded)
    assert weight <= 50 * 1024, f"the product page weighs {weight} bytes before images, uncompressed"
    assert json.loads((out / "_tessera" / "build.json").read_text())["beacon"] is True
    assert json.loads((out / "_tessera" / "catalog.json").read_text())["analytics"] == {"beacon": True}
