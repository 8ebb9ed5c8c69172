"""Admin pages: sign-in, dashboard, pages and posts with a form editor (every save a commit),
conflicts shown side by side, history with diffs and revert."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote
from typing import Any

import jinja2
import yaml
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect
from markupsafe import Markup, escape
from typing_extensions import Annotated

from content.errors import ConflictError, ContentErrors, PathError, RepositoryError
from content.gitrepo import Author, Repository, safe_path
from content.money import Money
from content.parse import parse_site

from ..errors import ApiError, BadRequest, NotFound
from ..routes.auth import LoginBody, _login
from ..security import SESSION_COOKIE, Principal, principal_of, require_tenant, services_of

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                          autoescape=True, undefined=jinja2.StrictUndefined)
FIELDS = ("title", "slug", "status", "published_at", "excerpt", "meta_title", "meta_description", "tags")
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def page(request: Request, template: str, http_status: int = 200, **context: Any) -> Response:
    principal = principal_of(request)
    context.setdefault("section", "")
    html = _ENV.get_template(template).render(tenant=require_tenant(request), principal=principal,
                                              flash=request.query_params.get("saved"), **context)
    return Response(html, status_code=http_status, media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _who(request: Request) -> Principal:
    return principal_of(request)  # type: ignore[return-value]


def _repo(request: Request) -> Repository:
    return Repository(services_of(request).config.data_dir / "tenants" / require_tenant(request).slug / "repo.git")


@get("/admin/login", sync_to_thread=False, include_in_schema=False)
def login_form(request: Request) -> Response:
    return page(request, "login.html", title="Sign in", error=None, email="")


@post("/admin/login", sync_to_thread=True, include_in_schema=False)
def login(request: Request, data: Form) -> Response:
    services = services_of(request)
    try:
        _, tenant, user, role = _login(request, str(data.get("email", "")), str(data.get("password", "")))
    except ApiError as exc:
        return page(request, "login.html", exc.status, title="Sign in", error=exc.message, email=data.get("email", ""))
    token, _ = services.credentials.open_session(user.id, tenant.id)
    response = Redirect("/admin/", status_code=303)
    response.set_cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                        secure=services.config.production, max_age=12 * 3600)
    return response


@post("/admin/logout", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def logout(request: Request) -> Response:
    services_of(request).credentials.close_session(request.cookies.get(SESSION_COOKIE, ""))
    response = Redirect("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/admin/", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def dashboard(request: Request) -> Response:
    who = _who(request)
    services = services_of(request)
    with services.databases.connection(who.tenant.slug) as conn:
        row = conn.execute("SELECT * FROM deploys ORDER BY id DESC LIMIT 1").fetchone()
        orders = chart = None
        if who.can("orders:read"):
            orders, chart = _sales(conn)
    jobs = services.queue.list(who.tenant.slug, limit=5) if who.can("publish") else []
    return page(request, "dashboard.html", title="Dashboard", section="dashboard", deploy=dict(row) if row else None,
                edits=_repo(request).history(limit=8), orders=orders, chart=chart, jobs=jobs,
                can_publish=who.can("publish"))


def _sales(conn) -> tuple[dict, Markup]:
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=29)
    rows = conn.execute("SELECT substr(created_at, 1, 10) AS day, count(*) AS n, sum(total) AS total, "
                        "max(currency) AS currency FROM orders WHERE payment_status IN ('paid', 'refunded') "
                        "AND created_at >= ? GROUP BY day", (start.isoformat(),)).fetchall()
    currency = next((r["currency"] for r in rows if r["currency"]), None) or (
        conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone() and "GBP") or "EUR"
    by_day = {r["day"]: r["total"] or 0 for r in rows}
    todays = conn.execute("SELECT count(*) FROM orders WHERE created_at >= ?", (today.isoformat(),)).fetchone()[0]
    days = [start + timedelta(days=n) for n in range(30)]
    return {"count": todays, "revenue": str(Money(by_day.get(today.isoformat(), 0), currency))}, _chart(days, by_day, currency)


def _chart(days: list[date], by_day: dict[str, int], currency: str) -> Markup:
    """A server-rendered SVG bar chart with a text alternative."""
    top = max(by_day.values(), default=0) or 1
    width, height, bar = 600, 160, 600 / len(days)
    bars = []
    for n, day in enumerate(days):
        value = by_day.get(day.isoformat(), 0)
        h = round(140 * value / top)
        label = f"{day.isoformat()}: {Money(value, currency)}"
        bars.append(f'<rect x="{n * bar + 2:.1f}" y="{150 - h}" width="{bar - 4:.1f}" height="{max(h, 1)}" '
                    f'fill="#1f5fbf"><title>{escape(label)}</title></rect>')
    total = Money(sum(by_day.values()), currency)
    return Markup(f'<svg role="img" aria-label="Paid revenue per day over the last 30 days, {escape(str(total))} in all" '
                  f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px">'
                  f'<line x1="0" y1="150.5" x2="{width}" y2="150.5" stroke="#999"/>{"".join(bars)}</svg>')


@get("/admin/pages", opt={"action": "pages:read"}, sync_to_thread=True, include_in_schema=False)
def pages(request: Request, q: FromQuery[str] = "", status: FromQuery[str] = "") -> Response:
    now = datetime.now(timezone.utc)
    source = _repo(request).source()
    try:
        content = parse_site(source)
    except ContentErrors as exc:
        return page(request, "pages.html", title="Pages and posts", section="pages", q=q, status=status,
                    can_write=_who(request).can("pages:write"), entries=[],
                    flash=f"The site has {len(exc.errors)} problem(s): {exc.errors[0]}")
    finally:
        source.close()
    entries = []
    for entry in (*content.pages, *content.posts):
        shown = "scheduled" if entry.status == "published" and entry.published_at and entry.published_at > now \
            else entry.status
        if (status and shown != status) or (q and q.lower() not in (entry.title + " " + entry.body).lower()):
            continue
        entries.append({"path": entry.path, "title": entry.title, "kind": entry.kind, "shown_status": shown,
                        "updated_by": entry.updated_by})
    return page(request, "pages.html", title="Pages and posts", section="pages", q=q, status=status,
                can_write=_who(request).can("pages:write"), entries=entries)


def _editable(path: str) -> str:
    try:
        path = safe_path(path)
    except PathError as exc:
        raise BadRequest(str(exc), field="path") from None
    if not (path.startswith(("pages/", "posts/")) and path.endswith(".md") and path.count("/") == 1):
        raise BadRequest("only pages/*.md and posts/*.md can be edited here", field="path")
    return path


def _fields(text: str) -> dict[str, str]:
    values = {name: "" for name in FIELDS} | {"status": "published", "body": ""}
    if not text.startswith("---"):
        values["body"] = text
        return values
    _, front, body = text.split("---", 2)
    data = yaml.safe_load(front) or {}
    for name in FIELDS:
        value = data.get(name)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        values[name] = "" if value is None else str(value)
    values["body"] = body.lstrip("\n")
    return values


def _file(form: dict[str, Any]) -> bytes:
    data: dict[str, Any] = {}
    for name in FIELDS:
        value = str(form.get(name, "")).strip()
        if not value or (name == "status" and value == "published"):
            continue
        data[name] = [t.strip() for t in value.split(",") if t.strip()] if name == "tags" else value
    front = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    body = str(form.get("body", "")).replace("\r\n", "\n")
    return f"---\n{front}---\n{body.rstrip()}\n".encode()


# A separate path for the POST: Litestar 2.25 fails a sync GET with a required query parameter when a
# POST shares its path.
@get("/admin/pages/edit", opt={"action": "pages:read"}, sync_to_thread=True, include_in_schema=False)
def edit_form(request: Request, path: FromQuery[str]) -> Response:
    path = _editable(path)
    repo = _repo(request)
    current = repo.read(path)
    return page(request, "edit.html", title="Edit", section="pages", path=path, base=repo.head(), exists=current is not None,
                fields=_fields(current.decode() if current else ""), errors=[], conflict=None, message="")


@post("/admin/pages/save", opt={"action": "pages:write"}, sync_to_thread=True, include_in_schema=False)
def save(request: Request, data: Form) -> Response:
    who = _who(request)
    path = _editable(str(data.get("path", "")))
    repo = _repo(request)
    new = _file(data)
    fields = _fields(new.decode())
    message = str(data.get("message", "")).strip() or f"Edit {path}"
    source = _Overlay(repo.source(), path, new)
    try:
        parse_site(source)
    except ContentErrors as exc:
        mine = [str(e) for e in exc.errors if e.path == path]
        if mine:
            return page(request, "edit.html", 422, title="Edit", section="pages", path=path, base=data.get("base", ""),
                        exists=True, fields=fields, errors=mine, conflict=None, message=message)
    finally:
        source.base.close()
    try:
        repo.write({path: new}, Author(who.user.name or who.user.email, who.user.email), message,
                   base=str(data.get("base") or "") or None)
    except ConflictError as exc:
        return page(request, "edit.html", 409, title="Edit", section="pages", path=path, base=exc.head, exists=True,
                    fields=fields, errors=[], message=message,
                    conflict={"theirs": (exc.theirs or b"(deleted)").decode(errors="replace"),
                              "yours": new.decode(errors="replace")})
    except RepositoryError as exc:
        raise BadRequest(str(exc)) from None
    return Redirect(f"/admin/pages/edit?path={path}&saved=Saved.", status_code=303)


class _Overlay:
    """The repository's latest files with one file replaced: what a save would commit."""

    def __init__(self, base, path: str, data: bytes) -> None:
        self.base, self.path, self.data = base, path, data

    def paths(self) -> list[str]:
        return sorted(set(self.base.paths()) | {self.path})

    def read(self, path: str) -> bytes:
        return self.data if path == self.path else self.base.read(path)

    def size(self, path: str) -> int:
        return len(self.data) if path == self.path else self.base.size(path)

    def fingerprint(self, path: str) -> str:
        return "edited" if path == self.path else self.base.fingerprint(path)

    def info(self) -> dict:
        return self.base.info()


