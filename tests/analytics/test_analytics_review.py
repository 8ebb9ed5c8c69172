"""Review 16: failing tests for defects found in analytics and reports (see the review's report).

Each test states what should happen; today each one fails."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from click.testing import CliRunner

from content.migrations import connect
from content.registry import parse_features
from content.schema import TENANT
from content.tenants import PLATFORM_AUTHOR
from publish.analytics import AnalyticsConfig, Counter, traffic
from tessera.cli import main
from tessera.sites import publish_tenant
from tests.analytics.conftest import FIREFOX, Clock
from tests.analytics.test_beacon import BEACON, beacon, clear, counted, fx_cdn, now_clock  # noqa: F401
from tests.analytics.test_traffic_report import cli, token

TODAY = datetime.now(timezone.utc).date()


def today_report(site, slug: str = "bakery") -> dict:
    conn = site.db(slug)
    try:
        return traffic(conn, date(TODAY.year - 1, 1, 1), TODAY, limit=1000)
    finally:
        conn.close()


# -- counting --------------------------------------------------------------------------------------


def test_a_page_reached_by_a_non_canonical_path_counts_under_its_own_path(site):
    """The edge serves /about/ for //about/, /x/%2e%2e/about/ and /about/%2e/ (normpath), but counts each
    spelling as a page of its own: anyone can add any number of rows (and any text) to Top pages."""
    counter = site.counter(now_clock())
    for spelling in ("/about/", "//about/", "/x1/%2e%2e/about/", "/about/%2e/", "/%3Cb%3E/%2e%2e/about/"):
        assert site.visit(spelling).status_code == 200, spelling
    counter.flush()
    assert today_report(site)["pages"] == [{"path": "/about/", "views": 5, "visitors": 1}]


def test_a_304_revalidation_of_a_page_is_a_view(site):
    """Pages are served with an ETag and must be revalidated, so a person opening a page again (a link
    back, a reload, tomorrow's visit) gets a 304: that is a page view, only assets' 304s are not."""
    counter = site.counter(now_clock())
    first = site.visit("/about/")
    assert first.status_code == 200
    again = site.visit("/about/", If_None_Match=first.headers["etag"], visitor="203.0.113.77")
    assert again.status_code == 304
    counter.flush()
    assert today_report(site)["totals"] == {"views": 2, "visitors": 2}


def test_a_beacon_for_a_path_the_site_does_not_have_is_not_counted(cdn):
    """A forged beacon may name any path: each one becomes a row in analytics_pages for good."""
    clear(cdn)
    counter = cdn.counter(now_clock())
    for n in range(3):
        assert beacon(cdn, {"path": f"/no-such-page-{n}/", "referrer": ""}).status_code in (204, 400, 404)
    counter.flush()
    assert counted(cdn)["pages"] == []


def test_a_cross_site_beacon_is_not_counted(cdn):
    """sendBeacon with a text/plain body needs no preflight: any other site can make its visitors'
    browsers report views (real User-Agents, addresses and languages) of this site."""
    clear(cdn)
    counter = cdn.counter(now_clock())
    response = beacon(cdn, {"path": "/about/", "referrer": ""}, Origin="https://evil.example",
                      Sec_Fetch_Site="cross-site", Sec_Fetch_Mode="no-cors")
    assert response.status_code in (204, 403)
    counter.flush()
    assert counted(cdn)["totals"]["views"] == 0


def test_distinct_referrers_of_one_day_are_capped(site):
    """Nothing bounds the distinct referrers (or paths) of a day: a flood of made-up Referer hosts adds a
    row each to analytics_referrers, forever."""
    counter = site.counter(now_clock())
    with httpx.Client(base_url=site.base, timeout=10) as client:
        for n in range(300):
            client.get("/about/", headers={"Host": "bakery.localhost", "User-Agent": FIREFOX, "Accept": "text/html",
                                           "Accept-Language": "en", "X-Forwarded-For": "203.0.113.5",
                                           "Referer": f"https://spam-{n}.example/"})
    counter.flush()
    conn = site.db()
    try:
        rows = conn.execute("SELECT COUNT(*) FROM analytics_referrers").fetchone()[0]
    finally:
        conn.close()
    assert rows <= 100


def test_a_site_with_the_feature_off_does_not_load_the_beacon_script(served):
    """site.yaml's beacon flag alone decides the build: with the analytics feature off, every page still
    loads beacon.js and posts its path and referrer to the API (answered 403 feature_disabled)."""
    tenants = served.tenants
    if tenants.registry.find("lumenoff") is None:
        tenants.create("lumenoff", "Lumen off", parse_features("cms"), starter="studio")
        repo = tenants.repository("lumenoff")
        repo.write({"site.yaml": repo.read("site.yaml") + b"\n" + BEACON.encode()}, PLATFORM_AUTHOR, "Beacon flag")
        publish_tenant(served.settings, tenants, "lumenoff", actor="test")
    page = served.visit("/about/", host="lumenoff.localhost")
    assert page.status_code == 200
    assert "/assets/beacon." not in page.text


# -- reports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path,query", [
    ("traffic", "?to=0001-01-01"),
    ("sales", "?to=0001-01-01"),
    ("sales", "?to=9999-12-31"),
    ("sales", "?from=9999-12-30&to=9999-12-31"),
])
def test_extreme_dates_are_a_400_not_a_500(site, path, query):
    bearer = token(site, "bakery", "owner")
    response = httpx.get(site.base + f"/api/admin/reports/{path}{query}",
                         headers={"Host": "bakery.localhost", "Authorization": f"Bearer {bearer}"}, timeout=10)
    assert response.status_code == 400, response.text


def test_the_cli_refuses_an_extreme_date_without_a_traceback(site):
    runner = CliRunner(env={"TESSERA_DATA_DIR": str(site.settings.data_dir)})
    result = runner.invoke(main, ["report", "bakery", "--to", "0001-01-01"])
    assert not isinstance(result.exception, OverflowError), repr(result.exception)
    assert result.exit_code == 1 and "to" in result.output


def test_the_cli_csv_neutralises_formula_cells(site):
    """The admin's CSV downloads put a ' before = + - @; ``tessera report --csv`` writes them as they are."""
    counter = site.counter(now_clock())
    site.visit("/about/", Referer="http://+cmd|calc!a0/")
    site.visit("/about/", Referer='http://=HYPERLINK("http:%2F%2Fevil.example","x")/')
    counter.flush()
    result = cli(site, "bakery", "--from", TODAY.isoformat(), "--to", TODAY.isoformat(), "--csv")
    assert result.exit_code == 0, result.output
    keys = [row["key"] for row in csv.DictReader(io.StringIO(result.output)) if row["table"] == "referrers"]
    assert keys and all(key[:1] not in "=+-@" for key in keys), keys


# -- the counter at scale -----------------------------------------------------------------------------


def test_the_counter_does_not_keep_a_connection_open_per_tenant_forever(tmp_path: Path):
    """The flusher caches one SQLite connection (two or three file descriptors) per tenant ever seen and never
    closes one: an installation with thousands of counting sites runs out of descriptors. The API's pool keeps
    at most 64 idle connections."""
    root = tmp_path / "tenants"
    slugs = [f"site{n:03d}" for n in range(80)]
    for slug in slugs:
        (root / slug).mkdir(parents=True)
        connect(root / slug / "tenant.db", TENANT).close()
    counter = Counter(AnalyticsConfig(flush_views=10**6, flush_seconds=3600), root,
                      clock=Clock(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")))
    headers = {"user-agent": FIREFOX, "accept": "text/html", "accept-language": "en"}
    for n, slug in enumerate(slugs):
        tenant = SimpleNamespace(slug=slug, has=lambda feature: True)
        assert counter.offer(tenant, {"method": "GET", "path": "/", "client": (f"203.0.113.{n}", 1)},
                             f"{slug}.localhost", headers, 200, "text/html; charset=utf-8")
    try:
        assert counter.flush() == len(slugs)
        assert len(counter._conns) <= 64
    finally:
        counter.close()
