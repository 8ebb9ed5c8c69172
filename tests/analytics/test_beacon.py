"""Sites behind a CDN: site.yaml's ``analytics: {beacon: true}`` makes the pages load a tiny beacon
script, ``POST /api/analytics/view`` counts its views through the edge's counter with the same
exclusions, the edge counts none of that site's pages, and a site without the flag is refused."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timezone

import httpx
import pytest

from content.errors import ContentErrors
from content.parse import parse_site
from content.registry import parse_features
from content.source import DirSource
from content.tenants import PLATFORM_AUTHOR
from publish.analytics import traffic
from tessera.settings import ROOT
from tessera.sites import publish_tenant
from tests.analytics.conftest import BROWSER, Clock

TODAY = datetime.now(timezone.utc).date()
BEACON = "analytics:\n  beacon: true\n"


@pytest.fixture(name="cdn", scope="module")
def fx_cdn(served):
    """``lumen``: the studio starter (no shop) with analytics on and the beacon flag, published."""
    tenants = served.tenants
    if tenants.registry.find("lumen") is None:
        tenants.create("lumen", "Lumen", parse_features("cms,analytics"), starter="studio")
        repo = tenants.repository("lumen")
        repo.write({"site.yaml": repo.read("site.yaml") + b"\n" + BEACON.encode()}, PLATFORM_AUTHOR,
                   "Behind a CDN: pages report their views")
        publish_tenant(served.settings, tenants, "lumen", actor="test")
    return served


def beacon(site, body, *, host="lumen.localhost", visitor="203.0.113.5", **headers):
    sent = {"User-Agent": BROWSER["User-Agent"], "Accept": "*/*", "Accept-Language": "en-GB,en;q=0.5",
            "Content-Type": "text/plain;charset=UTF-8", "Host": host, "X-Forwarded-For": visitor,
            "Origin": f"http://{host}"}
    for name, value in headers.items():
        name = name.replace("_", "-")
        if value is None:
            sent.pop(name, None)
        else:
            sent[name] = value
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(site.base + "/api/analytics/view", content=content, headers=sent, timeout=10)


def counted(site, slug="lumen"):
    conn = site.db(slug)
    try:
        return traffic(conn, date(TODAY.year - 1, 1, 1), TODAY)
    finally:
        conn.close()


def clear(site):
    site.clear()
    conn = site.db("lumen")
    with conn:
        for table in ("analytics_days", "analytics_pages", "analytics_referrers", "analytics_devices",
                      "analytics_countries", "analytics_visitors"):
            conn.execute(f"DELETE FROM {table}")
    conn.close()


def now_clock() -> Clock:
    return Clock(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))


def test_pages_load_the_beacon_script_which_the_csp_allows_and_the_404_page_does_not(cdn):
    page = cdn.visit("/about/", host="lumen.localhost")
    assert page.status_code == 200
    script = next(part.split('"')[0] for part in page.text.split('<script defer src="')[1:]
                  if part.startswith("/assets/beacon."))
    assert script in page.headers["content-security-policy"]
    asset = httpx.get(cdn.base + script, headers={"Host": "lumen.localhost"}, timeout=10)
    assert asset.status_code == 200 and b"/api/analytics/view" in asset.content
    missing = cdn.visit("/no-such-page/", host="lumen.localhost")
    assert missing.status_code == 404 and "/assets/beacon." not in missing.text
    assert "/assets/beacon." not in cdn.visit("/about/").text  # bakery: counted at the edge, no beacon


def test_a_beacon_counts_once_and_the_edge_counts_none_of_that_sites_pages(cdn):
    clear(cdn)
    counter = cdn.counter(now_clock())
    assert cdn.visit("/about/", host="lumen.localhost").status_code == 200  # the page itself: not counted
    sent = beacon(cdn, {"path": "/about/", "referrer": "https://news.example.org/story?id=4"})
    assert sent.status_code == 204, sent.text
    assert cdn.visit("/about/").status_code == 200  # bakery's own page, counted at the edge as before
    counter.flush()
    lumen = counted(cdn)
    assert lumen["totals"] == {"views": 1, "visitors": 1}
    assert lumen["pages"] == [{"path": "/about/", "views": 1, "visitors": 1}]
    assert lumen["referrers"] == [{"host": "news.example.org", "views": 1}]
    assert counted(cdn, "bakery")["totals"]["views"] == 1


@pytest.mark.parametrize("headers", [
    {"User_Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
    {"User_Agent": "curl/8.5.0"},
    {"User_Agent": None},
    {"Accept_Language": None},
    {"Sec_Purpose": "prefetch"},
    {"visitor": "198.51.100.7"},  # the operator's own network (TESSERA_ANALYTICS_IGNORE)
], ids=["crawler", "script", "no-agent", "no-languages", "prefetch", "operator"])
def test_beacons_from_bots_scripts_prefetches_and_the_operator_are_not_counted(cdn, headers):
    clear(cdn)
    counter = cdn.counter(now_clock())
    response = beacon(cdn, {"path": "/about/", "referrer": ""}, **headers)
    assert response.status_code == 204, response.text
    counter.flush()
    assert counted(cdn)["totals"]["views"] == 0


def test_a_beacon_for_a_site_without_the_flag_or_the_feature_is_refused_and_not_counted(cdn):
    clear(cdn)
    counter = cdn.counter(now_clock())
    edge_counted = beacon(cdn, {"path": "/about/"}, host="bakery.localhost")
    assert edge_counted.status_code == 403 and edge_counted.json()["error"]["code"] == "beacon_off"
    off = beacon(cdn, {"path": "/about/"}, host="studio.localhost")
    assert off.status_code == 403 and off.json()["error"]["code"] == "feature_disabled"
    counter.flush()
    assert counted(cdn, "bakery")["totals"]["views"] == 0 and counted(cdn, "studio")["totals"]["views"] == 0


@pytest.mark.parametrize("body,status,field", [
    ("not json", 400, "body"), ("[1]", 400, "body"), ({"referrer": ""}, 400, "path"),
    ({"path": "about"}, 400, "path"), ({"path": "//evil.example/"}, 400, "path"),
    ({"path": "/a/?q=1"}, 400, "path"), ({"path": "/", "referrer": 5}, 400, "referrer"),
    ({"path": "/" + "a" * 5000}, 413, "body"),
])
def test_a_malformed_beacon_is_a_4xx_naming_the_field(cdn, body, status, field):
    response = beacon(cdn, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("block,line,message", [
    ("analytics:\n  beacon: yes please\n", 2, "beacon: must be true or false"),
    ("analytics:\n  bacon: true\n", 2, "bacon: unknown field (expected one of: beacon)"),
    ("analytics: true\n", 1, "analytics: must be a mapping of fields (key: value)"),
])
def test_the_beacon_flag_is_checked_with_file_and_line(tmp_path, block, line, message):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "sites" / "studio", site)
    before = (site / "site.yaml").read_text()
    (site / "site.yaml").write_text(before + block)
    with pytest.raises(ContentErrors) as caught:
        parse_site(DirSource(site))
    assert [str(e) for e in caught.value.errors] == [f"site.yaml:{len(before.splitlines()) + line}: {message}"]


def test_the_flag_reaches_the_built_site(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "sites" / "studio", site)
    parsed = parse_site(DirSource(site))
    assert parsed.site.analytics_beacon is False
    (site / "site.yaml").write_text((site / "site.yaml").read_text() + BEACON)
    assert parse_site(DirSource(site)).site.analytics_beacon is True
