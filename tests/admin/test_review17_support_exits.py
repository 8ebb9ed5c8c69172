"""However an operator leaves a read-only support view (End support view, the header's Sign out, the API's
logout), the site's owners see it ended on Settings → Activity; and the view offers no form it refuses."""

from __future__ import annotations

import json
import sqlite3

import pytest

OPERATOR = "admin@tessera.test"


def _ended(site, reason: str) -> list[dict]:
    conn = sqlite3.connect(site["data"] / "platform.db")
    try:
        rows = conn.execute("SELECT detail FROM audit_log WHERE event = 'support.ended'").fetchall()
    finally:
        conn.close()
    return [d for d in (json.loads(r[0]) for r in rows) if d.get("reason") == reason]


def _start(admin, reason: str):
    operator = admin("bakery", OPERATOR)
    started = operator.post("/tenants/support", {"slug": "studio", "reason": reason})
    assert started.status_code == 303, started.text
    operator.get("/sites/studio/")
    return operator


@pytest.mark.parametrize("way", ["sign-out", "api-logout", "api-session"])
def test_leaving_a_support_view_any_way_is_recorded(admin, site, way):
    reason = f"Ticket 7100: left by {way}"
    operator = _start(admin, reason)
    if way == "sign-out":
        left = operator.post("/sites/studio/logout")
        assert left.status_code == 303
    elif way == "api-logout":
        left = operator.http.post("/sites/studio/api/auth/logout", json={},
                                  headers={"X-CSRF-Token": operator.csrf, "Accept": "application/json"})
        assert left.status_code == 200, left.text
    else:
        left = operator.http.delete("/sites/studio/api/auth/session",
                                    headers={"X-CSRF-Token": operator.csrf, "Accept": "application/json"})
        assert left.status_code == 200, left.text
    assert len(_ended(site, reason)) == 1
    assert "Support view by" not in operator.get("/sites/studio/pages").text


def test_support_view_offers_no_site_switcher(admin, site):
    operator = _start(admin, "Ticket 7200: the switcher")
    page = operator.get("/sites/studio/pages")
    assert "Support view by" in page.text
    assert 'action="/sites/studio/switch"' not in page.text
    operator.post("/sites/studio/support/end")
