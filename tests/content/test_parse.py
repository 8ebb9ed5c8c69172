from __future__ import annotations

from decimal import Decimal

import pytest

from content.errors import ContentErrors
from content.money import Money
from content.parse import parse_site
from content.source import DirSource
from tests.conftest import SITES


@pytest.mark.parametrize("starter", ["bakery", "studio"])
def test_starter_sites_parse(starter):
    content = parse_site(DirSource(SITES / starter))
    assert content.pages and content.posts
    assert all(m.alt for m in content.media), "every starter image has alt text"


def test_bakery_has_shop_with_variants():
    content = parse_site(DirSource(SITES / "bakery"))
    assert len(content.products) >= 10
    croissants = content.product("croissants")
    assert croissants.options[0] == ("Box", ("Box of 4", "Box of 8"))
    prices = {v.sku: v.price for v in croissants.variants}
    assert prices["CR-8-R"] == Money(1650, "GBP")
    assert prices["CR-4-R"] == Money(900, "GBP")  # inherits the product price
    assert content.site.shipping is None  # shipping.yaml replaces site.yaml's legacy block
    assert [z.id for z in content.shipping.zones] == ["uk"]
    assert content.shipping.local_delivery[0].min_order == Money(1500, "GBP")
    leith = content.shipping.pickup[0]
    assert (leith.slot_minutes, leith.cutoff) == (30, "14:00") and leith.capacity and leith.closed


def test_scratch_site_values(scratch_site):
    content = parse_site(DirSource(scratch_site()))
    assert content.site.name == "Scratch"
    (product,) = content.products
    assert product.variants[0].sku == "BREAD-1"
    assert product.price == Money(320, "EUR")
    assert content.page("about").status == "published"
    assert content.page("about").body_line == 4


def test_unquoted_decimal_price_is_exact(scratch_site):
    site = scratch_site({"products/bread.md": "---\nname: Bread\nsku: B\nprice: 0.10\n---\n"})
    assert parse_site(DirSource(site)).products[0].price == Money(10, "EUR")


def test_naive_dates_use_the_site_time_zone(scratch_site):
    site = scratch_site({
        "site.yaml": "name: S\ntimezone: Europe/Berlin\n",
        "posts/p.md": "---\ntitle: P\npublished_at: 2026-05-01T09:30:00\n---\n",
    })
    post = parse_site(DirSource(site)).post("p")
    assert post.published_at.utcoffset().total_seconds() == 7200


