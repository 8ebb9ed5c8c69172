"""What the build gives the basket, checkout and order pages (their stylesheet, the checkout's script, each
sku's thumbnail, the countries the shop ships to), and the studio's pages: the real author's byline on posts,
the portfolio grid linking to project pages."""

from __future__ import annotations

import json
import re
import shutil

from tessera.settings import ROOT

LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def test_the_checkout_lists_only_the_countries_the_shop_ships_to_and_thumbnails_are_small(build_site, tmp_path):
    build_site(ROOT / "sites" / "bakery")
    out = tmp_path / "out"
    checkout = (out / "checkout" / "index.html").read_text()
    assert 'data-ship-to="GB"' in checkout  # shipping.yaml: the UK only
    for page in ("cart", "checkout", "order"):
        html = (out / page / "index.html").read_text()
        assert re.search(r'<link rel="stylesheet" href="/assets/basket\.[0-9a-f]{10}\.css">', html), page
        thumbs = json.loads(re.search(r'<script type="application/json" id="thumbs">(.*?)</script>', html).group(1))
        assert thumbs["CS-1200"].startswith("/media/") and (out / thumbs["CS-1200"].lstrip("/")).stat().st_size < 20_000
        assert ("/assets/checkout." in html) == (page != "cart")  # the checkout's script: checkout and order only
    assert "basket." not in (out / "index.html").read_text()  # other pages do not load the basket's stylesheet


def test_a_shop_with_a_worldwide_zone_offers_every_country(build_site, tmp_path):
    build_site(ROOT / "sites" / "studio")
    assert 'data-ship-to="*"' in (tmp_path / "out" / "checkout" / "index.html").read_text()


def test_posts_carry_the_real_authors_byline(build_site, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "sites" / "studio", site)
    post = site / "posts" / "choosing-a-tilt-shift-lens.md"
    post.write_text(post.read_text().replace("---\n", "---\nauthor: Guest Writer\n", 1))
    build_site(site)
    out = tmp_path / "out"
    html = (out / "blog" / "photographing-concrete" / "index.html").read_text()
    assert "by Ines Varga" in html and "Tessera" not in html  # site.yaml's author
    article = next(d for d in map(json.loads, LD.findall(html)) if d.get("@type") == "BlogPosting")
    assert article["author"] == {"@type": "Person", "name": "Ines Varga"}
    assert "by Guest Writer" in (out / "blog" / "choosing-a-tilt-shift-lens" / "index.html").read_text()  # the post's own
    feed = (out / "blog" / "feed.xml").read_text()
    assert "<name>Guest Writer</name>" in feed and "<name>Ines Varga</name>" in feed


def test_the_portfolio_links_each_project_to_its_page(build_site, tmp_path):
    build_site(ROOT / "sites" / "studio")
    out = tmp_path / "out"
    work = (out / "work" / "index.html").read_text()
    assert 'class="folio-page page-work"' in work
    for slug in ("harbour-at-dawn", "concrete-and-light", "market-hall", "forest-study"):
        assert f'href="/{slug}/"' in work
        project = (out / slug / "index.html").read_text()
        assert 'class="wrap folio-head with-image"' in project and 'href="/work/"' in project
