"""Page views counted at the edge, over real HTTP: what counts, what does not, and what is kept."""

from __future__ import annotations

import re
from datetime import date

import pytest

from content.registry import parse_features
from publish.analytics import traffic
from tests.analytics.conftest import IPHONE, Clock

DAY = date(2026, 3, 2)


def report(site, slug: str = "bakery", since: date = DAY, until: date = DAY) -> dict:
    conn = site.db(slug)
    try:
        return traffic(conn, since, until)
    finally:
        conn.close()


def views(site, slug: str = "bakery") -> int:
    return report(site, slug)["totals"]["views"]


def test_views_are_counted_only_while_the_feature_is_on(site, clock):
    counter = site.counter(clock)
    assert site.visit("/").status_code == 200
    assert site.visit("/about/").status_code == 200
    assert site.visit("/", host="studio.localhost").status_code == 200  # studio: analytics off
    assert counter.flush() == 2
    assert views(site) == 2 and views(site, "studio") == 0
    conn = site.db("studio")
    assert all(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] == 0
               for t in ("analytics_days", "analytics_pages", "analytics_visitors"))
    conn.close()

    site.tenants.registry.update("studio", features=parse_features("cms,analytics"))
    site.tenants.registry.update("bakery", features=parse_features("cms,ecommerce"))
    site.visit("/", host="studio.localhost")
    site.visit("/")
    counter.flush()
    assert views(site, "studio") == 1 and views(site) == 2


def test_a_view_keeps_the_page_the_referring_host_device_browser_and_country(site, clock):
    counter = site.counter(clock)
    site.visit("/about/?utm_source=newsletter&email=someone@example.com",
               Referer="https://news.example.org/story/42?user=someone", CF_IPCountry="de")
    site.visit("/", User_Agent=IPHONE, Referer="http://bakery.localhost:8000/about/")  # the site itself
    site.visit("/", visitor="203.0.113.9", CF_IPCountry="XX")  # a proxy's "unknown"
    counter.flush()
    got = report(site)
    assert got["pages"] == [{"path": "/", "views": 2, "visitors": 2}, {"path": "/about/", "views": 1, "visitors": 1}]
    assert got["referrers"] == [{"host": "news.example.org", "views": 1}]
    assert got["devices"] == [{"device": "desktop", "views": 2}, {"device": "mobile", "views": 1}]
    assert got["browsers"] == [{"browser": "Firefox", "views": 2}, {"browser": "Safari", "views": 1}]
    assert got["countries"] == [{"country": "DE", "views": 1}]
    stored = b"".join(p.read_bytes() for p in (site.settings.data_dir / "tenants" / "bakery").glob("tenant.db*"))
    for never in (b"utm_source", b"someone", b"/story/42", b"203.0.113."):
        assert never not in stored


