"""The ASGI app the API benchmark serves: the real platform plus two bare ceiling handlers.

    /bare/read   a plain Litestar handler reading one row from a SQLite file
    /bare/write  a plain Litestar handler writing one row in a transaction

Everything else is Tessera's own app as `tessera serve` runs it: no jobs in the serving processes
(notifications, publishes and housekeeping are a `tessera worker`'s, which the benchmark starts
beside them). Settings come from the environment (TESSERA_DATA_DIR).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar import Litestar, get, post  # noqa: E402

from tessera.app import make_app  # noqa: E402
from tessera.settings import Settings  # noqa: E402

settings = Settings.from_env()
BARE_DB = settings.data_dir / "bare.db"
_local = threading.local()


def _conn() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(BARE_DB, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@get("/bare/read", sync_to_thread=True)
def bare_read() -> dict:
    row = _conn().execute("SELECT id, name, price FROM items WHERE id = 1").fetchone()
    return {"id": row[0], "name": row[1], "price": row[2]}


@post("/bare/write", sync_to_thread=True)
def bare_write() -> dict:
    conn = _conn()
    with conn:
        conn.execute("INSERT INTO writes (value) VALUES (1)")
    return {"ok": True}


bare = Litestar([bare_read, bare_write])
platform = make_app(settings, jobs=False)


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith("/bare/"):
        await bare(scope, receive, send)
    else:
        await platform(scope, receive, send)
