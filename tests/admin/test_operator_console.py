"""The operator's console and platform health, on the demo over real HTTP with four tenants: the
table's numbers equal counts in each tenant's databases and repository, it sorts, filters and pages
with plain links, its CSV is the same table (formula-safe), only superadmins open any of it, and a
failed job's Retry puts it back in the queue with an audit entry."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from commerce_api.tenancy import TenantDatabases
from content import plans
from content.registry import Registry
from tests.admin.conftest import alert

OPERATOR = "admin@tessera.test"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
MONTH_START = NOW.replace(day=1, hour=0, minute=0, second=0)
ROW = re.compile(r'<tr data-slug="([a-z0-9-]+)">(.*?)</tr>', re.S)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _order(conn, number: int, *, at: datetime, total: int, currency: str = "EUR", payment: str = "paid",
           status: str = "confirmed") -> None:
    conn.execute(
        "INSERT INTO orders (number, token_hash, email, status, payment_status, provider, currency, subtotal, "
        "shipping, tax, tax_inclusive, total, shipping_method, shipping_address, billing_address, catalog_version, "
        "created_at, updated_at, expires_at) VALUES (?, ?, 'buyer@example.test', ?, ?, 'manual', ?, ?, 0, 0, 1, ?, "
        "'standard', '{}', '{}', 'v1', ?, ?, ?)",
        (number, f"hash-{number}", status, payment, currency, total, total, _iso(at), _iso(at), _iso(at)))


def _failed_delivery(conn, n: int, *, at: datetime) -> None:
    event = conn.execute("INSERT INTO events (kind, data, created_at, expanded_at) VALUES ('order.paid', '{}', ?, ?)",
                         (_iso(at), _iso(at))).lastrowid
    delivery = conn.execute(
        "INSERT INTO deliveries (event_id, channel, recipient, status, attempts, next_attempt_at, last_error, "
        "created_at) VALUES (?, 'webhook', ?, 'failed', 5, ?, 'HTTP 500', ?)",
        (event, f"https://hooks.example.test/{n}", _iso(at), _iso(at - timedelta(days=3)))).lastrowid
    conn.execute("INSERT INTO delivery_attempts (delivery_id, at, ok, status_code, duration_ms, error) "
                 "VALUES (?, ?, 0, 500, 12, 'HTTP 500')", (delivery, _iso(at)))


@pytest.fixture(name="fleet", scope="module")
def fx_fleet(site):
    """Two more tenants beside the demo's bakery (moved to Starter) and studio (one of them suspended, one
    whose name would be a spreadsheet formula), with orders, failed deliveries and failed jobs in known places."""
    from content.tenants import Tenants

    data = site["data"]
    store = Tenants(data, site["settings"].sites_dir)
    try:
        store.create("corner", "Corner Shop", frozenset({"cms", "ecommerce"}), starter=None, plan="business")
        store.create("dormant", "=HYPERLINK(\"http://evil.test\")", frozenset({"cms"}), starter=None,
                     status="suspended")
        # The bakery on Starter and the corner shop on Business, whatever plan the demo gives the bakery.
        store.registry.update("bakery", plan="starter")
    finally:
        store.close()
    dbs = TenantDatabases(data / "tenants")
    last_month = MONTH_START - timedelta(days=2)
    with dbs.connection("bakery") as conn, conn:
        _order(conn, 9001, at=NOW, total=1000)
        _order(conn, 9002, at=NOW, total=550, payment="partially_refunded")
        _order(conn, 9003, at=NOW, total=700, payment="pending", status="pending")  # placed, not paid
        _order(conn, 9004, at=NOW, total=900, status="cancelled")  # paid, then cancelled: no revenue
        _order(conn, 9005, at=last_month, total=5000)  # last month: neither
    with dbs.connection("corner") as conn, conn:
        _order(conn, 1, at=NOW, total=2000, currency="GBP")
        _order(conn, 2, at=NOW, total=300, currency="EUR")
        _failed_delivery(conn, 1, at=NOW - timedelta(hours=2))
        _failed_delivery(conn, 2, at=NOW - timedelta(hours=30))  # over a day ago: not counted
    dbs.close()
    platform = sqlite3.connect(data / "platform.db")
    with platform:
        for tenant, when in [("studio", NOW - timedelta(hours=1)), ("studio", NOW - timedelta(hours=3)),
                             ("studio", NOW - timedelta(days=2)), ("corner", NOW - timedelta(minutes=5))]:
            platform.execute("INSERT INTO jobs (tenant, kind, status, actor, run_after, created_at, started_at, "
                             "finished_at, log) VALUES (?, 'publish', 'failed', 'test', ?, ?, ?, ?, "
                             "'publish failed: the bucket refused the upload')",
                             (tenant, _iso(when), _iso(when), _iso(when), _iso(when)))
    platform.close()
    yield data


def _cells(row_html: str) -> dict[str, str]:
    found = dict(re.findall(r'data-col="([a-z]+)">(.*?)</td>', row_html, re.S))
    return {k: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", v)).split()) for k, v in found.items()}


def _table(response) -> dict[str, dict[str, str]]:
    assert response.status_code == 200, response.text
    return {slug: _cells(body) for slug, body in ROW.findall(response.text)}


def _order_of(response) -> list[str]:
    return [slug for slug, _ in ROW.findall(response.text)]


def _truth(data, slug: str) -> dict:
    """What the console should say about a tenant, counted straight from its files and databases."""
    registry = Registry(data / "platform.db")
    try:
        tenant = registry.get(slug)
        from content.gitrepo import Repository

        source = Repository(data / "tenants" / slug / "repo.git").source()
        try:
            paths = source.paths()
            counted = plans.counts(paths)
            media = sum(source.size(p) for p in plans.media_paths(paths))
        finally:
            source.close()
        seats = registry.conn.execute("SELECT count(*) FROM memberships WHERE tenant_id = ?", (tenant.id,)).fetchone()[0]
        day_ago = _iso(NOW - timedelta(days=1))
        failed_jobs = registry.conn.execute("SELECT count(*) FROM jobs WHERE tenant = ? AND status = 'failed' "
                                            "AND finished_at >= ?", (slug, day_ago)).fetchone()[0]
    finally:
        registry.close()
    conn = sqlite3.connect(data / "tenants" / slug / "tenant.db")
    try:
        month = MONTH_START.strftime("%Y-%m-%d")
        orders = conn.execute("SELECT count(*) FROM orders WHERE created_at >= ?", (month,)).fetchone()[0]
        revenue = dict(conn.execute(
            "SELECT currency, sum(total) FROM orders WHERE created_at >= ? AND status != 'cancelled' AND "
            "payment_status IN ('paid', 'partially_refunded', 'refunded') GROUP BY currency", (month,)).fetchall())
        deliveries = conn.execute("SELECT count(*) FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id "
                                  "WHERE d.status = 'failed' AND a.at >= ?", (day_ago,)).fetchone()[0]
        last = conn.execute("SELECT started_at, status FROM deploys ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return {"products": counted["products"], "pages": counted["pages_and_posts"], "media": media, "seats": seats,
            "orders": orders, "revenue": revenue, "errors": failed_jobs + deliveries, "last": last}


def test_the_tables_numbers_equal_counts_in_each_tenants_databases(admin, fleet):
    operator = admin("bakery", OPERATOR)
    table = _table(operator.get("/console?per=200"))
    assert sorted(table) == ["bakery", "corner", "dormant", "studio"]
    for slug, cells in table.items():
        truth = _truth(fleet, slug)
        assert cells["products"].split(" /")[0] == str(truth["products"]), slug
        assert cells["pages"].split(" /")[0] == str(truth["pages"]), slug
        assert cells["seats"].split(" /")[0] == str(truth["seats"]), slug
        assert cells["storage"].split(" /")[0] == plans.amount("media_bytes", truth["media"]).removesuffix(" of media")
        assert cells["orders"] == str(truth["orders"]), slug
        assert cells["errors"].split(" ")[0] == str(truth["errors"]), slug
        if truth["last"]:
            assert cells["publish"].endswith(f"— {truth['last'][1]}"), slug
        else:
            assert cells["publish"] == "never"
    # The fixture's own numbers, so that the counts above are not trivially all zero.
    assert table["bakery"]["orders"] == "4" and table["bakery"]["revenue"] == "15.50 EUR"
    assert table["corner"]["revenue"] == "3.00 EUR 20.00 GBP"  # per currency, never added up
    assert table["corner"]["errors"].startswith("2 ") and "1 job, 1 delivery" in table["corner"]["errors"]
    assert table["studio"]["errors"].startswith("2 ") and table["dormant"]["errors"] == "0"
    assert table["bakery"]["publish"].endswith("— live") and table["corner"]["publish"] == "never"
    assert table["bakery"]["products"].endswith("/ 50") and table["corner"]["products"].endswith("/ 500")
    page = operator.get("/console").text
    assert "<strong>suspended</strong>" in page and "&lt;" not in page.split('data-slug="dormant"')[1][:20]


def test_sorting_filtering_and_paging_are_plain_links(admin, fleet):
    operator = admin("bakery", OPERATOR)
    assert _order_of(operator.get("/console?sort=orders&dir=desc"))[:2] == ["bakery", "corner"]
    by_errors = _order_of(operator.get("/console?sort=errors"))  # numbers sort biggest first by default
    assert by_errors[:2] == ["corner", "studio"] and set(by_errors[2:]) == {"bakery", "dormant"}
    # By name, case-folded: "=HYPERLINK…" sorts before letters, and the demo's bakery is "Rye & Crumb Bakery".
    assert _order_of(operator.get("/console?sort=name")) == ["dormant", "corner", "bakery", "studio"]
    assert _order_of(operator.get("/console?sort=name&dir=desc")) == ["studio", "bakery", "corner", "dormant"]
    page = operator.get("/console?sort=orders&dir=desc").text
    assert 'aria-sort="descending"' in page
    assert html.escape("/sites/bakery/console?sort=orders&dir=asc") in page  # the header link flips the order

    assert _order_of(operator.get("/console?plan=business")) == ["corner"]
    assert _order_of(operator.get("/console?status=suspended")) == ["dormant"]
    assert _order_of(operator.get("/console?q=LUMEN")) == ["studio"]
    assert _order_of(operator.get("/console?q=corn&plan=starter")) == []

    first = operator.get("/console?sort=orders&dir=desc&per=3")
    second = operator.get("/console?sort=orders&dir=desc&per=3&n=2")
    assert len(_order_of(first)) == 3 and len(_order_of(second)) == 1
    assert set(_order_of(first) + _order_of(second)) == {"bakery", "corner", "dormant", "studio"}
    assert "1–3 of 4" in first.text and 'rel="next"' in first.text and 'rel="prev"' in second.text
    assert re.search(r'href="[^"]*per=3[^"]*n=2" rel="next"', first.text)  # the next page keeps the view

    for bad, field in [("sort=colour", "sort"), ("dir=up", "dir"), ("plan=gold", "plan"), ("status=gone", "status"),
                       ("n=0", "n"), ("per=x", "per")]:
        refused = operator.get(f"/console?{bad}")
        assert refused.status_code == 400 and field in refused.text, bad


def test_the_csv_is_the_same_table_and_never_runs_a_formula(admin, fleet):
    operator = admin("bakery", OPERATOR)
    page = _table(operator.get("/console?sort=orders&dir=desc&per=200"))
    response = operator.get("/console.csv?sort=orders&dir=desc")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["slug"] for r in rows] == list(page)
    by_slug = {r["slug"]: r for r in rows}
    for slug, cells in page.items():
        truth = _truth(fleet, slug)
        got = by_slug[slug]
        assert (int(got["products"]), int(got["pages_and_posts"]), int(got["media_bytes"]), int(got["staff_seats"])) \
            == (truth["products"], truth["pages"], truth["media"], truth["seats"])
        assert int(got["orders_this_month"]) == truth["orders"] == int(cells["orders"])
        assert int(got["errors_last_day"]) == truth["errors"]
    assert (by_slug["corner"]["revenue_this_month"], by_slug["corner"]["currency"]) == ("3.00; 20.00", "EUR; GBP")
    assert by_slug["bakery"]["products_limit"] == "50" and by_slug["corner"]["failed_deliveries_last_day"] == "1"
    assert by_slug["dormant"]["name"] == "'=HYPERLINK(\"http://evil.test\")" and by_slug["dormant"]["suspended"] == "yes"
    filtered = list(csv.DictReader(io.StringIO(operator.get("/console.csv?status=suspended").text)))
    assert [r["slug"] for r in filtered] == ["dormant"]


@pytest.mark.parametrize("email", ["owner@bakery.test", "editor@agency.test", "shop@bakery.test"])
def test_only_superadmins_open_the_console_and_health(admin, fleet, email):
    session = admin("bakery", email)
    for path in ["/console", "/console?sort=orders", "/console.csv", "/health"]:
        response = session.get(path)
        assert response.status_code == 403, (email, path)
        assert "<h1>Not allowed</h1>" in response.text
    job = _failed_job(fleet, "studio")
    assert session.post("/health/retry", {"job": str(job)}).status_code == 403
    assert _job(fleet, job)["status"] == "failed"


def _failed_job(data, tenant: str) -> int:
    with sqlite3.connect(data / "platform.db") as conn:
        return conn.execute("INSERT INTO jobs (tenant, kind, status, actor, run_after, created_at, started_at, "
                            "finished_at, log) VALUES (?, 'publish', 'failed', 'test', ?, ?, ?, ?, "
                            "'publish failed: the build ran out of disk')",
                            (tenant, _iso(NOW), _iso(NOW), _iso(NOW), _iso(NOW))).lastrowid


def _job(data, job_id: int) -> dict:
    conn = sqlite3.connect(data / "platform.db")
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
    finally:
        conn.close()


def test_health_shows_the_queue_failed_jobs_and_the_api_error_rate(admin, fleet):
    operator = admin("bakery", OPERATOR)
    job = _failed_job(fleet, "studio")
    page = operator.get("/health")
    assert page.status_code == 200
    assert "publish failed: the build ran out of disk" in page.text
    assert f'name="job" value="{job}"' in page.text
    assert re.search(r'id="queue-due">\d+<', page.text) and re.search(r'id="queue-age">\d+ s<', page.text)
    assert int(re.search(r'id="api-total">(\d+)<', page.text).group(1)) > 0  # this module's requests, counted
    assert "Publish times" in page.text


def test_retry_requeues_a_failed_job_and_is_audited(admin, fleet):
    operator = admin("bakery", OPERATOR)
    # A tenant with a publish running is skipped by the runner, so the retried job stays queued for us to see.
    with sqlite3.connect(fleet / "platform.db") as conn:
        running = conn.execute("INSERT INTO jobs (tenant, kind, status, actor, run_after, created_at, started_at) "
                               "VALUES ('held', 'publish', 'running', 'test', ?, ?, ?)",
                               (_iso(NOW), _iso(NOW), _iso(NOW))).lastrowid
    job = _failed_job(fleet, "held")
    operator.get("/health")
    done = operator.post("/health/retry", {"job": str(job)})
    assert done.status_code == 303
    shown = operator.get(done.headers["location"])
    assert f"Job {job} (publish of held) is queued again." in shown.text
    row = _job(fleet, job)
    assert (row["status"], row["started_at"], row["finished_at"], row["log"]) == ("queued", None, None, "")
    registry = Registry(fleet / "platform.db")
    try:
        entry = registry.conn.execute("SELECT * FROM audit_log WHERE event = 'job.retried' ORDER BY id DESC").fetchone()
        operator_id = registry.conn.execute("SELECT id FROM users WHERE email = ?", (OPERATOR,)).fetchone()[0]
    finally:
        registry.close()
    detail = json.loads(entry["detail"])
    assert entry["actor_user_id"] == operator_id
    assert detail == {"job": job, "tenant": "held", "kind": "publish",
                      "error": "publish failed: the build ran out of disk"}
    again = operator.post("/health/retry", {"job": str(job)})  # a second click queues nothing more
    assert again.status_code == 303 and "queued, not failed" in alert(operator.get(again.headers["location"]))
    assert operator.post("/health/retry", {"job": "x1"}).status_code == 400
    without = operator.post("/health/retry", {"job": str(job)}, csrf=False)
    assert without.status_code == 403
    with sqlite3.connect(fleet / "platform.db") as conn:  # let the runner forget the held tenant
        conn.execute("DELETE FROM jobs WHERE id IN (?, ?)", (running, job))


def test_the_api_error_rate_comes_from_the_exported_request_counter():
    from commerce_api.admin.console import api_errors
    from commerce_api.gateway import Metrics

    metrics = Metrics()
    for status, times in [(200, 90), (404, 6), (500, 3), (503, 1)]:
        for _ in range(times):
            metrics.observe("GET", "/api/cart" if status != 503 else "/api/checkout", status, 0.01)
    rate = api_errors(metrics.registry)
    assert (rate["total"], rate["client"], rate["server"]) == (100, 6, 4)
    assert rate["server_rate"] == 0.04 and rate["routes"] == [("GET /api/cart", 3), ("GET /api/checkout", 1)]
    assert api_errors(Metrics().registry)["server_rate"] == 0.0  # no requests yet: no division by zero


def test_the_tenants_page_searches_and_pages(admin, fleet, monkeypatch):
    import commerce_api.admin.tenants as tenants_page

    operator = admin("bakery", OPERATOR)

    def shown(page) -> set[str]:  # the Sites table's rows
        return set(re.findall(r'<tr><td>[^<]* <span class="muted">\(([a-z0-9-]+)\)</span></td>', page.text))

    found = operator.get("/tenants?q=corner")
    assert found.status_code == 200 and shown(found) == {"corner"}
    assert "No tenant matches" in operator.get("/tenants?q=zzz-nothing").text
    monkeypatch.setattr(tenants_page, "TENANTS_PER_PAGE", 2)
    first, second = operator.get("/tenants"), operator.get("/tenants?q=&n=2")
    assert len(shown(first)) == 2 and len(shown(second)) == 2 and not shown(first) & shown(second)
    assert 'rel="next"' in first.text and "The sites on this page" in first.text
