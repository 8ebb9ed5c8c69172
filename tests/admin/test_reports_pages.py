"""Reports → Traffic and the Reports menu over real HTTP against the demo installation: views are
stored into the bakery's rollups (as the edge's flush does), the analytics feature is turned on on
the operators' page, and the page, its CSVs, the API and the operators' totals agree."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta, timezone

import pytest

from content.gitrepo import Repository
from content.migrations import connect
from publish.analytics import traffic
from publish.analytics.rollups import View, store
from tests.admin.conftest import Admin
from tests.admin.test_access import menu

TODAY = datetime.now(timezone.utc).date()
DAY = [(TODAY - timedelta(days=n)).isoformat() for n in range(100)]  # DAY[0] is today
FORMULA = "=HYPERLINK(\"http://evil.test\",\"x\")"


def _db(site, slug: str):
    return connect(site["data"] / "tenants" / slug / "tenant.db")


def _views() -> list[View]:
    def view(day, path, visitor, referrer=None, device="desktop", browser="Firefox", country=None):
        return View(DAY[day], path, referrer, device, browser, country, bytes([visitor]) * 16)

    return [view(0, "/", 1, "news.example.org", country="DE"), view(0, "/", 2, device="mobile", browser="Safari"),
            view(0, "/products/croissants/", 1), view(0, "/products/croissants/", 1),
            view(3, "/about/", 3, "news.example.org", country="GB"), view(3, "/products/dark-rye/", 3),
            view(3, "/<script>alert(1)</script>/", 4, FORMULA),
            view(45, "/", 5)]  # in the 90 days, not the 30


def _features(site, slug: str, features: list[str]) -> Admin:
    """Set a site's features as an operator does, on the tenants page."""
    operator = Admin(site, "bakery", "admin@tessera.test")
    saved = operator.post("/tenants/update", {"slug": slug, "plan": _plan(site, slug), "features": features})
    assert saved.status_code == 303, saved.text
    return operator


@pytest.fixture(name="counting", scope="module")
def fx_counting(site):
    """The operator turns analytics on for both demo sites; the bakery has views, the studio none."""
    for slug in ("bakery", "studio"):
        operator = _features(site, slug, ["cms", "ecommerce", "analytics"])
    conn = _db(site, "bakery")
    try:
        store(conn, _views(), today=DAY[0])
    finally:
        conn.close()
    yield operator


def _plan(site, slug: str) -> str:
    from content.registry import Registry

    registry = Registry(site["data"] / "platform.db")
    try:
        return registry.get(slug).plan
    finally:
        registry.close()


def _report(site, since, until, limit=20):
    conn = _db(site, "bakery")
    try:
        return traffic(conn, since, until, limit=limit)
    finally:
        conn.close()


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def _reports_link(response) -> str:
    nav = re.search(r'<nav aria-label="Admin">(.*?)</nav>', response.text, re.S).group(1)
    return re.search(r'<a href="([^"]+)"[^>]*>Reports</a>', nav).group(1)


def test_without_analytics_reports_open_on_what_the_role_may_see(admin, site):
    _features(site, "bakery", ["cms", "ecommerce"])
    owner, editor = admin("bakery", "owner@bakery.test"), admin("bakery", "editor@agency.test")
    assert _reports_link(owner.get("/")) == "/sites/bakery/reports/sales"
    assert "Traffic" not in re.search(r'<nav aria-label="Reports".*?</nav>', owner.get("/reports/tax").text, re.S).group(0)
    assert "Reports" not in menu(editor.get("/"))  # an editor reads traffic only, and this site counts none
    refused = owner.get("/reports/traffic")
    assert refused.status_code == 403 and "analytics" in refused.text
    assert editor.get("/reports").status_code == 403


