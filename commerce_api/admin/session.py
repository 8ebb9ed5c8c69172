"""Signing in and out, the dashboard, and moving between tenants.

The admin has an origin of its own (``admin.<base domain>``) that serves no tenant content. Each
tenant's pages live under ``/sites/<slug>/``, and a session belongs to one tenant: its cookie is
scoped to that path. ``/login`` there signs in and lists the sites the account belongs to (a page
at a time, with a search), holding a signed pass for 15 minutes in a cookie of the admin's host;
``/go/<slug>`` opens a session at one of them. Nothing is written per site until one is opened,
so an operator of a thousand sites signs in as fast as anyone. The switcher opens a session at the
other site directly.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from markupsafe import Markup

from content.money import Money

from ..auth.credentials import PASS_TTL
from ..errors import ApiError, Forbidden, NotFound
from ..routes.auth import GENERIC_FAILURE, _address, _login
from ..security import SESSION_COOKIE, admin_base, end_session, services_of, site_base, tenant_of
from ..shop.pricing import Rules
from . import charts
from .common import ENV, Form, admin_html, new_nonce, page, repo_of, text, warm_parse_cache, who


def _start_session(request: Request, user_id: int, tenant_id: int) -> Response:
    services = services_of(request)
    token, _ = services.credentials.open_session(user_id, tenant_id)
    tenant = services.db.registry.by_id(tenant_id)
    if tenant is None:
        raise NotFound("no such site")
    base = site_base(tenant.slug)
    response = Redirect(f"{base}/", status_code=303)
    response.set_cookie(key=SESSION_COOKIE, value=token, path=base, httponly=True, samesite="lax",
                        secure=services.config.production, max_age=12 * 3600)
    warm_parse_cache(services, tenant.slug)
    return response


def _platform_page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("error", None)
    nonce = new_nonce()
    html = ENV.get_template(template).render(tenant=None, principal=None, switch_to=[], section="", flash=None,
                                             root="", nonce=nonce, **context)
    return admin_html(html, status, nonce)


# Signing in has no session yet, so its form carries a token that must match a cookie set with it
# (double submit): another site cannot sign a visitor in to an account of its choosing.
LOGIN_COOKIE = "tessera_login"


def _login_page(request: Request, status: int = 200, *, error: str | None = None, email: str = "") -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    if tenant_of(request) is None:
        response = _platform_page("login.html", status, title="Sign in", error=error, email=email, login_token=token)
    else:
        response = page(request, "login.html", status, title="Sign in", error=error, email=email, login_token=token)
    response.set_cookie(key=LOGIN_COOKIE, value=token, path="/", httponly=True, samesite="strict",
                        secure=services_of(request).config.production, max_age=3600)
    return response


@get("/admin/login", opt={"tenant": False}, sync_to_thread=False, include_in_schema=False)
def login_form(request: Request) -> Response:
    return _login_page(request)


@post("/admin/login", opt={"tenant": False}, sync_to_thread=True, include_in_schema=False)
def login(request: Request, data: Form) -> Response:
    email, password = text(data, "email"), str(data.get("password", ""))
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, text(data, "login_token")):
        return _login_page(request, 403, error="The sign-in form was stale; please try again.", email=email)
    if tenant_of(request) is None:
        return _platform_login(request, email, password)
    try:
        _, tenant, user, _ = _login(request, email, password)
    except ApiError as exc:
        return _login_page(request, exc.status, error=exc.message, email=email)
    return _start_session(request, user.id, tenant.id)


def _platform_login(request: Request, email: str, password: str) -> Response:
    """On the platform host: check the password, then offer each site the account belongs to."""
    services = services_of(request)
    address = _address(request)
    try:
        attempt = services.limiter.begin(email, address)  # counted as a failure unless it succeeds
    except ApiError as exc:
        return _login_page(request, exc.status, error=exc.message, email=email)
    user = services.users.check_password(email, password)
    if user is None:
        services.audit.record("login.failed", address=address, email=email.strip().lower())
        return _login_page(request, 401, error=GENERIC_FAILURE, email=email)
    services.limiter.succeeded(attempt)
    response = _sites_page(request, user)
    response.set_cookie(key=PASS_COOKIE, value=services.credentials.site_pass(user.id), path="/", httponly=True,
                        samesite="strict", secure=services.config.production,
                        max_age=int(PASS_TTL.total_seconds()))
    return response


PASS_COOKIE = "tessera_pass"
SITES_PER_PAGE = 50


def _pass_holder(request: Request):
    """The account whose pass the request carries (None: none, expired, or the password changed since)."""
    services = services_of(request)
    found = services.credentials.read_site_pass(request.cookies.get(PASS_COOKIE, ""))
    if found is None:
        return None
    user = services.users.get(found[0])
    if user is None or found[1] < int(datetime.fromisoformat(user.password_changed_at).timestamp()):
        return None
    return user


def _sites_page(request: Request, user, page_number: int = 1, query: str = "") -> Response:
    services = services_of(request)
    query = " ".join(query.split())[:100]
    if user.is_superadmin:
        tenants = services.db.registry.all()
    else:
        ids = {tenant_id for tenant_id, _ in services.users.memberships(user.id)}
        tenants = [t for t in services.db.registry.all() if t.id in ids] if ids else []
    if query:
        needle = query.lower()
        tenants = [t for t in tenants if needle in t.name.lower() or needle in t.slug]
    pages = max(1, -(-len(tenants) // SITES_PER_PAGE))
    page_number = min(max(page_number, 1), pages)
    shown = tenants[(page_number - 1) * SITES_PER_PAGE: page_number * SITES_PER_PAGE]
    sites = [{"name": t.name, "slug": t.slug, "url": f"/go/{t.slug}"} for t in shown]
    return _platform_page("sites.html", title="Your sites", sites=sites, email=user.email, total=len(tenants),
                          page_number=page_number, pages=pages, query=query)


@get("/admin/choose", opt={"tenant": False}, sync_to_thread=True, include_in_schema=False)
def choose(request: Request, page_number: FromQuery[str] = "1", q: FromQuery[str] = "") -> Response:
    """The list of sites again (another page, a search), while the pass lasts."""
    user = _pass_holder(request)
    if user is None:
        return Redirect("/login", status_code=303)
    number = int(page_number) if page_number.isascii() and page_number.isdigit() and len(page_number) < 7 else 1
    return _sites_page(request, user, number, q)


@get("/admin/go/{slug:str}", opt={"tenant": False}, sync_to_thread=True, include_in_schema=False)
def go(request: Request, slug: FromPath[str]) -> Response:
    """Open a session at one of the pass holder's sites."""
    services = services_of(request)
    user = _pass_holder(request)
    if user is None:
        return _login_page(request, 401, error="Your sign-in has expired: sign in again to choose a site.")
    target = services.db.registry.find(slug) if len(slug) <= 40 else None
    if target is None or (services.users.role(user.id, target.id) is None and not user.is_superadmin):
        raise NotFound("no such site among yours")
    services.audit.record("login", actor=user.id, tenant_id=target.id, address=_address(request), via="site list")
    return _start_session(request, user.id, target.id)