@get("/admin/history", opt={"action": "pages:read"}, sync_to_thread=True, include_in_schema=False)
def history(request: Request, path: FromQuery[str]) -> Response:
    path = _editable(path)
    return page(request, "history.html", title="History", section="pages", path=path,
                commits=_repo(request).history(path), can_write=_who(request).can("pages:write"))


@post("/admin/revert", opt={"action": "pages:write"}, sync_to_thread=True, include_in_schema=False)
def revert(request: Request, data: Form) -> Response:
    who = _who(request)
    path = _editable(str(data.get("path", "")))
    repo = _repo(request)
    try:
        repo.revert(str(data.get("sha", "")), Author(who.user.name or who.user.email, who.user.email))
    except ConflictError:
        return Redirect(f"/admin/history?path={path}&saved=That change cannot be undone automatically: "
                        "later edits touch the same lines.", status_code=303)
    except RepositoryError as exc:
        raise NotFound(str(exc)) from None
    return Redirect(f"/admin/history?path={path}&saved=Change undone.", status_code=303)


@get("/admin/orders", opt={"action": "orders:read", "feature": "ecommerce"}, sync_to_thread=True, include_in_schema=False)
def orders(request: Request, status: FromQuery[str] = "") -> Response:
    from ..shop.orders import STATUSES, Orders

    with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
        rows = Orders(conn).list(status=status or None, limit=200)
    for row in rows:
        row["total_text"] = str(Money(row["total"], row["currency"]))
    return page(request, "orders.html", title="Orders", section="orders", orders=rows, status=status,
                statuses=STATUSES)


