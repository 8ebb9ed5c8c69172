"""Platform state on PostgreSQL: the connection Tessera's SQLite code expects, over psycopg 3.

The platform's queries are written once, in the SQL both engines share; this module makes a psycopg
connection behave like the ``sqlite3`` connections ``content.migrations.connect`` opens:

- ``?`` and ``:name`` parameters, rows readable by index and by column name (``Row``);
- transactions as sqlite3 opens them: a data-changing statement starts one, ``commit()`` ends it;
  ``BEGIN IMMEDIATE`` (``content.migrations.immediate``) too;
- writes serialised the way one SQLite file serialises them: every write transaction takes one
  transaction-scoped advisory lock first, so a decision read inside ``immediate`` still holds at
  COMMIT, on any number of machines. The job queue alone claims without it (``FOR UPDATE SKIP
  LOCKED``, ``publish.jobs``), so runners never wait on each other's builds;
- errors raised as the ``sqlite3`` exception of the same kind (a duplicate is an ``IntegrityError``);
- the migrations' SQLite DDL translated (``INTEGER PRIMARY KEY`` ids become identity columns,
  ``COLLATE NOCASE`` a case-insensitive ICU collation).

One connection per thread and database URL in a process, shared by every registry, queue and
platform handle on that thread (as many connections as threads, not as objects).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from functools import lru_cache
from typing import Any, Iterator

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import TransactionStatus

from .errors import TesseraError

SCHEMES = ("postgresql://", "postgres://")
# The one lock every platform write takes (a constant: "tessera!" as a signed 64-bit integer).
WRITE_LOCK = int.from_bytes(b"tessera!", "big", signed=True)
_WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP)\b", re.IGNORECASE)


class Unreachable(TesseraError, sqlite3.OperationalError):
    """The database at ``TESSERA_DATABASE_URL`` cannot be reached (the message never holds its password)."""

    status = 503


def is_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(SCHEMES)


class Row(tuple):
    """A result row, by index or by column name, like ``sqlite3.Row``."""

    def __new__(cls, values: tuple, names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names[key])
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor):
    names = {column.name: n for n, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class _BoolAsInt(Dumper):
    """Python booleans stored as 0 and 1, as SQLite stores them (the columns are integers)."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class Cursor:
    """What ``execute`` returns: the psycopg cursor, plus sqlite3's ``lastrowid`` (the id of the row the
    last INSERT on the connection added, as of this statement)."""

    def __init__(self, cursor: psycopg.Cursor, conn: Connection, *, returned: bool = False) -> None:
        self._cursor, self._conn = cursor, conn
        self.lastrowid = conn._lastrowid
        self._rowcount = cursor.rowcount
        if returned:  # an INSERT given RETURNING here: its row says the id, and sqlite3 returns no rows
            row = cursor.fetchone() if cursor.rowcount > 0 else None
            if row is not None and "id" in row.keys():
                self.lastrowid = conn._lastrowid = row["id"]
            self._cursor = conn._raw.cursor()

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def description(self):
        return self._cursor.description

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Row]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class Connection:
    """A psycopg connection with the face of a ``sqlite3.Connection`` (see the module's docstring)."""

    engine = "postgresql"

    def __init__(self, raw: psycopg.Connection) -> None:
        self._raw = raw
        self._lastrowid: int | None = None
        self._writing = False  # the transaction holds the write lock: its commit may change cached rows

    # -- transactions ------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._raw.info.transaction_status != TransactionStatus.IDLE

    def begin(self, *, lock: bool = True) -> None:
        """Start a transaction; ``lock``: take the platform's write lock first (see the module)."""
        self._raw.execute("BEGIN")
        if lock:
            self._raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            self._writing = True

    def commit(self) -> None:
        if self.in_transaction:
            self._raw.execute("COMMIT")
            if self._writing:
                _changes.wrote()  # this process's caches see its own writes at once
        self._writing = False

    def rollback(self) -> None:
        if self.in_transaction:
            self._raw.execute("ROLLBACK")
        self._writing = False

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.rollback() if kind else self.commit()

    # -- statements --------------------------------------------------------------------------

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        verb = sql.lstrip()[:16].upper()
        if verb.startswith("BEGIN"):
            if self.in_transaction:  # a handle on this thread left one open: it becomes a locked one
                self._raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                self._writing = True
            else:
                self.begin()
            return Cursor(self._raw.cursor(), self)
        if verb.startswith(("COMMIT", "END")):
            self.commit()
            return Cursor(self._raw.cursor(), self)
        if verb.startswith("ROLLBACK"):
            self.rollback()
            return Cursor(self._raw.cursor(), self)
        if verb.startswith("PRAGMA"):
            return Cursor(self._raw.cursor(), self)  # SQLite's settings mean nothing here
        if not self.in_transaction and _WRITES.match(sql):
            self.begin()
        cursor = self._raw.cursor()
        statement = translate(sql)
        returned = verb.startswith("INSERT") and "RETURNING" not in sql.upper()
        if returned:
            statement += " RETURNING *"
        try:
            cursor.execute(statement, params if params is not None else ())
        except psycopg.Error as exc:
            # The transaction cannot go on after an error (PostgreSQL refuses every later statement
            # in it): end it here, as the ``with`` block around it would.
            if self._raw.info.transaction_status == TransactionStatus.INERROR:
                self.rollback()
            raise _as_sqlite(exc) from exc
        return Cursor(cursor, self, returned=returned)

    def executemany(self, sql: str, rows) -> Cursor:
        cursor = None
        for params in rows:
            cursor = self.execute(sql, params)
        return cursor or Cursor(self._raw.cursor(), self)

    def close(self) -> None:
        """Nothing: the connection is shared by every handle on the thread (``connect``) and lives
        as long as the thread."""


