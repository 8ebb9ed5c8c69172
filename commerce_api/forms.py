"""Messages people send through a site's forms: checked against the form the site published
(``meta.forms``, written with the catalog at each deploy; content is never parsed on a request),
stored in ``tenant.db`` with their ``form.submitted`` event in one transaction, read in the inbox.

Spam is refused quietly: a filled honeypot (``website``) or a form sent faster than a person can
fill it in (``_elapsed``, set by forms.js) is answered like a success and stores nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timezone

from content.fields import is_email
from content.migrations import immediate

from .errors import BadRequest, NotFound
from .notify import outbox

MAX_BODY = 32 * 1024
MIN_FILL_MS = 3000
LIMITS = {"textarea": 5000, "email": 254}
SHORT = 200
RATE = (5, 600)  # submissions per address and site, per this many seconds
STATUSES = ("new", "read", "archived")
FILTERS = ("inbox", "all", *STATUSES)  # inbox: new and read, not archived
_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")
_TEL = re.compile(r"^[0-9+()\-. /]{3,40}$")
_TICKED = {"yes", "on", "true", "1"}


class FormProblems(BadRequest):
    """What is wrong with a submission, every field of it; ``field`` and the message name the first."""

    code = "invalid_form"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems[0][1], field=problems[0][0])
        self.problems = problems


def published(conn: sqlite3.Connection) -> dict[str, dict]:
    row = conn.execute("SELECT value FROM meta WHERE key = 'forms'").fetchone()
    return json.loads(row["value"]) if row else {}


def form_of(conn: sqlite3.Connection, name: str) -> dict:
    form = published(conn).get(name)
    if form is None:
        raise NotFound(f"this site has no form called {name!r} (a form goes live when its page is published)",
                       code="unknown_form")
    return form


def is_spam(values: dict[str, str]) -> bool:
    """A robot's post: the hidden field filled in, or the form sent within seconds of loading."""
    if values.get("website", "").strip():
        return True
    elapsed = values.get("_elapsed", "").strip()
    return bool(elapsed) and (not elapsed.isdigit() or int(elapsed) < MIN_FILL_MS)


def clean(form: dict, values: dict[str, str]) -> list[dict]:
    """The submission's fields (name, label, value), in the form's order, without empty optional
    ones; raises ``FormProblems`` naming every field at fault. Fields the form lacks are ignored."""
    fields, problems = [], []
    for field in form["fields"]:
        name, label, kind = field["name"], field["label"], field["type"]
        value = values.get(name, "").replace("\r\n", "\n").strip()
        if kind != "textarea":
            value = " ".join(value.split())
        limit = LIMITS.get(kind, SHORT)
        if not value:
            if field.get("required"):
                problems.append((name, f"please {'tick' if kind == 'checkbox' else 'fill in'} “{label}”"))
            continue
        problem = _problem(field, value, limit)
        if problem:
            problems.append((name, f"“{label}” {problem}"))
            continue
        fields.append({"name": name, "label": label, "value": "yes" if kind == "checkbox" else value})
    if problems:
        raise FormProblems(problems)
    return fields


def _problem(field: dict, value: str, limit: int) -> str | None:
    kind = field["type"]
    if len(value) > limit:
        return f"is too long: at most {limit} characters, this has {len(value)}"
    if kind == "email" and not is_email(value):
        return "is not an email address such as name@example.com"
    if kind == "number" and not _NUMBER.match(value):
        return "must be a number, such as 12"
    if kind == "tel" and not _TEL.match(value):
        return "is not a phone number (digits, spaces and + ( ) - . / only)"
    if kind == "select" and value not in field.get("options", []):
        return f"must be one of: {', '.join(field.get('options', []))}"
    if kind == "checkbox" and value.lower() not in _TICKED:
        return "is either ticked or not"
    return None


class Submissions:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, name: str, form: dict, fields: list[dict]) -> int:
        """Store a checked submission and its event together: staff hear of every message kept, and
        of no message lost."""
        values = {f["name"]: f["value"] for f in fields}
        person, email = values.get("name", ""), values.get("email", "")
        fields = [f for f in fields if f["name"] not in ("name", "email")]  # kept in their own columns
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with immediate(self.conn):
            submission_id = self.conn.execute(
                "INSERT INTO form_submissions (form, page, name, email, fields, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, form["page"], person, email, json.dumps(fields, ensure_ascii=False), stamp)).lastrowid
            outbox.record(self.conn, "form.submitted", {
                "form": {"name": name, "title": form["title"]},
                "submission": {"id": submission_id, "name": person, "email": email, "page": form["page"],
                               "fields": fields}}, subject=str(submission_id))
        return submission_id  # type: ignore[return-value]

    def list(self, status: str = "inbox", *, form: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        where, params = _filter(status)
        if form is not None:
            where, params = (where + " AND" if where else " WHERE") + " form = ?", (*params, form)
        rows = self.conn.execute(f"SELECT * FROM form_submissions{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                                 (*params, limit, offset))
        return [_row(r) for r in rows]

    def count(self, status: str = "inbox") -> int:
        where, params = _filter(status)
        return self.conn.execute(f"SELECT COUNT(*) FROM form_submissions{where}", params).fetchone()[0]

    def get(self, submission_id: int) -> dict:
        row = self.conn.execute("SELECT * FROM form_submissions WHERE id = ?", (submission_id,)).fetchone()
        if row is None:
            raise NotFound(f"there is no message {submission_id}", code="unknown_submission")
        return _row(row)

    def open(self, submission_id: int) -> dict:
        """The message, marked read (a new one only: an archived message stays archived)."""
        message = self.get(submission_id)
        if message["status"] == "new":
            with self.conn:
                self.conn.execute("UPDATE form_submissions SET status = 'read' WHERE id = ? AND status = 'new'",
                                  (submission_id,))
            message["status"] = "read"
        return message

    def set_status(self, submission_id: int, status: str) -> dict:
        if status not in STATUSES:
            raise BadRequest(f"status must be one of: {', '.join(STATUSES)}", field="status")
        self.get(submission_id)
        with self.conn:
            self.conn.execute("UPDATE form_submissions SET status = ? WHERE id = ?", (status, submission_id))
        return self.get(submission_id)


def _filter(status: str) -> tuple[str, tuple]:
    if status not in FILTERS:
        raise BadRequest(f"status must be one of: {', '.join(FILTERS)}", field="status")
    if status == "all":
        return "", ()
    if status == "inbox":
        return " WHERE status != 'archived'", ()
    return " WHERE status = ?", (status,)


def _row(row: sqlite3.Row) -> dict:
    return {"id": row["id"], "form": row["form"], "page": row["page"], "name": row["name"], "email": row["email"],
            "fields": json.loads(row["fields"]), "status": row["status"], "created_at": row["created_at"]}
