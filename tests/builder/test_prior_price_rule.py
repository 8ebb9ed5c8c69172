"""The prior price rule: a "was" price must be the lowest price charged in the 30 days before the
reduction began, read from the repository's history (commits at chosen dates)."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from builder.build import BuildConfig, build
from builder.errors import BuildErrors
from content.gitrepo import Author, Repository
from content.prices import PriceHistory
from content.source import DirSource
from tessera.settings import ROOT

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
SALE = NOW - timedelta(hours=1)  # the moment the reduction is committed
DAY = timedelta(days=1)
THEMES = ROOT / "themes"
EDITOR = Author("Editor", "editor@example.com")
SITE = textwrap.dedent("""\
    name: Test Bakery
    currency: GBP
    timezone: Europe/London
    prior_price_rule: {rule}
    """)


def loaf(price: str, compare: str | None = None, status: str = "active") -> bytes:
    lines = ["---", "name: Rye Loaf", "sku: LOAF", f'price: "{price}"']
    if compare:
        lines.append(f'compare_price: "{compare}"')
    lines += [f"status: {status}", "---", "A loaf.", ""]
    return "\n".join(lines).encode()


class History:
    """A site repository whose commits are made at chosen moments."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch, rule: bool = True) -> None:
        self.monkeypatch = monkeypatch
        self.repo = Repository.create(path / "repo.git", None, EDITOR)
        self.commit(NOW - 400 * DAY, {"site.yaml": SITE.format(rule="true" if rule else "false").encode()})

    def commit(self, when: datetime, changes: dict[str, bytes | None]) -> str:
        stamp = f"{int(when.timestamp())} +0000"
        self.monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)
        self.monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)
        return self.repo.write(changes, EDITOR, f"change at {when.isoformat()}")

    def build(self, out: Path, now: datetime = NOW):
        source = self.repo.source()
        try:
            return build(BuildConfig(source, out, THEMES, base_url="https://shop.example.com", shop=True,
                                     cache_dir=out.parent / "cache", now=now, workers=1,
                                     price_history=PriceHistory(self.repo, source.commit)))
        finally:
            source.close()


@pytest.fixture(name="history")
def fx_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> History:
    return History(tmp_path, monkeypatch)


