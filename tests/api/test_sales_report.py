"""The sales report equals plain sums over the tables checkout and refunds wrote, on orders placed
through the real checkout API, with days in the shop's time zone; and the API route is guarded
like the rest (orders:read, the shop feature, bad dates named)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from commerce_api.shop.orders import Orders
from commerce_api.shop.sales import sales
from content.registry import parse_features
from publish.catalog import import_snapshot
from tessera.cli import main
from tests.api.conftest import ROLES
from tests.api.shopping import ADDRESS

ZONE = "America/New_York"  # UTC-4 until 1 Nov 2026 02:00, UTC-5 after: days are not UTC days
PAID = "o.payment_status IN ('paid', 'partially_refunded', 'refunded') AND o.status != 'cancelled'"
CATALOG = {
    "version": "sales", "currency": "GBP", "timezone": ZONE,
    "shipping": {"flat_rate": 495, "free_over": 4000, "countries": ["GB"]},
    "tax": {"rate": "20", "inclusive": False, "label": "VAT"},
    "products": [
        {"slug": "rye", "name": "Dark Rye", "url": "/products/rye/", "categories": ["bread"],
         "variants": [{"sku": "RYE", "title": "Dark Rye", "price": 720, "currency": "GBP"}]},
        {"slug": "bun", "name": "Cinnamon Bun", "url": "/products/bun/", "categories": ["bread", "sweet"],
         "variants": [{"sku": "BUN-4", "title": "Box of 4", "price": 1000, "currency": "GBP"},
                      {"sku": "BUN-8", "title": "Box of 8", "price": 1800, "currency": "GBP"}]},
    ],
}
# When each order was placed (UTC), and what happens to it; the shop's day is in the comment.
PLACED = {
    "early": "2026-10-31T03:59:59+00:00",  # 30 Oct 23:59:59 in New York: before the range
    "welcome": "2026-11-02T03:30:00+00:00",  # 1 Nov, 22:30
    "refunded_part": "2026-11-03T15:00:00+00:00",  # 3 Nov
    "unpaid": "2026-11-03T16:00:00+00:00",  # 3 Nov, never paid
    "cancelled": "2026-11-04T12:00:00+00:00",  # 4 Nov, paid then cancelled
    "refunded_all": "2026-11-05T12:00:00+00:00",  # 5 Nov
    "late": "2026-11-08T04:59:59+00:00",  # 7 Nov, 23:59:59: the last second of the range
    "after": "2026-11-08T05:00:00+00:00",  # 8 Nov: after it
}
REFUNDED = {"refunded_part": "2026-11-06T02:00:00+00:00",  # 5 Nov, 21:00
            "refunded_all": "2026-11-09T12:00:00+00:00"}  # after the range
SINCE, UNTIL = date(2026, 10, 31), date(2026, 11, 7)


def staff(world, role="owner", tenant="alpha"):
    return world.client(tenant, headers={"Authorization": f"Bearer {world.token(tenant, role)}"})


def place(world, items, code=None):
    with world.client("alpha") as shopper:
        token = shopper.post("/api/carts").json()["token"]
        for sku, quantity in items:
            assert shopper.post(f"/api/carts/{token}/items", json={"sku": sku, "quantity": quantity}).status_code == 201
        if code:
            assert shopper.post(f"/api/carts/{token}/discount", json={"code": code}).status_code == 200
        placed = shopper.post("/api/checkout", json={"cart_token": token, "email": "ada@example.test",
                                                     "shipping_address": ADDRESS})
    assert placed.status_code == 201, placed.text
    return placed.json()["order"]["number"]


@pytest.fixture(name="book", scope="module")
def fx_book(world):
    """Orders of every kind through the checkout API, then moved to the moments in PLACED."""
    conn = world.tenants.open_db("alpha")
    import_snapshot(conn, CATALOG)
    for sku in ("RYE", "BUN-4", "BUN-8"):
        Orders(conn).set_stock(sku, 100)
    with staff(world) as owner:
        made = owner.post("/api/admin/discounts", json={"code": "WELCOME10", "title": "Welcome", "kind": "percent",
                                                        "value": 1000})
        assert made.status_code == 201, made.text
        numbers = {
            "early": place(world, [("RYE", 1)]),
            "welcome": place(world, [("RYE", 2), ("BUN-4", 1)], code="WELCOME10"),
            "refunded_part": place(world, [("BUN-8", 1)]),
            "unpaid": place(world, [("RYE", 1)]),
            "cancelled": place(world, [("BUN-4", 2)]),
            "refunded_all": place(world, [("RYE", 1), ("BUN-8", 2)]),
            "late": place(world, [("BUN-4", 1)], code="WELCOME10"),
            "after": place(world, [("RYE", 3)]),
        }
        for name, number in numbers.items():
            if name != "unpaid":
                assert owner.post(f"/api/admin/orders/{number}/paid").status_code == 200
        assert owner.post(f"/api/admin/orders/{numbers['cancelled']}/status",
                          json={"status": "cancelled"}).status_code == 200
        assert owner.post(f"/api/admin/orders/{numbers['refunded_part']}/refund", json={"amount": 500}).status_code == 200
        assert owner.post(f"/api/admin/orders/{numbers['refunded_all']}/refund").status_code == 200
    with conn:
        for name, number in numbers.items():
            conn.execute("UPDATE orders SET created_at = ? WHERE number = ?", (PLACED[name], number))
        for name, moment in REFUNDED.items():
            conn.execute("UPDATE refunds SET created_at = ? WHERE order_id = (SELECT id FROM orders WHERE number = ?)",
                         (moment, numbers[name]))
    yield conn, numbers
    conn.close()


def bounds(first: date, last: date) -> tuple[str, str]:
    """The UTC instants that start ``first`` and end ``last`` in the shop's zone."""
    zone = ZoneInfo(ZONE)
    return tuple(datetime.combine(d, time(), zone).astimezone(timezone.utc).isoformat(timespec="seconds")
                 for d in (first, last + timedelta(days=1)))


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def test_totals_and_days_equal_sums_over_the_orders_and_refunds(book):
    conn, numbers = book
    report = sales(conn, SINCE, UNTIL, ZONE)
    start, end = bounds(SINCE, UNTIL)
    placed = f"FROM orders o WHERE {PAID} AND o.created_at >= ? AND o.created_at < ?"
    revenue = one(conn, f"SELECT SUM(total) {placed}", start, end)
    orders = one(conn, f"SELECT COUNT(*) {placed}", start, end)
    refunded = one(conn, "SELECT SUM(r.amount) FROM refunds r JOIN orders o ON o.id = r.order_id "
                         f"WHERE {PAID} AND r.created_at >= ? AND r.created_at < ?", start, end)
    assert orders == 4 and refunded == 500  # welcome, refunded_part, refunded_all, late; one refund in range
    assert report["currency"] == "GBP" and (report["from"], report["to"]) == ("2026-10-31", "2026-11-07")
    assert report["totals"] == {
        "revenue": revenue, "orders": orders, "average_order": round(revenue / orders), "refunded": refunded,
        "discounts": one(conn, f"SELECT SUM(discount) {placed}", start, end),
        "tax": one(conn, f"SELECT SUM(tax) {placed}", start, end),
        "shipping": one(conn, f"SELECT SUM(shipping) {placed}", start, end),
        "net_revenue": revenue - refunded}
    assert report["totals"]["discounts"] > 0 and report["totals"]["tax"] > 0 and report["totals"]["shipping"] > 0

    # Every day of the range, zeros included, each the sum over that day of the shop's.
    assert [d["day"] for d in report["days"]] == [(SINCE + timedelta(days=n)).isoformat() for n in range(8)]
    for day in report["days"]:
        first, last = bounds(date.fromisoformat(day["day"]), date.fromisoformat(day["day"]))
        n = one(conn, f"SELECT COUNT(*) {placed}", first, last)
        total = one(conn, f"SELECT COALESCE(SUM(total), 0) {placed}", first, last)
        back = one(conn, "SELECT COALESCE(SUM(r.amount), 0) FROM refunds r JOIN orders o ON o.id = r.order_id "
                         f"WHERE {PAID} AND r.created_at >= ? AND r.created_at < ?", first, last)
        assert day == {"day": day["day"], "revenue": total, "orders": n,
                       "average_order": round(total / n) if n else 0, "refunded": back}
    by_day = {d["day"]: d for d in report["days"]}
    welcome = one(conn, "SELECT total FROM orders WHERE number = ?", numbers["welcome"])
    assert by_day["2026-11-01"]["revenue"] == welcome  # 03:30 UTC on the 2nd is the evening of the 1st there
    assert by_day["2026-10-31"]["orders"] == 0 and by_day["2026-11-02"]["orders"] == 0
    assert by_day["2026-11-05"]["refunded"] == 500 and by_day["2026-11-07"]["orders"] == 1


