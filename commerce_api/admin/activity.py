"""Settings → Activity: the site's audit log for its owners and admins, newest first and paged, with the
platform operators' support views and suspensions highlighted (they are done by people outside the site)."""

from __future__ import annotations

from litestar import Request, Response, get

from ..errors import BadRequest
from ..security import admin_base, services_of
from .common import page, who

PER_PAGE = 50
# Entries made by the platform's operators about this site: its people should not miss them.
HIGHLIGHTED = ("support.started", "support.ended", "tenant.suspended", "tenant.resumed")


def _page_number(request: Request) -> int:
    raw = (request.query_params.get("n") or "1").strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10**6:
        raise BadRequest("n must be a whole number from 1 to 1000000", field="n")
    return int(raw)


@get("/admin/activity", opt={"action": "audit:read"}, sync_to_thread=True, include_in_schema=False)
def activity(request: Request) -> Response:
    audit = services_of(request).audit
    tenant_id = who(request).tenant.id
    n = _page_number(request)
    entries, total = audit.page(tenant_id, offset=(n - 1) * PER_PAGE, limit=PER_PAGE)
    pages_count = max(1, -(-total // PER_PAGE))
    if n > pages_count:
        n = pages_count
        entries, total = audit.page(tenant_id, offset=(n - 1) * PER_PAGE, limit=PER_PAGE)
    return page(request, "activity.html", title="Activity", section="settings", sub="activity", entries=entries,
                highlighted=HIGHLIGHTED, more=f"{admin_base(request)}/activity?",
                paging={"total": total, "n": n, "pages_count": pages_count, "per_page": PER_PAGE})


ROUTES = [activity]
