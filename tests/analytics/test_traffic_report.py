"""The traffic report by API and CLI: the same numbers as the rollups, for the roles that may read them."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import httpx
import pytest
from click.testing import CliRunner

from publish.analytics import traffic
from tessera.cli import main
from tests.analytics.conftest import IPHONE, Clock
from tests.api.conftest import PASSWORD, ROLES

TODAY = datetime.now(timezone.utc).date()


def token(site, slug: str, role: str) -> str:
    response = httpx.post(site.base + "/api/auth/login", headers={"Host": f"{slug}.localhost"},
                          json={"email": f"{role}@{slug}.test", "password": PASSWORD}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def api(site, query: str, *, slug: str = "bakery", role: str | None = "owner", bearer: str | None = None):
    headers = {"Host": f"{slug}.localhost"}
    if role or bearer:
        headers["Authorization"] = f"Bearer {bearer or token(site, slug, role)}"
    return httpx.get(site.base + "/api/admin/reports/traffic" + query, headers=headers, timeout=10)


@pytest.fixture(name="traffic_today")
def fx_traffic_today(site):
    """A few views today (the real clock): two people, three pages, a referrer and a country."""
    counter = site.counter(Clock(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")))
    site.visit("/", Referer="https://www.google.com/", CF_IPCountry="FR")
    site.visit("/about/")
    site.visit("/", User_Agent=IPHONE, visitor="203.0.113.80")
    site.visit("/products/", User_Agent=IPHONE, visitor="203.0.113.80", Referer="https://news.example.org/x")
    counter.flush()
    conn = site.db()
    try:
        return traffic(conn, date(TODAY.year - 1, TODAY.month, 1), TODAY)
    finally:
        conn.close()


def test_the_api_answers_what_the_rollups_hold(site, traffic_today):
    response = api(site, f"?from={traffic_today['from']}&to={traffic_today['to']}")
    assert response.status_code == 200, response.text
    assert response.json() == traffic_today
    assert traffic_today["totals"] == {"views": 4, "visitors": 2}
    default = api(site, "").json()  # the last 30 days, today included
    assert default["to"] == TODAY.isoformat() and len(default["days"]) == 30
    assert default["totals"] == traffic_today["totals"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_read_traffic(site, role):
    assert api(site, "", role=role).status_code == 200


def test_no_report_without_the_feature_a_login_or_the_right_site(site):
    off = api(site, "", slug="studio")
    assert off.status_code == 403 and off.json()["error"]["code"] == "feature_disabled"
    assert api(site, "", role=None).status_code == 401
    foreign = api(site, "", bearer=token(site, "studio", "owner"))
    assert foreign.status_code in (401, 403)


@pytest.mark.parametrize("query,field", [
    ("?from=2026-13-01", "from"), ("?to=yesterday", "to"), ("?from=2026-03-02&to=2026-03-01", "from"),
    ("?from=2020-01-01&to=2026-01-01", "from"), ("?from=20260301", "from"),
])
def test_a_bad_range_is_a_400_naming_the_field(site, query, field):
    response = api(site, query)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


def test_the_report_route_is_documented(site):
    spec = httpx.get(site.base + "/api/docs/openapi.json", timeout=10).json()
    route = spec["paths"]["/api/admin/reports/traffic"]["get"]
    assert {p["name"] for p in route["parameters"]} >= {"from", "to", "limit"}
    assert {"200", "400", "401", "403", "404"} <= set(route["responses"])


def cli(site, *args: str):
    runner = CliRunner(env={"TESSERA_DATA_DIR": str(site.settings.data_dir)})
    return runner.invoke(main, ["report", *args], catch_exceptions=False)


def test_the_cli_prints_what_the_rollups_hold(site, traffic_today):
    span = ["--from", traffic_today["from"], "--to", traffic_today["to"]]
    result = cli(site, "bakery", *span, "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    for key, name in (("days", "day"), ("pages", "path"), ("referrers", "host"), ("devices", "device"),
                      ("browsers", "browser"), ("countries", "country")):
        expected = [[row[name], str(row["views"]), str(row.get("visitors", ""))] for row in traffic_today[key]]
        assert [[r["key"], r["views"], r["visitors"]] for r in rows if r["table"] == key] == expected, key
    table = cli(site, "bakery", *span)
    assert table.exit_code == 0
    assert "4 views, 2 visitors" in table.output and "Top pages" in table.output and "news.example.org" in table.output


def test_the_cli_refuses_a_site_without_analytics_and_a_bad_date(site):
    off = cli(site, "studio")
    assert off.exit_code == 1 and "analytics feature is off" in off.output
    bad = cli(site, "bakery", "--from", "March")
    assert bad.exit_code == 1 and "from must be a date" in bad.output and "Traceback" not in bad.output
