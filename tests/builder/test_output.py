"""What a build writes for a small shop with a blog: pages, feeds, SEO, redirects, the catalog."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from builder.errors import BuildErrors
from tests.builder.conftest import NOW, files
from tests.conftest import SITES

SHOP = {
    "site.yaml": """
        name: Crumb & Co <Bakery>
        currency: EUR
        timezone: UTC
        posts_per_page: 2
        navigation:
          - {title: Shop, url: /products/}
        theme_settings:
          colors: {primary: "#123456"}
          fonts: {heading: serif}
        redirects:
          - {from: /old-shop/, to: /products/}
        """,
    "pages/about.md": """
        ---
        title: About <us>
        aliases: [/about-us/]
        ---
        See [the rye](product:rye) and [our news](post:first#top).
        """,
    "pages/secret.md": "---\ntitle: Secret\nstatus: draft\n---\nhidden draft text\n",
    "posts/first.md": "---\ntitle: First\npublished_at: 2026-01-01\ntags: [News, Bread]\n---\nHello *world*.\n",
    "posts/second.md": "---\ntitle: Second\npublished_at: 2026-02-01\ntags: [news]\n---\nMore.\n",
    "posts/third.md": "---\ntitle: Third\npublished_at: 2026-03-01\n---\nEven more.\n",
    "posts/old.md": "---\ntitle: Old\nstatus: archived\npublished_at: 2025-01-01\n---\narchived text\n",
    "posts/future.md": "---\ntitle: Future\npublished_at: 2027-01-01T10:00:00\n---\nscheduled text\n",
    "products/rye.md": """
        ---
        name: Rye
        price: "4.50"
        categories: [Bread]
        images: [rye.png]
        options:
          - {name: Size, values: [Small, Large]}
        variants:
          - {sku: RYE-S, options: {Size: Small}}
          - {sku: RYE-L, options: {Size: Large}, price: "7.00"}
        ---
        A dark loaf.
        """,
    "products/hidden.md": "---\nname: Hidden\nsku: HID\nprice: \"1.00\"\nstatus: draft\n---\n",
}


@pytest.fixture(name="shop_site")
def fx_shop_site(tmp_path):
    from PIL import Image

    from tests.conftest import write_site

    site = write_site(tmp_path / "site", SHOP)
    (site / "media").mkdir()
    Image.new("RGB", (1200, 800), (120, 80, 40)).save(site / "media" / "rye.png")
    (site / "media" / "rye.png.yaml").write_text("alt: A rye loaf\n")
    return site


def test_every_kind_of_page_is_written(shop_site, build_site, tmp_path):
    result = build_site(shop_site)
    out = files(tmp_path / "out")
    for path in ["index.html", "about/index.html", "blog/index.html", "blog/page/2/index.html",
                 "blog/first/index.html", "blog/tags/news/index.html", "blog/tags/bread/index.html",
                 "blog/feed.xml", "products/index.html", "products/category/bread/index.html",
                 "products/rye/index.html", "cart/index.html", "checkout/index.html", "404.html",
                 "sitemap.xml", "robots.txt", "_redirects", "_tessera/catalog.json", "_tessera/manifest.json"]:
        assert path in out, path
    assert result.rendered == len([p for p in out if p.endswith((".html", ".xml", ".txt"))])


def test_drafts_archived_and_scheduled_items_are_left_out(shop_site, build_site, tmp_path):
    result = build_site(shop_site)
    text = b"".join(files(tmp_path / "out").values())
    for word in (b"hidden draft text", b"archived text", b"scheduled text", b"/blog/future/", b"/secret/",
                 b"/products/hidden/"):
        assert word not in text
    assert result.next_scheduled.isoformat() == "2027-01-01T10:00:00+00:00"
    later = build_site(shop_site, now=NOW.replace(year=2027, month=2))
    assert (tmp_path / "out" / "blog" / "future" / "index.html").exists()
    assert later.next_scheduled is None


def test_everything_user_supplied_is_escaped(shop_site, build_site, tmp_path):
    build_site(shop_site)
    about = (tmp_path / "out" / "about" / "index.html").read_text()
    assert "<title>About &lt;us&gt; · Crumb &amp; Co &lt;Bakery&gt;</title>" in about
    assert "<Bakery>" not in about


def test_references_resolve_to_urls(shop_site, build_site, tmp_path):
    build_site(shop_site)
    about = (tmp_path / "out" / "about" / "index.html").read_text()
    assert '<a href="/products/rye/">the rye</a>' in about
    assert '<a href="/blog/first/#top">our news</a>' in about


def test_seo_tags_and_json_ld(shop_site, build_site, tmp_path):
    build_site(shop_site)
    page = (tmp_path / "out" / "products" / "rye" / "index.html").read_text()
    assert '<link rel="canonical" href="https://shop.example.com/products/rye/">' in page
    assert '<meta property="og:type" content="product">' in page
    blocks = [json.loads(b) for b in re.findall(r'<script type="application/ld\+json">(.*?)</script>', page)]
    product = next(b for b in blocks if b["@type"] == "Product")
    assert {(o["sku"], o["price"], o["priceCurrency"]) for o in product["offers"]} == {
        ("RYE-S", "4.50", "EUR"), ("RYE-L", "7.00", "EUR")}
    assert any(b["@type"] == "BreadcrumbList" for b in blocks)
    home = (tmp_path / "out" / "index.html").read_text()
    assert '"@type":"Organization"' in home


def test_images_are_responsive_and_sized(shop_site, build_site, tmp_path):
    build_site(shop_site)
    out = tmp_path / "out"
    page = (out / "products" / "rye" / "index.html").read_text()
    for img in re.findall(r"<img [^>]*>", page):
        assert 'width="1200"' in img and 'height="800"' in img
    assert re.search(r'srcset="/media/rye-480\.[0-9a-f]+\.webp 480w, /media/rye-960\.[0-9a-f]+\.webp 960w', page)
    listing = (out / "products" / "index.html").read_text()
    assert 'alt="A rye loaf"' in page  # the product's own picture says what it shows
    assert re.search(r'<a href="/products/rye/">\s*<img [^>]*alt=""', listing)  # a card's title names its link
    webps = list((out / "media").glob("rye-*.webp"))
    assert len(webps) == 3 and all(p.stat().st_size > 0 for p in webps)


def test_assets_are_fingerprinted_and_theme_settings_become_css_variables(shop_site, build_site, tmp_path):
    build_site(shop_site)
    out = tmp_path / "out"
    (css,) = (out / "assets").glob("site.*.css")
    import hashlib
    assert css.name == f"site.{hashlib.sha256(css.read_bytes()).hexdigest()[:10]}.css"
    home = (out / "index.html").read_text()
    assert f'href="/assets/{css.name}"' in home
    assert "--color-primary:#123456" in home and "--font-heading:Charter" in home


def test_feed_and_sitemap_are_valid_and_published_only(shop_site, build_site, tmp_path):
    build_site(shop_site)
    out = tmp_path / "out"
    feed = ET.parse(out / "blog" / "feed.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [e.find("a:title", ns).text for e in feed.findall("a:entry", ns)] == ["Third", "Second", "First"]
    content = feed.find("a:entry/a:content", ns).text
    assert content.strip() == "<p>Even more.</p>"
    sitemap = ET.parse(out / "sitemap.xml").getroot()
    locs = {u.find("{http://www.sitemaps.org/schemas/sitemap/0.9}loc").text for u in sitemap}
    assert "https://shop.example.com/blog/first/" in locs
    assert not any("future" in loc or "secret" in loc or "about-us" in loc for loc in locs)
    lastmods = [u.find("{http://www.sitemaps.org/schemas/sitemap/0.9}lastmod") for u in sitemap]
    assert any(m is not None and m.text == "2026-01-01" for m in lastmods)


def test_redirects_for_aliases_and_site_rules(shop_site, build_site, tmp_path):
    build_site(shop_site)
    out = tmp_path / "out"
    rules = (out / "_redirects").read_text().splitlines()
    assert "/about-us/ /about/ 301" in rules and "/old-shop/ /products/ 301" in rules
    stub = (out / "about-us" / "index.html").read_text()
    assert 'http-equiv="refresh" content="0; url=/about/"' in stub
    assert json.loads((out / "_tessera" / "redirects.json").read_text())[0]["from"] == "/about-us/"


def test_catalog_snapshot_and_version_on_shop_pages(shop_site, build_site, tmp_path):
    result = build_site(shop_site)
    out = tmp_path / "out"
    catalog = json.loads((out / "_tessera" / "catalog.json").read_text())
    assert catalog["version"] == result.catalog_version
    (rye,) = catalog["products"]
    assert [(v["sku"], v["price"], v["currency"], v["track_stock"]) for v in rye["variants"]] == [
        ("RYE-S", 450, "EUR", True), ("RYE-L", 700, "EUR", True)]
    assert rye["url"] == "/products/rye/" and rye["image"] == "/media/rye.png"
    assert f'data-catalog-version="{result.catalog_version}"' in (out / "products/rye/index.html").read_text()
    (shop_site / "products" / "rye.md").write_text((shop_site / "products" / "rye.md").read_text().replace('"7.00"', '"7.50"'))
    assert build_site(shop_site).catalog_version != result.catalog_version


def test_shop_off_means_no_shop_pages_and_no_cart(shop_site, build_site, tmp_path):
    with pytest.raises(BuildErrors, match="pages/about.md:5: links to product:rye, which does not exist"):
        build_site(shop_site, shop=False)  # with the shop off, a link to a product is broken
    (shop_site / "pages" / "about.md").write_text("---\ntitle: About\n---\nNo shop links.\n")
    build_site(shop_site, shop=False)
    out = files(tmp_path / "out")
    assert not [p for p in out if p.startswith(("products/", "cart/", "checkout/", "order/"))]
    assert [p for p in out if p.endswith(".js")] == [next(p for p in out if p.startswith("assets/search."))]  # posts
    home = out["index.html"].decode()
    assert "Basket" not in home and "tessera:api" not in home
    assert "about/index.html" in out and "blog/first/index.html" in out


def test_output_is_deterministic(shop_site, build_site, tmp_path):
    build_site(shop_site, out=tmp_path / "a", cache=False)
    build_site(shop_site, out=tmp_path / "b", workers=2, cache=False)
    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_manifest_lists_every_file_with_hash_and_type(shop_site, build_site, tmp_path):
    import hashlib
    build_site(shop_site)
    out = tmp_path / "out"
    manifest = json.loads((out / "_tessera" / "manifest.json").read_text())
    on_disk = {p for p in files(out) if not p.startswith("_tessera/")}
    assert set(manifest) == on_disk
    for path, (sha, size, kind) in manifest.items():
        data = (out / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha and len(data) == size
    assert manifest["index.html"][2] == "text/html; charset=utf-8"


@pytest.mark.parametrize("starter,theme", [("bakery", "storefront"), ("studio", "folio")])
def test_starter_sites_build_with_their_themes(starter, theme, build_site, tmp_path):
    result = build_site(SITES / starter, shop=starter == "bakery")
    home = (tmp_path / "out" / "index.html").read_text()
    assert theme in home
    assert result.files > 20
