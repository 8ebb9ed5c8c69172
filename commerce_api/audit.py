"""The audit log: security-relevant events with actor, tenant, time and address."""

from __future__ import annotations

import json

from content.registry import now_iso

from .platform import PlatformDB

# Values under these keys never reach the log, whoever passes them in.
_SECRET_KEYS = {"password", "token", "refresh_token", "access_token", "secret", "csrf_token"}


class Audit:
    def __init__(self, db: PlatformDB) -> None:
        self.db = db

    def record(self, event: str, *, actor: int | None = None, tenant_id: int | None = None,
               address: str | None = None, **detail: object) -> None:
        clean = {k: v for k, v in detail.items() if k not in _SECRET_KEYS}
        with self.db.conn as conn:
            conn.execute("INSERT INTO audit_log (at, actor_user_id, tenant_id, event, detail, address) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (now_iso(), actor, tenant_id, event, json.dumps(clean, sort_keys=True), address))

    def entries(self, tenant_id: int | None = None, limit: int = 100) -> list[dict]:
        if tenant_id is None:
            rows = self.db.conn.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self.db.conn.execute("SELECT * FROM audit_log WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
                                        (tenant_id, limit))
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    def page(self, tenant_id: int, *, offset: int, limit: int) -> tuple[list[dict], int]:
        """One page of a tenant's entries, newest first, each with its actor's email; and how many there are."""
        total = self.db.conn.execute("SELECT count(*) FROM audit_log WHERE tenant_id = ?", (tenant_id,)).fetchone()[0]
        rows = self.db.conn.execute(
            "SELECT audit_log.*, users.email AS actor_email FROM audit_log "
            "LEFT JOIN users ON users.id = audit_log.actor_user_id WHERE audit_log.tenant_id = ? "
            "ORDER BY audit_log.id DESC LIMIT ? OFFSET ?", (tenant_id, limit, offset))
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows], total
