"""Daily rollups in ``tenant.db``: adding a batch of views, forgetting past days' visitor hashes,
and ``traffic``, what reports read.

A visitor counts once per day (and once per page per day): the day's keyed visitor hashes are
kept in ``analytics_visitors`` until the day is over and then deleted, so a day's numbers can
grow during the day but nobody can be followed from one day to the next.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import date, timedelta
from typing import Any, Iterable, NamedTuple

from content.migrations import immediate

from ..errors import InvalidRange

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_DAYS = 731  # the longest range a report covers: two years, day by day


class View(NamedTuple):
    """One counted page view, as stored: nothing in it names a person or an address."""

    day: str  # YYYY-MM-DD (UTC)
    path: str
    referrer: str | None  # the referring host, None for none (or the site itself)
    device: str
    browser: str
    country: str | None  # ISO 3166 alpha-2 from the proxy's header, None when unknown
    visitor: bytes  # keyed hash of (daily salt, tenant, address, User-Agent)


def store(conn: sqlite3.Connection, views: Iterable[View], *, today: str) -> int:
    """Add ``views`` to the rollups and delete visitor hashes of days before ``today``, in one
    transaction. Returns the number of views added."""
    days: Counter = Counter()
    pages: Counter = Counter()
    referrers: Counter = Counter()
    devices: Counter = Counter()
    countries: Counter = Counter()
    seen: dict[tuple[str, str], set[bytes]] = {}  # (day, path or '' for the site) -> visitor hashes
    count = 0
    for view in views:
        count += 1
        days[view.day] += 1
        pages[view.day, view.path] += 1
        seen.setdefault((view.day, ""), set()).add(view.visitor)
        seen.setdefault((view.day, view.path), set()).add(view.visitor)
        if view.referrer:
            referrers[view.day, view.referrer] += 1
        devices[view.day, view.device, view.browser] += 1
        if view.country:
            countries[view.day, view.country] += 1
    with immediate(conn):
        pages = _capped(conn, pages, "analytics_pages", "path", MAX_PATHS)
        referrers = _capped(conn, referrers, "analytics_referrers", "host", MAX_REFERRERS)
        seen = _capped_seen(conn, seen, pages)
        # New visitors of each day and page: the hashes not yet in the day's set. One executemany per
        # set (SQLite's loop, not Python's), counted by how many rows it added.
        new: dict[tuple[str, str], int] = {}
        for (day, path), visitors in seen.items():
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO analytics_visitors (day, path, visitor) VALUES (?, ?, ?)",
                             [(day, path, v) for v in visitors])
            new[day, path] = conn.total_changes - before
        conn.executemany(
            "INSERT INTO analytics_days (day, views, visitors) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE "
            "SET views = views + excluded.views, visitors = visitors + excluded.visitors",
            [(day, n, new[day, ""]) for day, n in days.items()])
        conn.executemany(
            "INSERT INTO analytics_pages (day, path, views, visitors) VALUES (?, ?, ?, ?) ON CONFLICT (day, path) "
            "DO UPDATE SET views = views + excluded.views, visitors = visitors + excluded.visitors",
            [(day, path, n, new[day, path]) for (day, path), n in pages.items()])
        conn.executemany(
            "INSERT INTO analytics_referrers (day, host, views) VALUES (?, ?, ?) ON CONFLICT (day, host) "
            "DO UPDATE SET views = views + excluded.views", [(*key, n) for key, n in referrers.items()])
        conn.executemany(
            "INSERT INTO analytics_devices (day, device, browser, views) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (day, device, browser) DO UPDATE SET views = views + excluded.views",
            [(*key, n) for key, n in devices.items()])
        conn.executemany(
            "INSERT INTO analytics_countries (day, country, views) VALUES (?, ?, ?) ON CONFLICT (day, country) "
            "DO UPDATE SET views = views + excluded.views", [(*key, n) for key, n in countries.items()])
        forget_visitors(conn, before=today)
    return count


OTHER = "(other)"
MAX_PATHS = 2000  # distinct pages a day; more are counted together as OTHER
MAX_REFERRERS = 100  # distinct referring hosts a day


def _capped(conn: sqlite3.Connection, counts: Counter, table: str, column: str, limit: int) -> Counter:
    """``counts`` ((day, key) → views) with keys past a day's ``limit`` of distinct keys folded into
    OTHER: whatever anyone sends, a day's rows stay bounded."""
    result: Counter = Counter()
    known: dict[str, set[str]] = {}
    for (day, key), n in sorted(counts.items()):
        if day not in known:
            known[day] = {r[0] for r in conn.execute(f"SELECT {column} FROM {table} WHERE day = ?", (day,))}
        keys = known[day]
        if key not in keys:
            if len(keys) >= limit - 1:
                key = OTHER
            keys.add(key)
        result[day, key] += n
    return result