# Each malformed input, with the one message an editor sees (file:line: field: message).
MALFORMED = [
    ("price with a comma",
     {"products/bread.md": "---\nname: Bread\nsku: B1\nprice: \"12,50\"\n---\n"},
     'products/bread.md:4: price: "12,50" is not a decimal price'),
    ("too many decimals",
     {"products/bread.md": "---\nname: Bread\nsku: B1\nprice: \"1.005\"\n---\n"},
     'products/bread.md:4: price: "1.005" has more than 2 decimal places for EUR'),
    ("front matter is a list",
     {"pages/about.md": "---\n- one\n- two\n---\nBody\n"},
     "pages/about.md:2: front matter must be a mapping"),
    ("no front matter",
     {"pages/about.md": "Just text\n"},
     "pages/about.md:1: must start with front matter"),
    ("unclosed front matter",
     {"pages/about.md": "---\ntitle: About\n"},
     "pages/about.md:1: front matter is not closed"),
    ("yaml syntax error",
     {"pages/about.md": "---\ntitle: About\nexcerpt: [unclosed\n---\n"},
     "pages/about.md:4: invalid YAML"),
    ("not utf-8",
     {"pages/about.md": b"---\ntitle: About\n---\nline one\ncaf\xe9\n"},
     "pages/about.md:5: is not valid UTF-8 text"),
    ("missing title",
     {"pages/about.md": "---\nslug: about\n---\n"},
     "pages/about.md:2: title: is required"),
    ("bad status",
     {"pages/about.md": "---\ntitle: About\nstatus: live\n---\n"},
     "pages/about.md:3: status: 'live' is not one of: draft, published, archived"),
    ("bad slug",
     {"pages/about.md": "---\ntitle: About\nslug: About Us\n---\n"},
     "pages/about.md:3: slug: 'About Us' is not a valid slug"),
    ("unknown field",
     {"pages/about.md": "---\ntitle: About\ntitel: typo\n---\n"},
     "pages/about.md:3: titel: unknown field"),
    ("duplicate key",
     {"pages/about.md": "---\ntitle: About\ntitle: Again\n---\n"},
     "pages/about.md:3: invalid YAML: duplicate key 'title'"),
    ("malformed site.yaml",
     {"site.yaml": "name: [broken\n"},
     "site.yaml:2: invalid YAML"),
    ("site.yaml not a mapping",
     {"site.yaml": "- a\n"},
     "site.yaml:1: must be a mapping of settings"),
    ("bad currency",
     {"site.yaml": "name: S\ncurrency: euro\n"},
     "site.yaml:2: currency: 'EURO' is not a three-letter ISO 4217 code"),
    ("bad time zone",
     {"site.yaml": "name: S\ntimezone: Mars/Olympus\n"},
     "site.yaml:2: timezone: 'Mars/Olympus' is not a time zone name"),
    ("missing site.yaml",
     {"site.yaml": None},
     "site.yaml: is missing"),
    ("bad date",
     {"posts/p.md": "---\ntitle: P\npublished_at: next tuesday\n---\n"},
     "posts/p.md:3: published_at: 'next tuesday' is not a date"),
    ("product without sku or variants",
     {"products/bread.md": "---\nname: Bread\nprice: \"1.00\"\n---\n"},
     "products/bread.md:2: sku: is required for a product without variants"),
    ("variant with an undeclared option",
     {"products/bread.md": "---\nname: Bread\nprice: \"1.00\"\noptions:\n  - name: Size\n    values: [S, L]\n"
                           "variants:\n  - sku: B-S\n    options: {Colour: red}\n---\n"},
     "products/bread.md:9: options: option 'Colour' is not declared"),
    ("image not in media",
     {"products/bread.md": "---\nname: Bread\nsku: B\nprice: \"1.00\"\nimages: [nope.jpg]\n---\n"},
     "products/bread.md:5: images: 'nope.jpg' is not in media/"),
    ("float weight",
     {"products/bread.md": "---\nname: Bread\nsku: B\nprice: \"1.00\"\nweight: 1.5\n---\n"},
     "products/bread.md:5: weight: must be a whole number"),
    ("orphan media sidecar",
     {"media/ghost.jpg.yaml": "alt: nothing\n"},
     "media/ghost.jpg.yaml: describes a media file that does not exist"),
]


@pytest.mark.parametrize("overrides,expected", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_input_names_file_line_and_field(scratch_site, overrides, expected):
    with pytest.raises(ContentErrors) as info:
        parse_site(DirSource(scratch_site(overrides)))
    messages = [str(e) for e in info.value.errors]
    assert any(m.startswith(expected) for m in messages), messages


def test_duplicate_slug_names_both_files(scratch_site):
    site = scratch_site({"pages/about-us.md": "---\ntitle: About us\nslug: about\n---\n"})
    with pytest.raises(ContentErrors) as info:
        parse_site(DirSource(site))
    messages = [str(e) for e in info.value.errors]
    assert "pages/about-us.md: slug: 'about' is also used by pages/about.md" in messages
    assert "pages/about.md: slug: 'about' is also used by pages/about-us.md" in messages


def test_duplicate_sku_across_products_names_both_files(scratch_site):
    site = scratch_site({"products/roll.md": "---\nname: Roll\nprice: \"1.00\"\noptions:\n  - name: N\n"
                                             "    values: [a]\nvariants:\n  - sku: BREAD-1\n    options: {N: a}\n---\n"})
    with pytest.raises(ContentErrors) as info:
        parse_site(DirSource(site))
    messages = {str(e) for e in info.value.errors}
    assert "products/roll.md: sku: 'BREAD-1' is also used by products/bread.md" in messages
    assert "products/bread.md: sku: 'BREAD-1' is also used by products/roll.md" in messages


def test_every_problem_is_reported_at_once(scratch_site):
    site = scratch_site({
        "pages/a.md": "---\nstatus: nope\n---\n",
        "products/bread.md": "---\nname: Bread\nsku: B\nprice: \"x\"\n---\n",
    })
    with pytest.raises(ContentErrors) as info:
        parse_site(DirSource(site))
    paths = {e.path for e in info.value.errors}
    assert paths == {"pages/a.md", "products/bread.md"}
    assert len(info.value.errors) == 3  # missing title, bad status, bad price


def test_tax_rate_reads_as_decimal(scratch_site):
    site = scratch_site({"site.yaml": "name: S\ntax:\n  rate: 7.7\n  inclusive: false\n"})
    tax = parse_site(DirSource(site)).site.tax
    assert tax.rate == Decimal("7.7") and tax.inclusive is False
