"""Reads for Reports → Traffic beyond ``publish.analytics.traffic``: the products whose pages were
viewed, the deploys that went live in a range (with their commits' messages) and an operator's
per-site totals. Read-only."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

from content.errors import RepositoryError
from content.gitrepo import Repository

# A deploy that went live, and stayed so until the next one (superseded) or still is.
_WENT_LIVE = "status IN ('live', 'superseded')"


def products_viewed(conn: sqlite3.Connection, since: date, until: date, *, limit: int = 20) -> list[dict[str, Any]]:
    """The published products whose page (its URL in the catalog) was viewed, most viewed first."""
    return [dict(row) for row in conn.execute(
        "SELECT p.slug AS product, p.name AS name, SUM(a.views) AS views, SUM(a.visitors) AS visitors "
        "FROM analytics_pages a JOIN catalog_products p ON a.path = p.url WHERE a.day BETWEEN ? AND ? "
        "GROUP BY p.slug ORDER BY views DESC, p.name LIMIT ?", (since.isoformat(), until.isoformat(), limit))]


def deploys(conn: sqlite3.Connection, since: date, until: date) -> list[dict[str, Any]]:
    """Deploys that went live between ``since`` and ``until`` (UTC days, as traffic is counted), oldest first."""
    return [dict(row) for row in conn.execute(
        f"SELECT id, substr(finished_at, 1, 10) AS day, finished_at, commit_sha, rollback_of FROM deploys "
        f"WHERE {_WENT_LIVE} AND finished_at IS NOT NULL AND substr(finished_at, 1, 10) BETWEEN ? AND ? ORDER BY id",
        (since.isoformat(), until.isoformat()))]


def commit_messages(repo: Repository, shas: list[str]) -> dict[str, str]:
    """Each commit's subject line, in one ``git log`` for all of them; a commit the repository no
    longer has (or no repository at all) is simply left out: the deploy is listed without it."""
    wanted = sorted({sha for sha in shas if sha and all(c in "0123456789abcdef" for c in sha)})
    if not wanted:
        return {}
    try:
        out = repo.git("log", "--no-walk=unsorted", "--ignore-missing", "--format=%H%x1f%s", *wanted, "--",
                       check=False).stdout.decode(errors="replace")
    except (OSError, RepositoryError):
        return {}
    found = dict(line.split("\x1f", 1) for line in out.splitlines() if "\x1f" in line)
    return {sha: found[sha] for sha in wanted if sha in found}


def totals(conn: sqlite3.Connection, since: date, until: date) -> tuple[int, int]:
    """(views, visitors) from ``since`` to ``until``; visitors are the sum of each day's."""
    row = conn.execute("SELECT COALESCE(SUM(views), 0), COALESCE(SUM(visitors), 0) FROM analytics_days "
                       "WHERE day BETWEEN ? AND ?", (since.isoformat(), until.isoformat())).fetchone()
    return int(row[0]), int(row[1])
