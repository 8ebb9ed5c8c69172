"""Reads of the tax lines and delivery choices that checkout stored on orders, for the admin's tax
report and orders list. Read-only: a placed order's tax is what was charged, never recomputed here.

Orders placed before shipping zones and tax by region (migration 0010) have no tax lines and null
delivery fields: every reader here answers for them with empty values, not errors."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Orders whose tax was charged: paid, even if refunded later (refunds are not netted out), never cancelled.
PAID = ("paid", "partially_refunded", "refunded")
_PAID_SQL = f"o.payment_status IN ({', '.join('?' * len(PAID))}) AND o.status != 'cancelled'"


@dataclass
class ReportRow:
    month: str  # YYYY-MM in the shop's time zone
    jurisdiction: str
    rate: str  # percent, as stored ("20", "5.5")
    note: str  # "", "reverse charge", "export"
    currency: str
    base: int = 0  # minor units
    amount: int = 0
    orders: set[int] = field(default_factory=set)


@dataclass
class Month:
    month: str
    rows: list[ReportRow]
    totals: dict[str, tuple[int, int]]  # currency → (base, tax)


def shop_zone(conn: sqlite3.Connection) -> ZoneInfo:
    """The shop's time zone from the published settings (months are the shop's months), else UTC."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()
    try:
        name = (json.loads(row[0]) if row else {}).get("timezone") or "UTC"
        return ZoneInfo(name)
    except (ValueError, TypeError, ZoneInfoNotFoundError, AttributeError):
        return ZoneInfo("UTC")


def years(conn: sqlite3.Connection, zone: ZoneInfo) -> list[int]:
    """Every year (shop's time) from the first to the last paid order with tax lines, newest first."""
    row = conn.execute(f"SELECT min(o.created_at), max(o.created_at) FROM orders o WHERE {_PAID_SQL} AND EXISTS "
                       "(SELECT 1 FROM order_tax_lines t WHERE t.order_id = o.id)", PAID).fetchone()
    if row is None or row[0] is None:
        return []
    first, last = (_local(stamp, zone).year for stamp in row)
    return list(range(last, first - 1, -1))


def report(conn: sqlite3.Connection, year: int, zone: ZoneInfo) -> list[Month]:
    """Base and tax per month, jurisdiction, rate and note (reverse charge, export) for ``year``."""
    # A day's margin either side in UTC, then the exact year in the shop's time zone.
    since = (datetime(year, 1, 1, tzinfo=timezone.utc) - timedelta(days=1)).isoformat()
    until = (datetime(year + 1, 1, 1, tzinfo=timezone.utc) + timedelta(days=1)).isoformat()
    lines = conn.execute(
        "SELECT o.id, o.created_at, o.currency, t.jurisdiction, t.rate, t.note, t.base, t.amount "
        f"FROM order_tax_lines t JOIN orders o ON o.id = t.order_id WHERE {_PAID_SQL} "
        "AND o.created_at >= ? AND o.created_at < ? ORDER BY o.created_at, t.id", (*PAID, since, until)).fetchall()
    groups: dict[tuple[str, str, str, str, str], ReportRow] = {}
    for order_id, created, currency, jurisdiction, rate, note, base, amount in lines:
        moment = _local(created, zone)
        if moment.year != year:
            continue
        key = (f"{moment:%Y-%m}", jurisdiction, rate, note or "", currency)
        row = groups.setdefault(key, ReportRow(*key))
        row.base += base
        row.amount += amount
        row.orders.add(order_id)
    months: dict[str, list[ReportRow]] = {}
    for row in sorted(groups.values(), key=lambda r: (r.month, r.jurisdiction, -_percent(r.rate), r.note, r.currency)):
        months.setdefault(row.month, []).append(row)
    result = []
    for month, rows in months.items():
        totals: dict[str, tuple[int, int]] = {}
        for row in rows:
            base, amount = totals.get(row.currency, (0, 0))
            totals[row.currency] = (base + row.base, amount + row.amount)
        result.append(Month(month, rows, totals))
    return result


def delivery_names(conn: sqlite3.Connection, numbers: list[int]) -> dict[int, str]:
    """Each order's delivery in a few words for the orders list: the option's name and the pickup slot."""
    if not numbers:
        return {}
    marks = ", ".join("?" * len(numbers))
    rows = conn.execute(f"SELECT number, shipping_method, shipping_name, pickup FROM orders WHERE number IN ({marks})",
                        numbers).fetchall()
    result = {}
    for row in rows:
        pickup = _pickup(row["pickup"])
        name = row["shipping_name"] or ("Pickup" if row["shipping_method"] == "pickup" else "Delivery")
        result[row["number"]] = f"{name}, {pickup['label']}" if pickup and pickup.get("label") else name
    return result


def _pickup(stored: str | None) -> dict | None:
    """The pickup column ({location, name, address, start, end, label}), tolerant of what is not there."""
    if not stored:
        return None
    try:
        value = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {key: str(value.get(key) or "") for key in ("location", "name", "address", "start", "end", "label")}


def _local(stamp: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone)


def _percent(rate: str) -> Decimal:
    try:
        return Decimal(rate)
    except (InvalidOperation, TypeError):
        return Decimal(0)