def test_products_categories_discounts_and_tax_equal_sums_over_their_tables(book):
    conn, _ = book
    report = sales(conn, SINCE, UNTIL, ZONE)
    start, end = bounds(SINCE, UNTIL)
    lines = (f"FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE {PAID} "
             "AND o.created_at >= ? AND o.created_at < ?")
    products = {}
    for product, skus in (("rye", ("RYE",)), ("bun", ("BUN-4", "BUN-8"))):
        marks = ", ".join("?" * len(skus))
        products[product] = (one(conn, f"SELECT SUM(quantity) {lines} AND l.sku IN ({marks})", start, end, *skus),
                             one(conn, f"SELECT SUM(line_total - l.discount) {lines} AND l.sku IN ({marks})",
                                 start, end, *skus))
    assert {p["product"]: (p["units"], p["revenue"]) for p in report["products"]} == products
    assert {p["product"]: p["name"] for p in report["products"]} == {"rye": "Dark Rye", "bun": "Cinnamon Bun"}
    assert [p["revenue"] for p in report["products"]] == sorted((p["revenue"] for p in report["products"]),
                                                                reverse=True)
    assert {c["category"]: (c["units"], c["revenue"]) for c in report["categories"]} == {
        "bread": (products["rye"][0] + products["bun"][0], products["rye"][1] + products["bun"][1]),
        "sweet": products["bun"]}

    uses = conn.execute("SELECT d.code, d.title, COUNT(*), SUM(u.amount) FROM discount_uses u "
                        "JOIN discounts d ON d.id = u.discount_id JOIN orders o ON o.id = u.order_id "
                        f"WHERE {PAID} AND o.created_at >= ? AND o.created_at < ? GROUP BY d.id",
                        (start, end)).fetchall()
    assert [(d["code"], d["title"], d["uses"], d["amount"]) for d in report["discounts"]] == [tuple(u) for u in uses]
    assert report["discounts"][0]["code"] == "WELCOME10" and report["discounts"][0]["uses"] == 2
    assert sum(d["amount"] for d in report["discounts"]) == report["totals"]["discounts"]

    taxed = conn.execute("SELECT t.jurisdiction, t.rate, SUM(t.base), SUM(t.amount) FROM order_tax_lines t "
                         f"JOIN orders o ON o.id = t.order_id WHERE {PAID} AND o.created_at >= ? "
                         "AND o.created_at < ? GROUP BY 1, 2", (start, end)).fetchall()
    assert [(t["jurisdiction"], t["rate"], t["base"], t["amount"]) for t in report["tax"]] == [tuple(t) for t in taxed]
    assert sum(t["amount"] for t in report["tax"]) == report["totals"]["tax"]