def test_with_analytics_the_reports_entry_opens_traffic_for_everyone_who_may_read_it(counting, admin):
    owner, editor = admin("bakery", "owner@bakery.test"), admin("bakery", "editor@agency.test")
    for person in (owner, editor):
        assert "Reports" in menu(person.get("/"))
        assert _reports_link(person.get("/")) == "/sites/bakery/reports/traffic"
        moved = person.http.get("/reports")
        assert moved.status_code == 303 and moved.headers["location"] == "/sites/bakery/reports/traffic"
    sub = re.search(r'<nav aria-label="Reports".*?</nav>', owner.get("/reports/traffic").text, re.S).group(0)
    assert re.findall(r">([^<]+)</a>", sub)[0] == "Traffic" and "Tax" in sub
    editor_sub = re.search(r'<nav aria-label="Reports".*?</nav>', editor.get("/reports/traffic").text, re.S).group(0)
    assert re.findall(r">([^<]+)</a>", editor_sub) == ["Traffic"]  # no shop reports for an editor
    assert editor.get("/reports/tax").status_code == 403


@pytest.mark.parametrize("query, days", [("", 30), ("?days=7", 7), ("?days=90", 90),
                                         (f"?from={DAY[9]}&to={DAY[3]}", 7)])
def test_the_page_shows_the_range_asked_for_with_the_numbers_of_traffic(counting, admin, site, query, days):
    page = admin().get("/reports/traffic" + query)
    assert page.status_code == 200, page.text
    body = page.text
    rows = re.findall(r"<tr><th scope=\"row\">(\d+ \w+)</th><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>",
                      body)
    assert len(rows) == days  # every day of the range, zeros included
    since = TODAY - timedelta(days=days - 1) if "from" not in query else TODAY - timedelta(days=9)
    until = TODAY if "from" not in query else TODAY - timedelta(days=3)
    report = _report(site, since, until)
    assert [(int(v), int(u)) for _, v, u in rows] == [(d["views"], d["visitors"]) for d in report["days"]]
    assert f"{report['totals']['views']} views by {report['totals']['visitors']} visitors" in body
    assert 'role="img"' in body and "<title id=\"traffic-chart-t\">" in body
    assert f'value="{since.isoformat()}"' in body and f'value="{until.isoformat()}"' in body  # the form shows it


def test_top_pages_products_referrers_devices_and_countries(counting, admin):
    body = admin().get("/reports/traffic?days=7").text
    assert re.search(r'<th scope="row">/</th><td class="num">2</td><td class="num">2</td>', body)
    # The products' pages, by the catalog's name: 2 views of the croissants' page by one visitor.
    assert re.search(r'<h2 id="products-h">Products viewed</h2>.*?<th scope="row">[^<]*Croissant[^<]*</th>'
                     r'<td class="num">2</td><td class="num">1</td>', body, re.S)
    assert re.search(r'<th scope="row">news.example.org</th><td class="num">2</td>', body)
    assert re.search(r'<th scope="row">Germany \(DE\)</th><td class="num">1</td>', body)
    assert re.search(r'<th scope="row">mobile</th><td class="num">1</td>', body)
    assert "<script>alert(1)</script>" not in body and html.escape("/<script>alert(1)</script>/") in body


