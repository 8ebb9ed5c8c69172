"""An API token's "last used" is kept to the minute: a script calling many times a second does not
write platform.db on every call, and the admin still shows when the token was last used."""

from __future__ import annotations

from content.registry import now_iso


def test_last_used_is_written_once_a_minute(world):
    credentials = world.services.credentials
    tenant = world.tenants.registry.get("alpha")
    user_id = world.services.db.conn.execute("SELECT id FROM users WHERE email = 'owner@alpha.test'").fetchone()[0]
    token_id, token = credentials.create_api_token(user_id, tenant.id, "script")
    conn = world.services.db.conn

    def last_used() -> str | None:
        return conn.execute("SELECT last_used_at FROM api_tokens WHERE id = ?", (token_id,)).fetchone()[0]

    assert credentials.api_token(token) == (user_id, tenant.id)
    first = last_used()
    assert first is not None and first[:16] == now_iso()[:16]
    mark = now_iso()[:16] + ":00+00:00"  # this minute, but not the moment of the call
    with conn:
        conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (mark, token_id))
    for _ in range(20):
        assert credentials.api_token(token) == (user_id, tenant.id)
    if now_iso()[:16] == mark[:16]:  # still the same minute (unless the clock just turned): nothing written
        assert last_used() == mark
    with conn:
        conn.execute("UPDATE api_tokens SET last_used_at = '2026-01-01T00:00:00+00:00' WHERE id = ?", (token_id,))
    credentials.api_token(token)
    assert last_used()[:16] == now_iso()[:16]