@get("/admin/orders/{number:int}", opt={"action": "orders:read", "feature": "ecommerce"}, sync_to_thread=True,
     include_in_schema=False)
def order_detail(request: Request, number: FromPath[int], error: FromQuery[str] = "") -> Response:
    from ..shop.orders import TRANSITIONS, Orders

    with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
        order = Orders(conn).get(number)
    currency = order["currency"]
    return page(request, "order.html", title=f"Order {number}", section="orders", order=order, error=error,
                money=lambda minor: str(Money(minor, currency)), can_write=_who(request).can("orders:write"),
                next_statuses=sorted(TRANSITIONS[order["status"]] - ({"processing"} if order["status"] == "pending" else set())))


@post("/admin/orders/{number:int}/status", opt={"action": "orders:write", "feature": "ecommerce"}, sync_to_thread=True,
      include_in_schema=False)
def order_status(request: Request, number: FromPath[int], data: Form) -> Response:
    from ..shop.orders import Orders

    who = _who(request)
    tracking = str(data.get("tracking_number", "")).strip() or None
    with services_of(request).databases.connection(who.tenant.slug) as conn:
        try:
            Orders(conn).set_status(number, str(data.get("status", "")), actor=who.user.email,
                                    note=str(data.get("note", "")), tracking_number=tracking)
        except ApiError as exc:
            return Redirect(f"/admin/orders/{number}?error={quote(exc.message)}", status_code=303)
    return Redirect(f"/admin/orders/{number}?saved=Order updated.", status_code=303)


@post("/admin/orders/{number:int}/paid", opt={"action": "orders:write", "feature": "ecommerce"}, sync_to_thread=True,
      include_in_schema=False)
def order_paid(request: Request, number: FromPath[int]) -> Response:
    from ..shop.orders import Orders

    who = _who(request)
    with services_of(request).databases.connection(who.tenant.slug) as conn:
        try:
            Orders(conn).mark_paid(number, actor=who.user.email)
        except ApiError as exc:
            return Redirect(f"/admin/orders/{number}?error={quote(exc.message)}", status_code=303)
    return Redirect(f"/admin/orders/{number}?saved=Payment recorded.", status_code=303)


@post("/admin/publish", opt={"action": "publish"}, sync_to_thread=True, include_in_schema=False)
def publish_now(request: Request) -> Response:
    who = _who(request)
    job = services_of(request).queue.enqueue(who.tenant.slug, actor=who.user.email)
    return Redirect(f"/admin/?saved=Publishing (job {job.id}); the site updates in a moment.", status_code=303)


ROUTES = [login_form, login, logout, dashboard, pages, edit_form, save, history, revert, orders, order_detail,
          order_status, order_paid, publish_now]
