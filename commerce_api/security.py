"""Who is calling, and may they: one guard for every route, driven by each handler's ``opt``.

    @get("/api/admin/members", opt={"action": "users:read"})

``opt`` keys: ``tenant`` (a tenant is required, default true under /api), ``feature`` (the tenant
must have it on), ``auth`` (a signed-in member is required), ``action`` (the member's role must
allow it; implies ``auth``). Credentials are always checked against the request's tenant: one
issued for tenant A is refused at tenant B whatever the host, path or header says.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from content.plans import FeatureOff, check_feature
from content.registry import Tenant

from .auth.credentials import API_TOKEN_PREFIX
from .auth.permissions import ANALYTICS_ACTIONS, CMS_ACTIONS, PLAN_FEATURE_ACTIONS, SHOP_ACTIONS, allowed
from .auth.users import User
from .errors import CsrfFailed, FeatureDisabled, Forbidden, NotFound, ReadOnly, TenantSuspended, Unauthorized
from .services import Services

SESSION_COOKIE = "tessera_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What a read-only support session may still post: ending itself.
SUPPORT_EXITS = {("POST", "/admin/support/end"), ("POST", "/admin/logout"), ("POST", "/api/auth/logout"),
                 ("DELETE", "/api/auth/session")}


@dataclass(frozen=True)
class Support:
    """An operator's read-only support view of a tenant's admin: why, and until when."""

    reason: str
    expires_at: str


def suspended_error(tenant: Tenant) -> TenantSuspended:
    """The refusal of a change to a suspended site, with the reason its people were given."""
    record = tenant.suspension or {}
    reason = f" Reason: {record['reason']}" if record.get("reason") else ""
    return TenantSuspended(f"this site is suspended: it can be read but not changed.{reason}")


@dataclass(frozen=True)
class Principal:
    user: User
    tenant: Tenant
    role: str | None
    via: str  # "access_token", "api_token" or "session"
    csrf: str | None = None
    support: Support | None = None  # set on an operator's read-only support session

    @property
    def read_only(self) -> bool:
        return self.support is not None

    def can(self, action: str) -> bool:
        if action in SHOP_ACTIONS and not self.tenant.has("ecommerce"):
            return False
        if action in CMS_ACTIONS and not self.tenant.has("cms"):
            return False
        if action in ANALYTICS_ACTIONS and not self.tenant.has("analytics"):
            return False
        if action in PLAN_FEATURE_ACTIONS and not self.tenant.has(PLAN_FEATURE_ACTIONS[action]):
            return False
        return allowed(self.role, action, superadmin=self.user.is_superadmin)


def services_of(connection: ASGIConnection) -> Services:
    return connection.app.state.services


def tenant_of(connection: ASGIConnection) -> Tenant | None:
    return connection.scope.get("tessera.tenant")  # type: ignore[return-value]


def require_tenant(connection: ASGIConnection) -> Tenant:
    tenant = tenant_of(connection)
    if tenant is None:
        raise NotFound("this route needs a tenant: call it on the tenant's host, under /api/tenant/<slug>/, "
                       "or with an X-Tenant-ID header", code="tenant_required")
    return tenant


def end_session(services: Services, cookie: str) -> None:
    """Close the admin session of a cookie, whichever way its person leaves (End support view, Sign out,
    the API's logout). Leaving an operator's read-only support view is recorded as ``support.ended``, so
    the site's owners see on Settings → Activity that it ended."""
    found = services.credentials.session(cookie) if cookie else None
    services.credentials.close_session(cookie)
    if found is not None and found.read_only:
        user = services.users.get(found.user_id)
        services.audit.record("support.ended", actor=found.user_id, tenant_id=found.tenant_id,
                              reason=found.support_reason, email=user.email if user else None)


def admin_base(connection: ASGIConnection) -> str:
    """The admin's URL prefix for this request: ``/sites/<slug>`` for a tenant's pages on the admin
    origin, empty for the platform's own pages there (sign-in, the list of sites)."""
    return connection.scope.get("tessera.admin_base") or ""  # type: ignore[return-value]


def site_base(slug: str) -> str:
    """Where a tenant's admin pages live on the admin origin."""
    return f"/sites/{slug}"


def on_admin_origin(connection: ASGIConnection) -> bool:
    return connection.scope.get("tessera.admin_base") is not None


def principal_of(connection: ASGIConnection) -> Principal | None:
    return connection.scope.get("tessera.principal")  # type: ignore[return-value]


def client_address(scope, trusted: tuple[str, ...]) -> str:
    """The caller's address for rate limits and the audit log. Behind a proxy listed in
    TESSERA_TRUSTED_PROXIES, the nearest address in X-Forwarded-For that is not a trusted proxy;
    a header from anyone else is ignored (it could say anything)."""
    peer = (scope.get("client") or ("unknown",))[0]
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"), "")
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _trusted(hop, trusted):
            return hop if _ip(hop) else peer
    return peer


def _ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """TESSERA_TRUSTED_PROXIES parsed once, not on every request."""
    return tuple(ipaddress.ip_network(net) for net in trusted)


def authenticate(connection: ASGIConnection, services: Services, tenant: Tenant) -> Principal | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise Unauthorized("use 'Authorization: Bearer <token>'", code="invalid_token")
        if value.startswith(API_TOKEN_PREFIX):
            found = services.credentials.api_token(value)
            if found is None:
                raise Unauthorized("the API token is not valid or was revoked", code="invalid_token")
            user_id, tenant_id = found
            if tenant_id != tenant.id:
                raise Unauthorized("this API token belongs to another tenant", code="wrong_tenant")
            return _member(services, user_id, tenant, "api_token")
        claims = services.credentials.read_access_token(value)
        if claims.tenant != tenant.slug:
            raise Unauthorized("this access token was issued for another tenant", code="wrong_tenant")
        principal = _member(services, claims.user_id, tenant, "access_token")
        if claims.issued_at < _timestamp(principal.user.password_changed_at):
            raise Unauthorized("the password changed since this token was issued; log in again", code="token_revoked")
        return principal
    # Sessions live on the admin origin only: a tenant's site (which runs its people's scripts)
    # never receives the cookie, and a session replayed anywhere else counts for nothing.
    cookie = connection.cookies.get(SESSION_COOKIE) if on_admin_origin(connection) else None
    if cookie:
        found = services.credentials.session(cookie)
        if found is None:
            raise Unauthorized("the session has ended; sign in again", code="session_expired")
        if found.tenant_id != tenant.id:
            raise Unauthorized("this session belongs to another tenant", code="wrong_tenant")
        member = _member(services, found.user_id, tenant, "session")
        support = None
        if found.read_only:
            if not member.user.is_superadmin:  # only operators open support views; never trust a row alone
                raise Unauthorized("the support view has ended; sign in again", code="session_expired")
            support = Support(found.support_reason or "", found.expires_at)
        return Principal(member.user, member.tenant, member.role, "session", found.csrf, support)
    return None


def _member(services: Services, user_id: int, tenant: Tenant, via: str) -> Principal:
    user = services.users.get(user_id)
    if user is None:
        raise Unauthorized("the account no longer exists", code="invalid_token")
    role = services.users.role(user.id, tenant.id)
    if role is None and not user.is_superadmin:
        raise Unauthorized("you are no longer a member of this site", code="not_a_member")
    return Principal(user, tenant, role, via)


def _timestamp(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp())


def feature_off(services: Services, tenant: Tenant, feature: str) -> FeatureDisabled:
    """The refusal of a feature that is off: in the plan's words when the plan leaves it out."""
    try:
        check_feature(services.db.registry, tenant, feature)
    except FeatureOff as exc:
        return FeatureDisabled(str(exc), field=feature)
    return FeatureDisabled(f"the {feature.replace('_', ' ')} feature is off for this site", field=feature)


async def access_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    opt = handler.opt
    services = services_of(connection)
    path = connection.scope["path"]
    needs_tenant = opt.get("tenant", path.startswith(("/api/", "/admin")) and not path.startswith("/api/docs"))
    if not needs_tenant:
        return
    tenant = require_tenant(connection)
    method = connection.scope.get("method")
    if (tenant.suspended and path.startswith("/admin") and method not in SAFE_METHODS
            and not path.startswith(("/admin/log", "/admin/switch", "/admin/support/end"))):
        raise suspended_error(tenant)
    features = opt.get("feature") or ()
    for feature in (features,) if isinstance(features, str) else features:
        if not tenant.has(feature):
            raise feature_off(services, tenant, feature)
    action = opt.get("action")
    if action in PLAN_FEATURE_ACTIONS and not tenant.has(PLAN_FEATURE_ACTIONS[action]):
        raise feature_off(services, tenant, PLAN_FEATURE_ACTIONS[action])
    needs_member = bool(opt.get("auth") or action)
    try:
        principal = authenticate(connection, services, tenant)
    except Unauthorized:
        # A stale admin cookie must not lock its owner out of the public shop and pages; a bad
        # Authorization header is still an error the client should hear about.
        if needs_member or connection.headers.get("authorization"):
            raise
        principal = None
    if principal is not None and principal.via == "session" and connection.scope.get("method") not in SAFE_METHODS:
        if needs_member:
            await _check_csrf(connection, principal)
        elif not await _csrf_ok(connection, principal):
            principal = None  # a public route (the shop's basket): the cookie plays no part in it
    if principal is not None and path.startswith("/api/"):  # the plan's API requests a minute
        services.quota.take(tenant)
    connection.scope["tessera.principal"] = principal  # type: ignore[typeddict-unknown-key]
    if principal is not None and principal.read_only and method not in SAFE_METHODS \
            and (method, path) not in SUPPORT_EXITS:
        raise ReadOnly(f"this is a read-only support view ({principal.support.reason}): "  # type: ignore[union-attr]
                       "it can read every page but change nothing; end the support view to work as yourself")
    if needs_member and principal is None:
        raise Unauthorized("sign in first", code="unauthorized")
    if action and not principal.can(action):  # type: ignore[union-attr]
        raise Forbidden(f"your role ({principal.role or 'none'}) may not do {action} here",  # type: ignore[union-attr]
                        code="forbidden")


async def _csrf_ok(connection: ASGIConnection, principal: Principal) -> bool:
    sent = connection.headers.get("x-csrf-token")
    if sent is None and "form" in connection.headers.get("content-type", ""):
        form = await connection.form()  # type: ignore[attr-defined]
        sent = form.get("csrf_token")
    return bool(sent and principal.csrf and secrets.compare_digest(str(sent), principal.csrf))


async def _check_csrf(connection: ASGIConnection, principal: Principal) -> None:
    if not await _csrf_ok(connection, principal):
        raise CsrfFailed("the form is missing its security token or it is stale; reload the page and try again")