NOT_COUNTED = {
    "Googlebot": {"User_Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
    "GPTBot": {"User_Agent": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
                             "+https://openai.com/gptbot)"},
    "headless Chrome": {"User_Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                                      "HeadlessChrome/126.0.0.0 Safari/537.36"},
    "curl with a browser's Accept": {"User_Agent": "curl/8.5.0"},
    "an empty User-Agent": {"User_Agent": ""},
    "an HTTP library": {"User_Agent": None},  # httpx then sends its own
    "no Accept-Language": {"Accept_Language": None},
    "Accept without HTML": {"Accept": "*/*"},
    "prefetch (Sec-Purpose)": {"Sec_Purpose": "prefetch"},
    "prerender (Sec-Purpose)": {"Sec_Purpose": "prefetch;prerender"},
    "prefetch (Purpose)": {"Purpose": "prefetch"},
    "the operator's own address": {"visitor": "198.51.100.20"},
    "HEAD": {"method": "HEAD"},
    "a 404": {"path": "/no-such-page/"},
    "a redirect": {"path": "/about"},
    "the admin's host": {"host": "admin.localhost", "path": "/login"},
}


@pytest.mark.parametrize("case", NOT_COUNTED, ids=list(NOT_COUNTED))
def test_what_is_not_a_persons_page_view(site, clock, case):
    counter = site.counter(clock)
    options = dict(NOT_COUNTED[case])
    path = options.pop("path", "/")
    site.visit(path, **options)
    site.visit("/")  # one real view in the same batch
    counter.flush()
    assert views(site) == 1


def test_an_asset_and_its_revalidation_are_not_views_but_a_page_opened_again_is(site, clock):
    counter = site.counter(clock)
    first = site.visit("/")
    stylesheet = re.search(r'rel="stylesheet" href="([^"]+)"', first.text).group(1)
    assert site.visit("/", If_None_Match=first.headers["etag"]).status_code == 304  # the page again: a view
    asset = site.visit(stylesheet, Accept="text/css,*/*;q=0.1")
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/css")
    assert site.visit(stylesheet, If_None_Match=asset.headers["etag"]).status_code == 304
    assert site.visit(stylesheet).status_code == 200  # even asked for like a page: not HTML, not a view
    counter.flush()
    assert views(site) == 2 and report(site)["pages"] == [{"path": "/", "views": 2, "visitors": 1}]


def test_a_visitor_counts_once_a_day_and_anew_the_next_day(site, clock):
    counter = site.counter(clock)
    for path in ("/", "/about/", "/"):
        site.visit(path)  # one person, three views
    site.visit("/", User_Agent=IPHONE)  # the same address, another browser: another visitor
    site.visit("/", visitor="203.0.113.77")  # another address
    counter.flush()
    site.visit("/about/")  # the first person again, in a later batch of the same day
    counter.flush()
    day1 = report(site)
    assert day1["days"] == [{"day": "2026-03-02", "views": 6, "visitors": 3}]
    assert day1["pages"] == [{"path": "/", "views": 4, "visitors": 3}, {"path": "/about/", "views": 2, "visitors": 1}]
    conn = site.db()
    day1_hashes = {bytes(r[0]) for r in conn.execute("SELECT visitor FROM analytics_visitors WHERE path = ''")}
    assert len(day1_hashes) == 3

    clock.set("2026-03-03T00:00:05")
    site.visit("/")  # the first person the next day: a new visitor of that day, not a returning one
    counter.flush()
    both = report(site, since=DAY, until=date(2026, 3, 3))
    assert both["days"] == [{"day": "2026-03-02", "views": 6, "visitors": 3},
                            {"day": "2026-03-03", "views": 1, "visitors": 1}]
    rows = conn.execute("SELECT day, visitor FROM analytics_visitors WHERE path = ''").fetchall()
    conn.close()
    assert [r["day"] for r in rows] == ["2026-03-03"]  # the past day's hashes are gone
    assert bytes(rows[0]["visitor"]) not in day1_hashes  # and today's cannot be joined to them


def test_past_days_are_forgotten_at_sites_nobody_visits_today(site, clock):
    counter = site.counter(clock)
    site.tenants.registry.update("studio", features=parse_features("cms,analytics"))
    site.visit("/", host="studio.localhost")
    counter.flush()
    clock.set("2026-03-03T08:00:00")
    site.visit("/")  # only the bakery is visited today
    counter.flush()
    conn = site.db("studio")
    assert conn.execute("SELECT COUNT(*) FROM analytics_visitors").fetchone()[0] == 0
    assert conn.execute("SELECT visitors FROM analytics_days").fetchone()[0] == 1
    conn.close()


def test_the_salt_is_never_written_anywhere(site, clock):
    counter = site.counter(clock)
    for n in range(5):
        site.visit("/", visitor=f"203.0.113.{n}")
    salt = counter._salt
    counter.flush()
    clock.set("2026-03-03T09:00:00")
    site.visit("/")
    assert counter._salt != salt  # a new day, a new salt; the old one is gone from memory too
    second = counter._salt
    counter.close()
    for path in site.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (salt, second):
                assert secret not in data and secret.hex().encode() not in data, path


def test_a_batch_is_written_after_n_views(site, clock):
    counter = site.counter(clock, flush_views=5)
    for _ in range(4):
        site.visit("/")
    assert counter.flushes == 0 and views(site) == 0  # nothing written on a request
    site.visit("/")
    assert counter.wait_flushed(0)
    assert views(site) == 5


def test_a_batch_is_written_after_the_interval(site, clock):
    counter = site.counter(clock, flush_seconds=0.2)
    site.visit("/")
    assert counter.wait_flushed(0)
    assert views(site) == 1


def test_shutdown_writes_what_is_buffered(site, clock):
    counter = site.counter(clock)
    site.visit("/")
    site.visit("/about/")
    counter.close()
    assert views(site) == 2


def test_a_full_buffer_drops_views_instead_of_growing(site, clock):
    counter = site.counter(clock, max_buffer=3)
    for _ in range(5):
        site.visit("/")
    assert counter.dropped == 2
    counter.flush()
    assert views(site) == 3
