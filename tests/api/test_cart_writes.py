"""Adding to a cart: one statement that holds every rule (units left, lines per cart, quantity per
line), so it holds SQLite's write lock for that statement alone; and what a refusal tells the shopper."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from commerce_api.errors import BadRequest, Conflict, NotFound
from commerce_api.shop import pricing
from commerce_api.shop.carts import Carts
from commerce_api.shop.orders import Orders
from content.migrations import connect
from content.schema import TENANT
from publish.catalog import import_snapshot
from tests.api.shopping import CATALOG


@pytest.fixture(name="db")
def fx_db(tmp_path: Path):
    path = tmp_path / "tenant.db"
    conn = connect(path, TENANT)
    import_snapshot(conn, CATALOG)
    orders = Orders(conn)
    for sku, level in (("RYE", 5), ("BUN-4", 50), ("BUN-8", 3)):
        orders.set_stock(sku, level)
    yield path, conn
    conn.close()


def quantity(conn: sqlite3.Connection, sku: str) -> int | None:
    row = conn.execute("SELECT quantity FROM cart_lines WHERE sku = ?", (sku,)).fetchone()
    return row[0] if row else None


def test_adding_again_raises_the_line_and_answers_the_priced_cart(db):
    _, conn = db
    carts = Carts(conn)
    token = carts.create()
    conn.execute("UPDATE carts SET updated_at = '2000-01-01T00:00:00+00:00'")
    conn.commit()
    first = carts.add(token, "RYE", 1)
    assert conn.execute("SELECT updated_at FROM carts").fetchone()[0] > "2000"  # the cart's last change moved
    conn.execute("UPDATE carts SET updated_at = '2000-01-01T00:00:00+00:00'")
    conn.commit()
    again = carts.add(token, "RYE", 2)
    assert conn.execute("SELECT updated_at FROM carts").fetchone()[0] > "2000"
    assert [(l["sku"], l["quantity"]) for l in first["lines"]] == [("RYE", 1)]
    assert [(l["sku"], l["quantity"], l["line_total"]) for l in again["lines"]] == [("RYE", 3, 2160)]
    assert again["subtotal"] == 2160 and again["token"] == token
    assert conn.execute("SELECT seen_price FROM cart_lines").fetchone()[0] == 720


def test_a_line_never_holds_more_than_is_left_counting_what_the_cart_holds(db):
    _, conn = db
    carts = Carts(conn)
    token = carts.create()
    carts.add(token, "BUN-8", 2)
    with pytest.raises(Conflict) as refused:
        carts.add(token, "BUN-8", 2)
    assert (refused.value.code, refused.value.field) == ("out_of_stock", "sku")
    assert "only 3 left" in refused.value.message
    assert quantity(conn, "BUN-8") == 2
    assert carts.add(token, "BUN-8", 1)["lines"][0]["quantity"] == 3


def test_refusals_name_the_field_in_the_order_shoppers_have_always_seen(db):
    _, conn = db
    carts = Carts(conn)
    token = carts.create()
    with pytest.raises(NotFound) as unknown:
        carts.add(token, "NOPE", 1)
    assert (unknown.value.code, unknown.value.field) == ("unknown_sku", "sku")
    carts.add(token, "GIFT", 60)  # untracked: only the 99 a line may hold limits it
    with pytest.raises(BadRequest) as past_99:
        carts.add(token, "GIFT", 40)
    assert (past_99.value.code, past_99.value.field) == ("invalid_quantity", "quantity")
    assert quantity(conn, "GIFT") == 60
    with pytest.raises(Conflict) as sold_out_first:  # more than is left and past 99: stock is said first
        carts.add(token, "RYE", 99)
    assert sold_out_first.value.code == "out_of_stock"


def test_a_full_cart_takes_no_new_line_but_more_of_one_it_holds(db, monkeypatch):
    _, conn = db
    monkeypatch.setattr("commerce_api.shop.carts.MAX_LINES", 2)
    carts = Carts(conn)
    token = carts.create()
    carts.add(token, "RYE", 1)
    carts.add(token, "BUN-4", 1)
    with pytest.raises(BadRequest) as full:
        carts.add(token, "GIFT", 1)
    assert (full.value.code, full.value.field) == ("cart_full", "sku")
    assert {l["sku"]: l["quantity"] for l in carts.add(token, "RYE", 1)["lines"]} == {"RYE": 2, "BUN-4": 1}


def test_a_closed_cart_takes_nothing(db):
    _, conn = db
    carts = Carts(conn)
    token = carts.create()
    conn.execute("UPDATE carts SET ordered_at = '2026-01-01T00:00:00+00:00'")
    conn.commit()
    with pytest.raises(Conflict) as closed:
        carts.add(token, "RYE", 1)
    assert closed.value.code == "cart_closed"


def test_adding_writes_with_one_statement(db):
    """The write lock is held for one statement: no BEGIN IMMEDIATE ... COMMIT across several, during
    which the thread holding SQLite's lock may wait for Python's (the cost under many shoppers)."""
    _, conn = db
    carts = Carts(conn)
    token = carts.create()
    carts.add(token, "RYE", 1)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        carts.add(token, "RYE", 1)
        carts.add(token, "BUN-4", 1)
    finally:
        conn.set_trace_callback(None)
    # (SQLite traces a statement again for each trigger it runs: the same text)
    writes = {s for s in statements if s.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")}
    assert not any(s.lstrip().upper().startswith(("BEGIN", "COMMIT")) for s in statements)
    assert len(writes) == 2 and all(w.lstrip().upper().startswith("INSERT INTO CART_LINES") for w in writes)


def test_adding_has_committed_by_the_time_python_runs_again(db):
    """The add's statement writes and commits inside one SQLite step: when control is back in Python
    (where the thread may wait for the interpreter behind others), the file's write lock is already
    free. A RETURNING clause, or BEGIN ... COMMIT around the statement, would still hold it here."""
    path, conn = db
    carts = Carts(conn)
    token = carts.create()
    probe = sqlite3.connect(path, timeout=0)
    free: list[bool] = []
    execute = conn.execute

    def watched(sql, *args):
        cursor = execute(sql, *args)
        if sql.lstrip().upper().startswith("INSERT INTO CART_LINES"):
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                free.append(True)
            except sqlite3.OperationalError:
                free.append(False)
        return cursor

    conn.execute = watched
    try:
        carts.add(token, "RYE", 1)
        carts.add(token, "RYE", 1)
    finally:
        del conn.execute
        probe.close()
    assert free == [True, True]
    assert quantity(conn, "RYE") == 2


def test_tabs_adding_at_once_neither_lose_units_nor_pass_the_stock(db):
    path, conn = db
    token = Carts(conn).create()
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def shopper() -> None:
        own = connect(path)
        try:
            start.wait()
            try:
                Carts(own).add(token, "RYE", 1)
                outcomes.append("added")
            except Conflict as exc:
                outcomes.append(exc.code)
        finally:
            own.close()

    threads = [threading.Thread(target=shopper) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] * 5 + ["out_of_stock"] * 3
    assert quantity(conn, "RYE") == 5


def test_the_cart_prices_every_line_from_one_catalog_read(db):
    _, conn = db
    carts = Carts(conn)
    token = carts.create()
    for sku in ("RYE", "BUN-4", "BUN-8", "GIFT"):
        carts.add(token, sku, 1)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        view = carts.view(token)
    finally:
        conn.set_trace_callback(None)
    assert sorted(l["sku"] for l in view["lines"]) == ["BUN-4", "BUN-8", "GIFT", "RYE"]
    assert sum("FROM catalog_variants" in s for s in statements) == 1
    assert view["subtotal"] == sum(pricing.catalog_lines(conn, [(l["sku"], 1, None)])[0][0].unit_price
                                   for l in view["lines"])


def test_a_manual_checkout_is_one_write_transaction_with_its_payment_started(db):
    """A provider that needs no network (manual payment) starts the payment inside the order's own
    transaction: the shop's write lock is taken once per checkout, not twice."""
    from commerce_api.shop.checkout import place_order
    from commerce_api.shop.orders import PAYMENT_TTL, CheckoutDetails
    from commerce_api.shop.payments import Manual
    from datetime import datetime, timedelta

    _, conn = db
    carts = Carts(conn)
    token = carts.create()
    carts.add(token, "RYE", 1)
    details = CheckoutDetails("ada@example.test", {"name": "Ada", "line1": "1 Mill Lane", "city": "Leith",
                                                   "postal_code": "EH6 6AA", "country": "GB"}, None, "delivery")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        answer, created = place_order(conn, Manual("Pay by bank transfer."), token, details, idempotency_key=None,
                                      site_url="https://shop.example")
    finally:
        conn.set_trace_callback(None)
    assert created and answer["payment"] == {"provider": "manual", "instructions": "Pay by bank transfer."}
    assert sum(s.strip().upper() == "BEGIN IMMEDIATE" for s in statements) == 1
    order = Orders(conn).get(answer["order"]["number"])
    expires = datetime.fromisoformat(order["expires_at"]) - datetime.fromisoformat(order["created_at"])
    assert abs(expires - PAYMENT_TTL["manual"]) < timedelta(minutes=1)  # the payment's time, not the start's