def test_an_empty_range_has_every_day_at_zero(book):
    conn, _ = book
    report = sales(conn, date(2025, 2, 1), date(2025, 2, 28), ZONE)
    assert len(report["days"]) == 28 and all(d["revenue"] == d["orders"] == d["refunded"] == 0 for d in report["days"])
    assert report["totals"] == {"revenue": 0, "orders": 0, "average_order": 0, "refunded": 0, "discounts": 0,
                                "tax": 0, "shipping": 0, "net_revenue": 0}
    assert report["products"] == report["categories"] == report["discounts"] == report["tax"] == []


def api(world, query="", role="owner", tenant="alpha"):
    with staff(world, role, tenant) as client:
        return client.get("/api/admin/reports/sales" + query)


def test_the_api_answers_what_sales_computes(world, book):
    conn, _ = book
    response = api(world, "?from=2026-10-31&to=2026-11-07")
    assert response.status_code == 200, response.text
    assert response.json() == sales(conn, SINCE, UNTIL, ZONE)
    default = api(world).json()  # the last 30 days, up to today in the shop's zone
    assert default["to"] == datetime.now(ZoneInfo(ZONE)).date().isoformat() and len(default["days"]) == 30


def test_the_funnel_counts_views_carts_checkouts_and_paid_orders_with_analytics_on_and_off(world, book):
    conn, numbers = book
    today = datetime.now(ZoneInfo(ZONE)).date()
    with conn:
        conn.execute("DELETE FROM analytics_pages")
        conn.executemany("INSERT INTO analytics_pages (day, path, views, visitors) VALUES (?, ?, ?, ?)",
                         [(today.isoformat(), "/products/rye/", 7, 5), (today.isoformat(), "/products/bun/", 3, 2),
                          (today.isoformat(), "/about/", 40, 30), ("2020-01-01", "/products/rye/", 9, 9)])
    place(world, [("RYE", 1)])  # one more checkout today, not paid
    start, end = bounds(today, today)
    expected = {"product_views": 10,
                "carts": one(conn, "SELECT COUNT(*) FROM carts WHERE created_at >= ? AND created_at < ?", start, end),
                "checkouts": one(conn, "SELECT COUNT(*) FROM orders WHERE created_at >= ? AND created_at < ?",
                                 start, end),
                "paid": one(conn, f"SELECT COUNT(*) FROM orders o WHERE {PAID} AND created_at >= ? AND created_at < ?",
                            start, end)}
    assert expected["carts"] >= 1 and expected["checkouts"] >= 1
    query = f"?from={today}&to={today}"
    assert api(world, query).json()["funnel"] == expected
    world.tenants.registry.update("alpha", features=parse_features("cms,ecommerce"))
    try:
        off = api(world, query).json()["funnel"]
    finally:
        world.tenants.registry.update("alpha", features=parse_features("cms,ecommerce,analytics"))
    assert off == {**expected, "product_views": 0}
    # The whole range of the book: its orders placed in any state, against the paid ones.
    funnel = sales(conn, SINCE, UNTIL, ZONE)["funnel"]
    assert (funnel["checkouts"], funnel["paid"]) == (6, 4)