@post("/admin/switch", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def switch(request: Request, data: Form) -> Response:
    """Go to another tenant this account belongs to, signed in there."""
    services = services_of(request)
    user = who(request).user
    target = services.db.registry.find(text(data, "tenant"))
    if target is None:
        raise NotFound("no such site")
    if services.users.role(user.id, target.id) is None and not user.is_superadmin:
        raise Forbidden("you are not a member of that site", code="forbidden")
    services.audit.record("login", actor=user.id, tenant_id=target.id, address=_address(request), via="switch")
    return _start_session(request, user.id, target.id)


@post("/admin/logout", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def logout(request: Request) -> Response:
    end_session(services_of(request), request.cookies.get(SESSION_COOKIE, ""))
    base = admin_base(request)
    response = Redirect(f"{base}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base)
    response.delete_cookie(PASS_COOKIE, path="/")  # signing out of one site closes the list of sites too
    return response


@get("/admin/", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def dashboard(request: Request) -> Response:
    member = who(request)
    services = services_of(request)
    with services.databases.connection(member.tenant.slug) as conn:
        row = conn.execute("SELECT * FROM deploys ORDER BY id DESC LIMIT 1").fetchone()
        orders = chart = low_stock = None
        if member.can("orders:read"):
            orders, chart = _sales(conn)
        if member.can("products:read") and member.tenant.has("ecommerce"):
            low_stock = _low_stock(conn)
    jobs = services.queue.list(member.tenant.slug, limit=5) if member.can("publish") else []
    return page(request, "dashboard.html", title="Dashboard", section="dashboard", deploy=dict(row) if row else None,
                edits=repo_of(request).history(limit=8), orders=orders, chart=chart, jobs=jobs, low_stock=low_stock,
                can_publish=member.can("publish"))


def _sales(conn) -> tuple[dict, Markup | None]:
    """Today's orders and paid revenue, the orders waiting for payment or dispatch, and the chart of
    the last 30 days' paid revenue (None when nothing sold: the page says so instead of a flat line)."""
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=29)
    rows = conn.execute("SELECT substr(created_at, 1, 10) AS day, count(*) AS n, sum(total) AS total, "
                        "max(currency) AS currency FROM orders WHERE payment_status IN ('paid', 'partially_refunded', 'refunded') "
                        "AND created_at >= ? GROUP BY day", (start.isoformat(),)).fetchall()
    currency = next((r["currency"] for r in rows if r["currency"]), None) or _shop_currency(conn)
    by_day = {r["day"]: r["total"] or 0 for r in rows}
    todays = conn.execute("SELECT count(*) FROM orders WHERE created_at >= ?", (today.isoformat(),)).fetchone()[0]
    waiting = conn.execute("SELECT sum(payment_status = 'pending' AND status = 'pending') AS unpaid, "
                           "sum(status = 'processing') AS unshipped FROM orders").fetchone()
    days = [(start + timedelta(days=n)).isoformat() for n in range(30)]
    month = Money(sum(by_day.values()), currency)
    chart = None
    if any(by_day.values()):
        chart = charts.daily("revenue", days, charts.Series("Paid revenue", [by_day.get(d, 0) for d in days]),
                             title="Paid revenue per day, last 30 days",
                             summary=f"{month} paid in the last 30 days; the busiest day took "
                                     f"{Money(max(by_day.values()), currency)}.",
                             label=lambda cents: str(Money(cents, currency)))
    return {"count": todays, "revenue": str(Money(by_day.get(today.isoformat(), 0), currency)),
            "unpaid": waiting["unpaid"] or 0, "unshipped": waiting["unshipped"] or 0, "month": str(month)}, chart


def _low_stock(conn) -> dict:
    """Published variants that track stock and have the shop's low-stock threshold or fewer left."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'shop_rules'").fetchone()
    threshold = Rules.parse(row["value"]).low_stock if row else Rules.parse("{}").low_stock
    found = conn.execute(
        "SELECT v.sku, v.title, p.name, COALESCE(s.on_hand, 0) - COALESCE(s.reserved, 0) AS available "
        "FROM catalog_variants v JOIN catalog_products p ON p.slug = v.product_slug LEFT JOIN stock s ON s.sku = v.sku "
        "WHERE v.track_stock = 1 AND COALESCE(s.on_hand, 0) - COALESCE(s.reserved, 0) <= ? "
        "ORDER BY available, p.name, v.sku LIMIT 8", (threshold,)).fetchall()
    return {"threshold": threshold, "rows": [dict(r) for r in found]}


def _shop_currency(conn) -> str:
    row = conn.execute("SELECT currency FROM catalog_variants LIMIT 1").fetchone()
    return row[0] if row else "EUR"


ROUTES = [login_form, login, choose, go, switch, logout, dashboard]
