"""Credentials, each bound to one user *and one tenant*.

- access tokens: short-lived JWTs (HS256 with the platform secret, algorithm pinned) carrying user,
  tenant and role;
- refresh tokens: opaque, stored hashed, rotated on every use; presenting a used one revokes its
  whole family (a stolen token is useless once either party refreshes);
- sessions: the admin UI's cookie, stored hashed, with a CSRF token;
- API tokens: personal, for git pushes and scripts, shown once and stored hashed.

Logging out or changing a password revokes refresh tokens and sessions.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

from content.migrations import immediate
from content.registry import now_iso

from ..errors import NotFound, Unauthorized
from ..platform import PlatformDB

ACCESS_TTL = timedelta(minutes=15)
PASS_TTL = timedelta(minutes=15)  # the list of sites after signing in on the admin's host
REFRESH_TTL = timedelta(days=30)
SESSION_TTL = timedelta(hours=12)
SUPPORT_TTL = timedelta(hours=1)  # an operator's read-only support view of a tenant's admin
HANDOFF_TTL = timedelta(minutes=2)
INVITATION_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=1)
RESETS_PER_HOUR = 3
ALGORITHM = "HS256"
API_TOKEN_PREFIX = "tsr_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _later(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) + delta).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Session:
    """A live admin session. ``support_reason`` is set on an operator's read-only support view."""

    user_id: int
    tenant_id: int
    csrf: str
    expires_at: str
    read_only: bool = False
    support_reason: str | None = None


@dataclass(frozen=True)
class Claims:
    user_id: int
    tenant: str
    role: str
    issued_at: int


