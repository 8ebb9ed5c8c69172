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
    assets = [p for p in (out / "assets").iterdir() if p.suffix in (".js", ".css")]
    weight = page.stat().st_size + sum(p.stat().st_size for p in assets)
    assert weight <= 50 * 1024, f"the product page weighs {weight} bytes before images, uncompressed"
