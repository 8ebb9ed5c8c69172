"""The inbox: messages sent through the site's forms (newest first, unread in bold), one message
(opening it marks it read), archive and back, and the whole list as CSV."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from content.spreadsheet import cell

from ..forms import Submissions
from ..security import admin_base, services_of
from .common import PER_PAGE, back, page, who

CMS = {"feature": "cms"}
LABELS = {"inbox": "Inbox", "new": "New", "read": "Read", "archived": "Archived", "all": "All"}


@get("/admin/inbox", opt={"action": "forms:read", **CMS}, sync_to_thread=True, include_in_schema=False)
def inbox(request: Request, status: FromQuery[str] = "inbox", n: FromQuery[int] = 1) -> Response:
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        messages = Submissions(conn)
        total = messages.count(status)
        count = max(1, -(-total // PER_PAGE))
        n = min(max(n, 1), count)
        rows = messages.list(status, limit=PER_PAGE, offset=(n - 1) * PER_PAGE)
    for row in rows:
        text = next((f["value"] for f in row["fields"] if f["name"] == "message"), "")
        row["excerpt"] = text if len(text) <= 90 else text[:89].rstrip() + "…"
    paging = {"total": total, "n": n, "pages_count": count, "per_page": PER_PAGE}
    return page(request, "inbox.html", title="Inbox", section="inbox", messages=rows, status=status,
                filters=LABELS, paging=paging, more=f"{admin_base(request)}/inbox?{urlencode({'status': status})}",
                csv=f"{admin_base(request)}/inbox.csv?{urlencode({'status': status})}")


@get("/admin/inbox/{submission_id:int}", opt={"action": "forms:read", **CMS}, sync_to_thread=True,
     include_in_schema=False)
def message(request: Request, submission_id: FromPath[int]) -> Response:
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        shown = Submissions(conn).open(submission_id)
    return page(request, "message.html", title=f"Message from {shown['name'] or shown['email']}", section="inbox",
                message=shown, can_write=who(request).can("forms:write"))


def _move(request: Request, submission_id: int, status: str, done: str) -> Response:
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        Submissions(conn).set_status(submission_id, status)
    return back(request, "/inbox" if status == "archived" else f"/inbox/{submission_id}", saved=done)


@post("/admin/inbox/{submission_id:int}/archive", opt={"action": "forms:write", **CMS}, sync_to_thread=True,
      include_in_schema=False)
def archive(request: Request, submission_id: FromPath[int]) -> Response:
    return _move(request, submission_id, "archived", "Message archived.")


@post("/admin/inbox/{submission_id:int}/unarchive", opt={"action": "forms:write", **CMS}, sync_to_thread=True,
      include_in_schema=False)
def unarchive(request: Request, submission_id: FromPath[int]) -> Response:
    return _move(request, submission_id, "read", "Message moved back to the inbox.")


@get("/admin/inbox.csv", opt={"action": "forms:read", **CMS}, sync_to_thread=True, include_in_schema=False)
def inbox_csv(request: Request, status: FromQuery[str] = "all") -> Response:
    with services_of(request).databases.connection(who(request).tenant.slug) as conn:
        rows = Submissions(conn).list(status, limit=100_000)
    names = list(dict.fromkeys(f["name"] for row in reversed(rows) for f in row["fields"]))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "created_at", "form", "page", "status", "name", "email", *names])
    for row in rows:
        values = {f["name"]: f["value"] for f in row["fields"]}
        writer.writerow([cell(v) for v in (row["id"], row["created_at"], row["form"], row["page"], row["status"],
                                             row["name"], row["email"], *(values.get(n, "") for n in names))])
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="inbox.csv"', "Cache-Control": "no-store"})


ROUTES = [inbox, inbox_csv, message, archive, unarchive]