# (days before the sale, price, compare_price, status) of earlier versions; the sale is 9.00, was 10.00.
CASES = {
    "a lower price that ended 31 days before does not count": ([(40, "8.00"), (31, "10.00")], None),
    "a lower price replaced exactly 30 days before does not count": ([(40, "8.00"), (30, "10.00")], None),
    "a lower price that ended 29 days before counts": ([(40, "8.00"), (29, "10.00")], "£8.00"),
    "the price in effect when the window opened counts": ([(35, "8.00"), (20, "10.00")], "£8.00"),
    "a lower price charged for a few days within the window counts": (
        [(40, "10.00"), (10, "7.00"), (5, "10.00")], "£7.00"),
    "a draft was never charged": ([(40, "10.00"), (10, "7.00", "draft"), (5, "10.00")], None),
    "an earlier sale's price was charged": ([(60, "10.00"), (25, "8.50", "active", "10.00"), (15, "10.00")],
                                            "£8.50"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_30_day_low_at_the_window_boundaries(name: str, history: History, tmp_path: Path) -> None:
    versions, lowest_error = CASES[name]
    for days, price, *rest in versions:
        status = rest[0] if rest else "active"
        compare = rest[1] if len(rest) > 1 else None
        history.commit(SALE - days * DAY, {"products/loaf.md": loaf(price, compare, status)})
    history.commit(SALE, {"products/loaf.md": loaf("9.00", "10.00")})
    if lowest_error is None:
        history.build(tmp_path / "out")
        page = (tmp_path / "out" / "products" / "loaf" / "index.html").read_text()
        assert "Lowest price in the 30 days before this offer: £10.00" in page
    else:
        with pytest.raises(BuildErrors) as caught:
            history.build(tmp_path / "out")
        assert [str(e) for e in caught.value.errors] == [
            f"products/loaf.md:5: compare_price: £10.00 claims a reduction, but the lowest price charged in the "
            f"30 days before it began (2026-11-26 11:00) is {lowest_error}; show {lowest_error} as the earlier "
            f"price, or remove compare_price"]
        assert not (tmp_path / "out" / "products").exists()  # a failed build changes nothing


def test_a_running_sale_is_measured_from_the_day_it_began(history: History, tmp_path: Path) -> None:
    """Twenty days into a sale, the sale price itself is not the earlier price: the window is the 30
    days before the reduction began, not the 30 days before today."""
    history.commit(SALE - 60 * DAY, {"products/loaf.md": loaf("10.00")})
    history.commit(SALE - 20 * DAY, {"products/loaf.md": loaf("9.00", "10.00")})
    history.commit(SALE - 5 * DAY, {"products/other.md": b"---\nname: Other\nsku: OTHER\nprice: \"3.00\"\n---\n"})
    history.build(tmp_path / "out")
    assert "Lowest price in the 30 days before this offer: £10.00" in \
        (tmp_path / "out" / "products" / "loaf" / "index.html").read_text()
    # A deeper cut in the same sale keeps the sale's start (a progressive reduction).
    history.commit(SALE, {"products/loaf.md": loaf("8.00", "10.00")})
    history.build(tmp_path / "out")
    page = (tmp_path / "out" / "products" / "loaf" / "index.html").read_text()
    assert "Lowest price in the 30 days before this offer: £10.00" in page
    listing = (tmp_path / "out" / "products" / "index.html").read_text()
    assert "Lowest price in the 30 days before this offer: £10.00" in listing


def test_a_product_launched_with_a_was_price_fails(history: History, tmp_path: Path) -> None:
    history.commit(SALE, {"products/loaf.md": loaf("9.00", "10.00")})
    with pytest.raises(BuildErrors) as caught:
        history.build(tmp_path / "out")
    assert [str(e) for e in caught.value.errors] == [
        "products/loaf.md:5: compare_price: £10.00 claims a reduction, but nothing was charged for LOAF in the 30 "
        "days before it began (2026-11-26 11:00); remove compare_price until an earlier price has been charged"]


def test_a_variant_s_false_was_price_names_its_line_and_sku(history: History, tmp_path: Path) -> None:
    def product(small: str, large: str, compare: str | None) -> bytes:
        return textwrap.dedent(f"""\
            ---
            name: Croissants
            price: "{small}"
            options:
              - {{name: Box, values: [Box of 4, Box of 8]}}
            variants:
              - sku: CR-4
                options: {{Box: Box of 4}}
              - sku: CR-8
                options: {{Box: Box of 8}}
                price: "{large}"
            {f'    compare_price: "{compare}"' if compare else ''}
            ---
            Buttery.
            """).encode()

    history.commit(SALE - 40 * DAY, {"products/croissants.md": product("6.00", "16.00", None)})
    history.commit(SALE - 10 * DAY, {"products/croissants.md": product("6.00", "14.00", None)})
    history.commit(SALE, {"products/croissants.md": product("6.00", "13.00", "16.00")})
    with pytest.raises(BuildErrors) as caught:
        history.build(tmp_path / "out")
    assert [str(e) for e in caught.value.errors] == [
        "products/croissants.md:12: compare_price: CR-8: £16.00 claims a reduction, but the lowest price charged in "
        "the 30 days before it began (2026-11-26 11:00) is £14.00; show £14.00 as the earlier price, or remove "
        "compare_price"]
    history.commit(NOW - timedelta(minutes=30), {"products/croissants.md": product("6.00", "13.00", "14.00")})
    history.build(tmp_path / "out")
    page = (tmp_path / "out" / "products" / "croissants" / "index.html").read_text()
    assert "<s class=\"compare-price\"><span class=\"visually-hidden\">was </span>£14.00</s>" in page
    assert "Lowest price in the 30 days before this offer: £14.00" in page


def test_the_rule_is_off_unless_the_site_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history = History(tmp_path, monkeypatch, rule=False)
    history.commit(SALE, {"products/loaf.md": loaf("9.00", "10.00")})
    history.build(tmp_path / "out")
    page = (tmp_path / "out" / "products" / "loaf" / "index.html").read_text()
    assert "£10.00" in page and "Lowest price" not in page


def test_a_folder_without_history_builds_without_the_rule(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "products").mkdir(parents=True)
    (site / "site.yaml").write_text(SITE.format(rule="true"))
    (site / "products" / "loaf.md").write_bytes(loaf("9.00", "10.00"))
    build(BuildConfig(DirSource(site), tmp_path / "out", THEMES, shop=True, now=NOW, workers=1))
    page = (tmp_path / "out" / "products" / "loaf" / "index.html").read_text()
    assert "£10.00" in page and "Lowest price" not in page


def test_the_lowest_price_stays_out_of_json_ld(history: History, tmp_path: Path) -> None:
    """Search engines get the offer's price; the prior price is for the shopper reading the page."""
    history.commit(SALE - 40 * DAY, {"products/loaf.md": loaf("10.00")})
    history.commit(SALE, {"products/loaf.md": loaf("9.00", "10.00")})
    history.build(tmp_path / "out")
    page = (tmp_path / "out" / "products" / "loaf" / "index.html").read_text()
    json_ld = json.loads(page.split('application/ld+json">', 1)[1].split("</script>", 1)[0])
    assert json_ld["offers"]["price"] == "9.00"
    assert "10.00" not in json.dumps(json_ld)


def test_a_walk_that_reuses_earlier_walks_reads_the_same_history(history: History) -> None:
    """Walks keep each commit they read (and the next one down the line) in the cache; a later walk,
    from a newer commit, that follows them must see exactly what a walk from scratch sees."""
    from content.parse import parse_site

    cache: dict = {}
    steps = [(60, "loaf", "10.00", None), (50, "bun", "2.00", None), (45, "loaf", "8.00", None),
             (33, "bun", "1.50", "2.00"), (25, "loaf", "10.00", None), (12, "loaf", "9.00", "10.00"),
             (8, "bun", "2.00", None), (3, "loaf", "7.00", "10.00"), (1, "bun", "1.80", "2.00")]
    for days, name, price, compare in steps:
        text = loaf(price, compare).replace(b"LOAF", name.upper().encode()).replace(b"Rye Loaf", name.encode())
        commit = history.commit(NOW - days * DAY, {f"products/{name}.md": text})
        source = history.repo.source(commit)
        content = parse_site(source)
        source.close()
        fresh = PriceHistory(history.repo, commit).priors(content, NOW)
        assert PriceHistory(history.repo, commit, cache=cache).priors(content, NOW) == fresh
        assert PriceHistory(history.repo, commit, cache=cache).priors(content, NOW) == fresh
    assert fresh["LOAF"].lowest == 800 and fresh["BUN"].lowest == 150