@pytest.mark.parametrize("role", ROLES)
def test_owners_admins_and_shop_managers_may_read_sales_and_editors_may_not(world, book, role):
    response = api(world, "?from=2026-11-01&to=2026-11-02", role=role)
    if role == "editor":
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    else:
        assert response.status_code == 200, response.text


def test_no_sales_report_without_the_shop(world):
    refused = api(world, tenant="gamma")  # gamma has no ecommerce feature
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "feature_disabled"
    with world.client("alpha") as anonymous:
        assert anonymous.get("/api/admin/reports/sales").status_code == 401


@pytest.mark.parametrize("query,field", [
    ("?from=2026-13-01", "from"), ("?to=yesterday", "to"), ("?from=2026-03-02&to=2026-03-01", "from"),
    ("?from=2020-01-01&to=2026-01-01", "from"), ("?from=20260301", "from"), ("?to=2026-02-30", "to"),
])
def test_a_bad_range_is_a_400_naming_the_field(world, query, field):
    response = api(world, query)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


def test_the_sales_route_is_documented(world):
    with world.client() as client:
        spec = client.get("/api/docs/openapi.json").json()
    route = spec["paths"]["/api/admin/reports/sales"]["get"]
    assert {p["name"] for p in route["parameters"]} >= {"from", "to"}
    assert {"200", "400", "401", "403", "404"} <= set(route["responses"])
    body = spec["components"]["schemas"][route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                                        .rsplit("/", 1)[1]]
    assert set(body["properties"]) == {"currency", "from", "to", "totals", "days", "products", "categories",
                                       "discounts", "tax", "funnel"}


def cli(world, *args: str):
    runner = CliRunner(env={"TESSERA_DATA_DIR": str(world.services.config.data_dir)})
    return runner.invoke(main, ["report", *args], catch_exceptions=False)


def test_the_cli_prints_the_same_sales(world, book):
    conn, _ = book
    report = sales(conn, SINCE, UNTIL, ZONE)
    result = cli(world, "alpha", "--from", "2026-10-31", "--to", "2026-11-07", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    totals = next(r for r in rows if r["table"] == "sales_totals")
    assert {k: int(totals[k]) for k in report["totals"]} == report["totals"] and totals["currency"] == "GBP"
    assert [(r["key"], int(r["orders"]), int(r["revenue"]), int(r["refunded"])) for r in rows
            if r["table"] == "sales_days"] == [(d["day"], d["orders"], d["revenue"], d["refunded"])
                                               for d in report["days"]]
    assert [(r["key"], int(r["units"]), int(r["revenue"])) for r in rows if r["table"] == "sales_products"] == \
        [(p["product"], p["units"], p["revenue"]) for p in report["products"]]
    assert [(r["key"], int(r["uses"]), int(r["amount"])) for r in rows if r["table"] == "sales_discounts"] == \
        [(d["code"], d["uses"], d["amount"]) for d in report["discounts"]]
    assert [(r["key"], r["rate"], int(r["base"]), int(r["amount"])) for r in rows if r["table"] == "sales_tax"] == \
        [(t["jurisdiction"], t["rate"], t["base"], t["amount"]) for t in report["tax"]]
    assert {r["key"]: int(r["count"]) for r in rows if r["table"] == "sales_funnel"} == report["funnel"]
    assert any(r["table"] == "days" for r in rows)  # alpha counts its traffic too: both in one CSV

    table = cli(world, "alpha", "--from", "2026-10-31", "--to", "2026-11-07")
    assert table.exit_code == 0, table.output
    revenue = f"{report['totals']['revenue'] / 100:.2f}"
    assert "Revenue per day" in table.output and "Funnel" in table.output and revenue in table.output
    assert "WELCOME10" in table.output and "(America/New_York)" in table.output


def test_the_cli_shows_sales_without_analytics_and_refuses_a_site_with_neither(world):
    shop_only = cli(world, "beta")
    assert shop_only.exit_code == 0, shop_only.output
    assert "counts no traffic" in shop_only.output and "Revenue per day" in shop_only.output
    neither = cli(world, "gamma")
    assert neither.exit_code == 1 and "has no shop" in neither.output
    bad = cli(world, "alpha", "--to", "2026-02-30")
    assert bad.exit_code == 1 and "to must be a date" in bad.output and "Traceback" not in bad.output