def _as_sqlite(exc: psycopg.Error) -> sqlite3.Error:
    for theirs, ours in ((psycopg.IntegrityError, sqlite3.IntegrityError),
                         (psycopg.DataError, sqlite3.DataError),
                         (psycopg.OperationalError, sqlite3.OperationalError),
                         (psycopg.ProgrammingError, sqlite3.ProgrammingError)):
        if isinstance(exc, theirs):
            return ours(str(exc).strip())
    return sqlite3.DatabaseError(str(exc).strip())


_TOKENS = re.compile(r"('(?:[^']|'')*')|(\?)|(%)|(?<![:\w]):([A-Za-z_]\w*)")
_DDL = [
    (re.compile(r"\bid\s+INTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.I),
     "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bCOLLATE\s+NOCASE\b", re.I), "COLLATE nocase"),
    (re.compile(r"\bNOT\s+LIKE\b", re.I), "NOT ILIKE"),  # SQLite's LIKE ignores case
    (re.compile(r"(?<!NOT )\bLIKE\b", re.I), "ILIKE"),
]


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """SQLite's spelling of a statement in PostgreSQL's (outside string literals)."""
    parts, end = [], 0
    for match in _TOKENS.finditer(sql):
        parts.append(_words(sql[end:match.start()]))
        literal, mark, percent, name = match.groups()
        parts.append(literal.replace("%", "%%") if literal else "%s" if mark else "%%" if percent else f"%({name})s")
        end = match.end()
    parts.append(_words(sql[end:]))
    return "".join(parts)


def _words(text: str) -> str:
    for pattern, replacement in _DDL:
        text = pattern.sub(replacement, text)
    return text


# -- connections --------------------------------------------------------------------------------

_local = threading.local()  # per thread: {url: Connection}; a thread's connections go with it


def connect(url: str) -> Connection:
    """This thread's connection to ``url``, opened (or reopened after a lost one) on first use."""
    open_ = getattr(_local, "conns", None)
    if open_ is None:
        open_ = _local.conns = {}
    conn = open_.get(url)
    if conn is None or conn._raw.closed or conn._raw.broken:
        try:
            raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
        except psycopg.Error as exc:
            raise Unreachable(f"cannot connect to the platform database at TESSERA_DATABASE_URL "
                              f"({_without_password(url, str(exc).strip())})") from None
        raw.adapters.register_dumper(bool, _BoolAsInt)
        conn = open_[url] = Connection(raw)
    return conn


def _without_password(url: str, text: str) -> str:
    """``text`` with the URL's password (as written, and decoded) replaced by ***."""
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(secret, "***")
    return text


def prepare(conn: Connection) -> None:
    """What the translated schema needs before its first migration: the case-insensitive collation."""
    conn._raw.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
    try:
        if conn._raw.execute("SELECT 1 FROM pg_collation WHERE collname = 'nocase'").fetchone() is None:
            conn._raw.execute("CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', "
                              "deterministic = false)")
    finally:
        conn._raw.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))


# -- what changed -------------------------------------------------------------------------------

CHANNEL = "tessera_platform"


def notify_changes(conn) -> None:
    """The migration step that makes PostgreSQL say when tenants, domains or plans change (a NOTIFY
    on ``CHANNEL`` per statement), so that caches of them (``content.registry.TenantCache``) need no
    query per request. Nothing on SQLite, whose ``PRAGMA data_version`` says it already."""
    if getattr(conn, "engine", "sqlite") != "postgresql":
        return
    conn.execute(f"CREATE OR REPLACE FUNCTION tessera_platform_changed() RETURNS trigger LANGUAGE plpgsql AS "
                 f"$body$ BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $body$")
    for table in ("tenants", "domains", "plans"):
        conn.execute(f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                     f"FOR EACH STATEMENT EXECUTE FUNCTION tessera_platform_changed()")


class _Changes:
    """A number that moves whenever platform rows that caches keep may have changed: at once for this
    process's own commits, and within milliseconds for other processes' (a thread listening for
    ``CHANNEL`` per database). ``version(url)`` is None while that thread is not listening: nothing
    may be cached then."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = 0
        self._heard: dict[str, int] = {}
        self._listening: dict[str, bool] = {}

    def wrote(self) -> None:
        with self._lock:
            self._local += 1

    def version(self, url: str) -> tuple[int, int] | None:
        with self._lock:
            if url not in self._listening:
                self._listening[url] = False
                threading.Thread(target=self._listen, args=(url,), name="platform-changes", daemon=True).start()
            if not self._listening[url]:
                return None
            return self._local, self._heard[url]

    def _listen(self, url: str) -> None:
        while True:
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    with self._lock:  # what was cached before this moment may be stale: start again
                        self._heard[url] = self._heard.get(url, 0) + 1
                        self._listening[url] = True
                    for _ in conn.notifies():
                        with self._lock:
                            self._heard[url] += 1
            except Exception:  # a lost connection: read through until listening again
                pass
            with self._lock:
                self._listening[url] = False
            time.sleep(1)


_changes = _Changes()


def changes_version(url: str) -> tuple[int, int] | None:
    return _changes.version(url)