def test_the_days_a_deploy_went_live_are_marked_and_listed_with_their_commit(counting, admin, site):
    conn = _db(site, "bakery")
    try:
        live = conn.execute("SELECT commit_sha, finished_at FROM deploys WHERE status IN ('live', 'superseded') "
                            "ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    subject = Repository(site["data"] / "tenants" / "bakery" / "repo.git").history(limit=200)
    message = next(c.message for c in subject if c.sha == live["commit_sha"])
    day = datetime.fromisoformat(live["finished_at"]).date()
    body = admin().get("/reports/traffic?days=90").text
    words = f"{day:%-d %b} — published {live['commit_sha'][:7]}: {message}"
    assert html.escape(words, quote=False) in body  # listed under the chart, and in the day's row
    assert 'stroke-dasharray="4 3"' in body  # and drawn on the chart
    rows = _csv(admin().get("/reports/traffic.csv?table=deploys&days=90"))
    assert rows[0] == ["day", "finished_at", "deploy", "commit", "message", "rollback_of"]
    assert [day.isoformat(), live["finished_at"]] == rows[-1][:2] and rows[-1][3] == live["commit_sha"]


@pytest.mark.parametrize("table, header, key", [
    ("pages", ["path", "views", "visitors"], "pages"), ("referrers", ["referrer", "views"], "referrers"),
    ("devices", ["device", "views"], "devices"), ("browsers", ["browser", "views"], "browsers"),
    ("countries", ["country", "views"], "countries"), ("days", ["day", "views", "visitors", "deploy"], "days")])
def test_every_table_downloads_as_csv_with_the_same_numbers(counting, admin, site, table, header, key):
    rows = _csv(admin().get(f"/reports/traffic.csv?table={table}&from={DAY[29]}&to={DAY[0]}"))
    assert rows[0] == header
    report = _report(site, TODAY - timedelta(days=29), TODAY, limit=1000)
    expected = [[str(v) if not (isinstance(v, str) and v.startswith("=")) else "'" + v
                 for v in list(r.values())[:len(header) if key != "days" else 3]] for r in report[key]]
    assert [r[:len(expected[0])] for r in rows[1:]] == expected


def test_a_csv_cell_that_would_be_a_formula_is_text(counting, admin, site):
    conn = _db(site, "bakery")
    try:
        with conn:
            conn.execute("UPDATE catalog_products SET name = ? WHERE url = '/products/croissants/'", ("@SUM(1+1)",))
        rows = _csv(admin().get("/reports/traffic.csv?table=products&days=7"))
        referrers = _csv(admin().get("/reports/traffic.csv?table=referrers&days=7"))
    finally:
        with conn:
            conn.execute("UPDATE catalog_products SET name = 'Butter Croissants' WHERE url = '/products/croissants/'")
        conn.close()
    assert rows[0] == ["product", "name", "views", "visitors"]
    assert ["croissants", "'@SUM(1+1)", "2", "1"] in rows
    assert ["'" + FORMULA, "1"] in referrers
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows + referrers for cell in row)


def test_a_site_that_counted_nothing_says_so_instead_of_drawing_dashes(counting, admin):
    studio = admin("studio", "owner@studio.test")
    body = studio.get("/reports/traffic").text
    assert "No visits recorded yet — views appear within a few seconds of someone opening the site" in body
    assert 'role="img"' not in body and "—</td>" not in body and "<table" not in body
    assert studio.get("/reports/traffic.csv?table=pages").text.splitlines() == ["path,views,visitors"]


@pytest.mark.parametrize("query, field", [
    ("?days=12", "days"), ("?days=abc", "days"), ("?from=2026-13-01", "from"), ("?to=yesterday", "to"),
    (f"?from={DAY[0]}&to={DAY[5]}", "from"), ("?from=2020-01-01&to=2026-01-01", "from")])
def test_a_bad_range_is_a_400_that_names_the_field(counting, admin, query, field):
    for path in ("/reports/traffic", "/reports/traffic.csv?table=pages&" + query[1:]):
        response = admin().get(path + query if "?" not in path else path)
        assert response.status_code == 400, (path, response.text)
        assert "<h1>That request was not understood</h1>" in response.text
        assert re.search(rf"\b{field}\b", html.unescape(response.text).split("<main", 1)[1])


def test_a_csv_of_an_unknown_table_is_a_400_naming_table(counting, admin):
    response = admin().get("/reports/traffic.csv?table=visitors")
    assert response.status_code == 400 and "table must be one of days, pages" in response.text


def test_operators_see_each_sites_views_and_visitors_and_the_total(counting, site):
    report = _report(site, TODAY - timedelta(days=29), TODAY)
    body = counting.get("/tenants").text
    section = re.search(r'<h2 id="traffic-h">.*?</table>', body, re.S).group(0)
    rows = {slug: (int(views), int(visitors)) for slug, views, visitors in re.findall(
        r'<span class="muted">\((\w+)\)</span></th>\s*<td class="num">(\d+)</td><td class="num">(\d+)</td>', section)}
    assert rows == {"bakery": (report["totals"]["views"], report["totals"]["visitors"]), "studio": (0, 0)}
    total = re.search(r'All sites</th><td class="num"><strong>(\d+)</strong></td><td class="num"><strong>(\d+)', section)
    assert (int(total.group(1)), int(total.group(2))) == (report["totals"]["views"], report["totals"]["visitors"])