def _capped_seen(conn: sqlite3.Connection, seen: dict, pages: Counter) -> dict:
    """Visitor hashes follow their page into OTHER when it was folded there."""
    kept = {(day, path) for day, path in pages}
    result: dict[tuple[str, str], set[bytes]] = {}
    for (day, path), visitors in seen.items():
        key = (day, path) if path == "" or (day, path) in kept else (day, OTHER)
        result.setdefault(key, set()).update(visitors)
    return result


def forget_visitors(conn: sqlite3.Connection, *, before: str) -> int:
    """Delete the visitor hashes of days before ``before``: those days' counts are final."""
    return conn.execute("DELETE FROM analytics_visitors WHERE day < ?", (before,)).rowcount


EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)  # far from the calendar's ends, where arithmetic overflows


def report_range(since: str | None, until: str | None, *, today: date, days: int = 30) -> tuple[date, date]:
    """The dates a report covers: ``until`` defaults to today, ``since`` to ``days`` days up to it."""
    def parse(text: str, name: str) -> date:
        day = None
        try:
            if _DATE.fullmatch(text.strip()):
                day = date.fromisoformat(text.strip())
        except ValueError:
            pass
        if day is None:
            raise InvalidRange(name, f"{name} must be a date such as {today.isoformat()}, not {text[:40]!r}")
        if not EARLIEST <= day <= LATEST:
            raise InvalidRange(name, f"{name} must be a date between {EARLIEST} and {LATEST}")
        return day

    end = parse(until, "to") if until else today
    start = parse(since, "from") if since else end - timedelta(days=days - 1)
    if start > end:
        raise InvalidRange("from", f"from ({start}) is after to ({end}); give the earlier date first")
    if (end - start).days >= MAX_DAYS:
        raise InvalidRange("from", f"from ({start}) to ({end}) is {(end - start).days + 1} days; a report covers at "
                                   f"most {MAX_DAYS} days: choose a later from or an earlier to")
    return start, end


def traffic(conn: sqlite3.Connection, since: date, until: date, *, limit: int = 20) -> dict[str, Any]:
    """Views and visitors per day (every day of the range, zeros included), the top pages,
    referrers, devices, browsers and countries, from ``since`` to ``until`` inclusive.

    ``visitors`` is unique within a day; over a range it is the sum of the days (the same person
    on two days counts twice, since nothing links their two days)."""
    if until < since:
        raise InvalidRange("from", f"from ({since}) is after to ({until}); give the earlier date first")
    span = (since.isoformat(), until.isoformat())
    stored = {row["day"]: row for row in conn.execute(
        "SELECT day, views, visitors FROM analytics_days WHERE day BETWEEN ? AND ? ORDER BY day", span)}
    days = []
    for offset in range((until - since).days + 1):
        day = (since + timedelta(days=offset)).isoformat()
        row = stored.get(day)
        days.append({"day": day, "views": row["views"] if row else 0, "visitors": row["visitors"] if row else 0})

    def top(sql: str) -> list[dict[str, Any]]:
        return [dict(row) for row in conn.execute(sql, (*span, limit))]

    return {
        "from": span[0], "to": span[1],
        "totals": {"views": sum(d["views"] for d in days), "visitors": sum(d["visitors"] for d in days)},
        "days": days,
        "pages": top("SELECT path, SUM(views) AS views, SUM(visitors) AS visitors FROM analytics_pages "
                     "WHERE day BETWEEN ? AND ? GROUP BY path ORDER BY views DESC, path LIMIT ?"),
        "referrers": top("SELECT host, SUM(views) AS views FROM analytics_referrers WHERE day BETWEEN ? AND ? "
                         "GROUP BY host ORDER BY views DESC, host LIMIT ?"),
        "devices": top("SELECT device, SUM(views) AS views FROM analytics_devices WHERE day BETWEEN ? AND ? "
                       "GROUP BY device ORDER BY views DESC, device LIMIT ?"),
        "browsers": top("SELECT browser, SUM(views) AS views FROM analytics_devices WHERE day BETWEEN ? AND ? "
                        "GROUP BY browser ORDER BY views DESC, browser LIMIT ?"),
        "countries": top("SELECT country, SUM(views) AS views FROM analytics_countries WHERE day BETWEEN ? AND ? "
                         "GROUP BY country ORDER BY views DESC, country LIMIT ?"),
    }
