"""Invitations: a one-time link that gives whoever opens it (with the invited email) a role here."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from content.migrations import immediate
from content.registry import now_iso

from ..errors import NotFound
from ..platform import PlatformDB
from .credentials import INVITATION_TTL, _hash
from .users import valid_email, valid_role


class Invitations:
    def __init__(self, db: PlatformDB) -> None:
        self.db = db

    def create(self, tenant_id: int, email: str, role: str, invited_by: int) -> tuple[int, str]:
        """Returns (invitation id, token for the link). A newer invitation replaces older open ones."""
        email, role = valid_email(email), valid_role(role)
        token = secrets.token_urlsafe(32)
        expires = (datetime.now(timezone.utc) + INVITATION_TTL).isoformat(timespec="seconds")
        with immediate(self.db.conn) as conn:
            conn.execute("UPDATE invitations SET revoked_at = ? WHERE tenant_id = ? AND email = ? "
                         "AND accepted_at IS NULL AND revoked_at IS NULL", (now_iso(), tenant_id, email))
            cursor = conn.execute("INSERT INTO invitations (tenant_id, email, role, token_hash, invited_by, created_at,"
                                  " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                  (tenant_id, email, role, _hash(token), invited_by, now_iso(), expires))
        return cursor.lastrowid, token

    def pending(self, tenant_id: int) -> list[dict]:
        rows = self.db.conn.execute("SELECT id, email, role, created_at, expires_at FROM invitations WHERE tenant_id = ?"
                                    " AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? ORDER BY id",
                                    (tenant_id, now_iso()))
        return [dict(r) for r in rows]

    def find(self, token: str, tenant_id: int) -> dict | None:
        """The open invitation behind a link for this tenant, else None."""
        row = self.db.conn.execute("SELECT * FROM invitations WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
        if (row is None or row["tenant_id"] != tenant_id or row["accepted_at"] or row["revoked_at"]
                or row["expires_at"] < now_iso()):
            return None
        return dict(row)

    def accept(self, invitation_id: int) -> None:
        with self.db.conn as conn:
            conn.execute("UPDATE invitations SET accepted_at = ? WHERE id = ?", (now_iso(), invitation_id))

    def revoke(self, invitation_id: int, tenant_id: int) -> None:
        with self.db.conn as conn:
            cursor = conn.execute("UPDATE invitations SET revoked_at = ? WHERE id = ? AND tenant_id = ? "
                                  "AND accepted_at IS NULL AND revoked_at IS NULL", (now_iso(), invitation_id, tenant_id))
        if cursor.rowcount == 0:
            raise NotFound("no such open invitation")