class Credentials:
    def __init__(self, db: PlatformDB, secret_key: str) -> None:
        self.db = db
        self.secret = secret_key

    # -- access tokens ----------------------------------------------------------------------

    def access_token(self, user_id: int, tenant: str, role: str) -> str:
        now = int(time.time())
        payload = {"sub": str(user_id), "tid": tenant, "role": role, "typ": "access", "iat": now,
                   "exp": now + int(ACCESS_TTL.total_seconds()), "jti": secrets.token_hex(8)}
        return jwt.encode(payload, self.secret, algorithm=ALGORITHM)

    def read_access_token(self, token: str) -> Claims:
        try:
            payload = jwt.decode(token, self.secret, algorithms=[ALGORITHM],
                                 options={"require": ["exp", "iat", "sub", "tid", "role", "typ"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the access token has expired; refresh it", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("the access token is not valid", code="invalid_token") from None
        if payload.get("typ") != "access":
            raise Unauthorized("the access token is not valid", code="invalid_token")
        return Claims(int(payload["sub"]), payload["tid"], payload["role"], int(payload["iat"]))

    # -- the pass of the list of sites ------------------------------------------------------

    def site_pass(self, user_id: int) -> str:
        """What signing in on the admin's own host gives: for ``PASS_TTL``, the account may open a
        session at any site it belongs to (nothing is written until it does)."""
        now = int(time.time())
        return jwt.encode({"sub": str(user_id), "typ": "pass", "iat": now, "exp": now + int(PASS_TTL.total_seconds())},
                          self.secret, algorithm=ALGORITHM)

    def read_site_pass(self, token: str) -> tuple[int, int] | None:
        """(user id, issued at) of a valid pass, else None."""
        try:
            payload = jwt.decode(token or "", self.secret, algorithms=[ALGORITHM],
                                 options={"require": ["exp", "iat", "sub", "typ"]})
        except jwt.PyJWTError:
            return None
        if payload.get("typ") != "pass":
            return None
        return int(payload["sub"]), int(payload["iat"])

    # -- refresh tokens ---------------------------------------------------------------------

    def refresh_token(self, user_id: int, tenant_id: int, family: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        with self.db.conn as conn:
            conn.execute("INSERT INTO refresh_tokens (user_id, tenant_id, family, token_hash, created_at, "
                         "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (user_id, tenant_id, family or secrets.token_hex(12), _hash(token), now_iso(),
                          _later(REFRESH_TTL)))
        return token

    def rotate(self, token: str, tenant_id: int) -> tuple[int, str]:
        """Spend a refresh token: returns (user id, new refresh token). Reuse revokes the family."""
        with immediate(self.db.conn) as conn:
            row = conn.execute("SELECT * FROM refresh_tokens WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
            if row is None or row["tenant_id"] != tenant_id:
                raise Unauthorized("the refresh token is not valid", code="invalid_token")
            if row["used_at"] or row["revoked_at"]:
                conn.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
                             (now_iso(), row["family"]))
                reused = True
            else:
                reused = False
                if row["expires_at"] < now_iso():
                    raise Unauthorized("the refresh token has expired; log in again", code="token_expired")
                conn.execute("UPDATE refresh_tokens SET used_at = ? WHERE id = ?", (now_iso(), row["id"]))
        if reused:
            raise Unauthorized("this refresh token was already used; every token of the session is now "
                               "revoked, log in again", code="token_reused")
        return row["user_id"], self.refresh_token(row["user_id"], tenant_id, row["family"])

    def revoke_refresh(self, token: str) -> None:
        with self.db.conn as conn:
            row = conn.execute("SELECT family FROM refresh_tokens WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
            if row:
                conn.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
                             (now_iso(), row["family"]))

    def revoke_all(self, user_id: int) -> None:
        """Every refresh token and session of the user, on every tenant (password change)."""
        stamp = now_iso()
        with self.db.conn as conn:
            conn.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                         (stamp, user_id))
            conn.execute("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                         (stamp, user_id))

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, user_id: int, tenant_id: int, *, support_reason: str | None = None) -> tuple[str, str]:
        """Returns (session token for the cookie, CSRF token for forms). With ``support_reason`` the
        session is an operator's read-only support view, for an hour at most."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        ttl = SESSION_TTL if support_reason is None else SUPPORT_TTL
        with self.db.conn as conn:
            conn.execute("INSERT INTO sessions (user_id, tenant_id, token_hash, csrf_token, created_at, expires_at,"
                         " read_only, support_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (user_id, tenant_id, _hash(token), csrf, now_iso(), _later(ttl),
                          int(support_reason is not None), support_reason))
        return token, csrf

    def session(self, token: str) -> Session | None:
        """The live session of a cookie, else None (unknown, revoked or expired)."""
        row = self.db.conn.execute("SELECT * FROM sessions WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
        if row is None or row["revoked_at"] or row["expires_at"] < now_iso():
            return None
        return Session(row["user_id"], row["tenant_id"], row["csrf_token"], row["expires_at"],
                       bool(row["read_only"]), row["support_reason"])

    def close_session(self, token: str) -> None:
        with self.db.conn as conn:
            conn.execute("UPDATE sessions SET revoked_at = ? WHERE token_hash = ?", (now_iso(), _hash(token or "")))

    # -- password resets ---------------------------------------------------------------------

    def password_reset(self, user_id: int) -> str | None:
        """A one-time reset token for an hour; None once the account had three in the last hour."""
        since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
        with immediate(self.db.conn) as conn:
            recent = conn.execute("SELECT count(*) FROM password_resets WHERE user_id = ? AND created_at >= ?",
                                  (user_id, since)).fetchone()[0]
            if recent >= RESETS_PER_HOUR:
                return None
            token = secrets.token_urlsafe(32)
            conn.execute("INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
                         (user_id, _hash(token), now_iso(), _later(RESET_TTL)))
        return token

    def reset_user(self, token: str) -> int | None:
        """The user a live reset token belongs to (the token stays usable)."""
        row = self.db.conn.execute("SELECT * FROM password_resets WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
        if row is None or row["used_at"] or row["expires_at"] < now_iso():
            return None
        return row["user_id"]

    def take_password_reset(self, token: str) -> int | None:
        """Use up a reset token (and every other open one of that account); returns its user."""
        with immediate(self.db.conn) as conn:
            row = conn.execute("SELECT * FROM password_resets WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
            if row is None or row["used_at"] or row["expires_at"] < now_iso():
                return None
            conn.execute("UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
                         (now_iso(), row["user_id"]))
        return row["user_id"]

    def create_api_token(self, user_id: int, tenant_id: int, name: str) -> tuple[int, str]:
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.conn as conn:
            cursor = conn.execute("INSERT INTO api_tokens (user_id, tenant_id, name, prefix, token_hash, created_at)"
                                  " VALUES (?, ?, ?, ?, ?, ?)",
                                  (user_id, tenant_id, name.strip() or "token", token[:10], _hash(token), now_iso()))
        return cursor.lastrowid, token

    def api_token(self, token: str) -> tuple[int, int] | None:
        """(user id, tenant id) of a live API token, else None."""
        row = self.db.conn.execute("SELECT * FROM api_tokens WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
        if row is None or row["revoked_at"]:
            return None
        # "Last used" to the minute: a script calling many times a second must not write platform.db
        # (and take its write lock) on every call.
        stamp = now_iso()
        if (row["last_used_at"] or "")[:16] != stamp[:16]:
            with self.db.conn as conn:
                conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (stamp, row["id"]))
        return row["user_id"], row["tenant_id"]

    def api_tokens(self, user_id: int, tenant_id: int) -> list[dict]:
        rows = self.db.conn.execute("SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens "
                                    "WHERE user_id = ? AND tenant_id = ? ORDER BY id", (user_id, tenant_id))
        return [dict(r) for r in rows]

    def revoke_api_token(self, token_id: int, user_id: int, tenant_id: int) -> None:
        with self.db.conn as conn:
            cursor = conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND tenant_id = ? "
                                  "AND revoked_at IS NULL", (now_iso(), token_id, user_id, tenant_id))
        if cursor.rowcount == 0:
            raise NotFound("no such token")
