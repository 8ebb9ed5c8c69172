"""Showing a secret once, after a redirect: a new webhook's signing secret, a new gift card's code.

A create form answers with a redirect (so reloading the page never creates a second one), and the
page it leads to shows the secret once. The secret waits for that page sealed in ``tenant.db``
under a random one-time token; the URL carries only the token, which the page uses up, and which
expires after ``KEEP`` seconds if the page is never opened.
"""

from __future__ import annotations

import secrets
import sqlite3
import time

from litestar import Request

from ..sealing import InvalidToken, seal, unseal
from ..security import require_tenant, services_of

KEEP = 600
PURPOSE = b"tessera shown once"


def stash(conn: sqlite3.Connection, secret_key: str, text: str) -> str:
    token = secrets.token_urlsafe(24)
    with conn:
        conn.execute("DELETE FROM shown_once WHERE expires_at < ?", (time.time(),))
        conn.execute("INSERT INTO shown_once (token, sealed, expires_at) VALUES (?, ?, ?)",
                     (token, seal(secret_key, PURPOSE, text), time.time() + KEEP))
    return token


def take(conn: sqlite3.Connection, secret_key: str, token: str) -> str:
    """The secret stashed under ``token``, once; "" when it was shown already, expired or never was."""
    if not token or len(token) > 64:
        return ""
    with conn:
        row = conn.execute("DELETE FROM shown_once WHERE token = ? RETURNING sealed, expires_at", (token,)).fetchone()
    if row is None or row["expires_at"] < time.time():
        return ""
    try:
        return unseal(secret_key, PURPOSE, row["sealed"])
    except InvalidToken:
        return ""


def shown(request: Request, token: str) -> str:
    """For the page a create form redirected to: its secret, once (``?shown=<token>``)."""
    if not token:
        return ""
    services = services_of(request)
    with services.databases.connection(require_tenant(request).slug) as conn:
        return take(conn, services.config.secret_key, token)
