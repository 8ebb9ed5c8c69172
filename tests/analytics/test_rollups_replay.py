"""The rollups equal a replay of the raw views, however the views fall into batches and days."""

from __future__ import annotations

import uuid
from collections import Counter as Tally
from datetime import date, timedelta
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content.migrations import connect
from content.schema import TENANT
from publish.analytics import AnalyticsConfig, Counter, traffic
from publish.analytics.agents import browser_family, device_class
from tests.analytics.conftest import FIREFOX, IPHONE

FIRST = date(2026, 5, 1)
AGENTS = (FIREFOX, IPHONE, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                           "Chrome/126.0.0.0 Safari/537.36",
          "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")  # the last is a crawler
REFERRERS = ("", "https://www.google.com/search?q=rye", "https://news.example.org/a/b", "http://shop.localhost/x")
TENANT_ = SimpleNamespace(slug="shop", has=lambda feature: feature == "analytics")

event = st.tuples(
    st.integers(0, 2),  # day
    st.sampled_from(["/", "/about/", "/products/rye/", "/blog/index.html"]),
    st.sampled_from(["198.51.100.1", "198.51.100.2", "2001:db8::7"]),
    st.sampled_from(AGENTS),
    st.sampled_from(REFERRERS),
    st.sampled_from(["", "FR", "de", "XX"]),
    st.booleans(),  # flush after this view
)


def replay(events) -> dict:
    """What the report must say, computed straight from the raw events."""
    events = [e for e in events if "bingbot" not in e[3]]
    days = {}
    for day in range(3):
        todays = [e for e in events if e[0] == day]
        days[(FIRST + timedelta(days=day)).isoformat()] = (len(todays), len({(e[2], e[3]) for e in todays}))
    pages: Tally = Tally()
    page_visitors: dict = {}
    for e in events:
        path = e[1].removesuffix("index.html")
        pages[path] += 1
        page_visitors.setdefault(path, set()).add((e[0], e[2], e[3]))
    referrers = Tally(r.split("/")[2] for *_, r, _, _ in events if r and "shop.localhost" not in r)
    countries = Tally(c.upper() for *_, c, _ in events if c and c.upper() != "XX")
    return {
        "days": [{"day": d, "views": v, "visitors": u} for d, (v, u) in days.items()],
        "pages": sorted(({"path": p, "views": n, "visitors": len(page_visitors[p])} for p, n in pages.items()),
                        key=lambda r: (-r["views"], r["path"])),
        "referrers": sorted(({"host": h, "views": n} for h, n in referrers.items()), key=lambda r: (-r["views"], r["host"])),
        "devices": sorted(({"device": d, "views": n} for d, n in Tally(device_class(e[3]) for e in events).items()),
                          key=lambda r: (-r["views"], r["device"])),
        "browsers": sorted(({"browser": b, "views": n} for b, n in Tally(browser_family(e[3]) for e in events).items()),
                           key=lambda r: (-r["views"], r["browser"])),
        "countries": sorted(({"country": c, "views": n} for c, n in countries.items()),
                            key=lambda r: (-r["views"], r["country"])),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, max_size=60))
def test_rollups_equal_a_replay_of_the_raw_views(tmp_path, events):
    events = sorted(events, key=lambda e: e[0])  # time moves forward
    root = tmp_path / uuid.uuid4().hex / "tenants"  # a fresh database for each example
    (root / "shop").mkdir(parents=True)
    db = root / "shop" / "tenant.db"
    connect(db, TENANT).close()
    now = [0.0]
    counter = Counter(AnalyticsConfig(flush_views=10**6, flush_seconds=3600, country_header="cf-ipcountry"),
                      root, clock=lambda: now[0])
    try:
        for day, path, address, agent, referrer, country, flush in events:
            now[0] = (FIRST - date(1970, 1, 1) + timedelta(days=day, hours=12)).total_seconds()
            headers = {"user-agent": agent, "accept": "text/html", "accept-language": "fr", "referer": referrer,
                       "cf-ipcountry": country}
            assert counter.offer(TENANT_, {"method": "GET", "path": path, "client": (address, 1)}, "shop.localhost",
                                 headers, 200, "text/html; charset=utf-8")
            if flush:
                counter.flush()
    finally:
        counter.close()
    conn = connect(db, TENANT)
    try:
        got = traffic(conn, FIRST, FIRST + timedelta(days=2), limit=100)
    finally:
        conn.close()
    expected = replay(events)
    assert {k: got[k] for k in expected} == expected
    assert got["totals"] == {"views": sum(d["views"] for d in expected["days"]),
                             "visitors": sum(d["visitors"] for d in expected["days"])}
