"""``/api/auth``: log in for one tenant, refresh, log out, who am I, change password, cookie sessions."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody

from ..auth.credentials import ACCESS_TTL, SESSION_TTL
from ..auth.permissions import ACTIONS
from ..errors import Forbidden, Unauthorized
from ..security import (SESSION_COOKIE, Principal, admin_base, client_address, end_session, on_admin_origin, principal_of,
                        require_tenant, services_of, site_base)
from ..openapi import errors

GENERIC_FAILURE = "the email or password is wrong"


class LoginBody(msgspec.Struct):
    email: str
    password: str


class RefreshBody(msgspec.Struct):
    refresh_token: str


class LogoutBody(msgspec.Struct):
    refresh_token: str | None = None


class PasswordBody(msgspec.Struct):
    current_password: str
    new_password: str


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    role: str | None
    tenant: str


def _address(request: Request) -> str:
    return client_address(request.scope, services_of(request).config.trusted_proxies)


def _login(request: Request, email: str, password: str):
    """Check credentials for this tenant: the same answer whether or not the email exists."""
    services = services_of(request)
    tenant = require_tenant(request)
    address = _address(request)
    attempt = services.limiter.begin(email, address)  # counted as a failure unless it succeeds
    user = services.users.check_password(email, password)
    role = services.users.role(user.id, tenant.id) if user else None
    if user is None or (role is None and not user.is_superadmin):
        services.audit.record("login.failed", tenant_id=tenant.id, address=address, email=email.strip().lower())
        raise Unauthorized(GENERIC_FAILURE, code="invalid_credentials")
    services.limiter.succeeded(attempt)
    services.audit.record("login", actor=user.id, tenant_id=tenant.id, address=address)
    return services, tenant, user, role


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", responses=errors(429, body=True),
          status_code=200, sync_to_thread=True, summary="Log in to this tenant")
    def login(self, request: Request, data: JSONBody[LoginBody]) -> TokenPair:
        services, tenant, user, role = _login(request, data.email, data.password)
        return TokenPair(services.credentials.access_token(user.id, tenant.slug, role or "superadmin"),
                         services.credentials.refresh_token(user.id, tenant.id), "Bearer",
                         int(ACCESS_TTL.total_seconds()), role, tenant.slug)

    @post("/refresh", responses=errors(body=True),
          status_code=200, sync_to_thread=True, summary="Trade a refresh token for new tokens (rotation)")
    def refresh(self, request: Request, data: JSONBody[RefreshBody]) -> TokenPair:
        services = services_of(request)
        tenant = require_tenant(request)
        user_id, new_refresh = services.credentials.rotate(data.refresh_token, tenant.id)
        user = services.users.get(user_id)
        role = services.users.role(user_id, tenant.id)
        if user is None or (role is None and not user.is_superadmin):
            raise Unauthorized("you are no longer a member of this site", code="not_a_member")
        return TokenPair(services.credentials.access_token(user_id, tenant.slug, role or "superadmin"),
                         new_refresh, "Bearer", int(ACCESS_TTL.total_seconds()), role, tenant.slug)

    @post("/logout", responses=errors(body=True),
          status_code=200, sync_to_thread=True, summary="Revoke the refresh token's session, or end the cookie session")
    def logout(self, request: Request, data: JSONBody[LogoutBody | None] = None) -> Response[dict]:
        services = services_of(request)
        principal = principal_of(request)
        if data and data.refresh_token:
            services.credentials.revoke_refresh(data.refresh_token)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            end_session(services, cookie)
        if principal:
            services.audit.record("logout", actor=principal.user.id, tenant_id=principal.tenant.id,
                                  address=_address(request))
        response = Response({"ok": True})
        response.delete_cookie(SESSION_COOKIE, path=admin_base(request) or "/")
        return response

    @get("/me", responses=errors(),
         opt={"auth": True}, sync_to_thread=True, summary="The signed-in user, their role here and their other sites")
    def me(self, request: Request) -> dict[str, Any]:
        principal: Principal = principal_of(request)  # type: ignore[assignment]
        services = services_of(request)
        sites = []
        for tenant_id, role in services.users.memberships(principal.user.id):
            tenant = services.db.registry.by_id(tenant_id)
            if tenant:
                sites.append({"slug": tenant.slug, "name": tenant.name, "role": role})
        return {"user": principal.user.public(), "tenant": principal.tenant.slug, "role": principal.role,
                "via": principal.via, "sites": sites,
                "permissions": sorted(a for a in ACTIONS if principal.can(a))}

    @post("/password", responses=errors(body=True),
          status_code=200, opt={"auth": True}, sync_to_thread=True, summary="Change password; signs out everywhere")
    def change_password(self, request: Request, data: JSONBody[PasswordBody]) -> dict[str, bool]:
        principal: Principal = principal_of(request)  # type: ignore[assignment]
        services = services_of(request)
        if services.users.check_password(principal.user.email, data.current_password) is None:
            raise Unauthorized("the current password is wrong", code="invalid_credentials")
        services.users.set_password(principal.user.id, data.new_password)
        services.credentials.revoke_all(principal.user.id)
        services.audit.record("password.changed", actor=principal.user.id, tenant_id=principal.tenant.id,
                              address=_address(request))
        return {"ok": True}

    @post("/session", responses=errors(429, body=True),
          status_code=200, sync_to_thread=True, summary="Sign in with a cookie session (the admin UI)")
    def open_session(self, request: Request,
                     data: Annotated[LoginBody, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Response[dict]:
        if not on_admin_origin(request):  # a tenant's site runs its people's scripts: no cookie there
            raise Forbidden(f"cookie sessions open on the admin's origin only: "
                            f"{services_of(request).config.admin_origin}/sites/<slug>/api/auth/session",
                            code="admin_origin_only")
        services, tenant, user, role = _login(request, data.email, data.password)
        token, csrf = services.credentials.open_session(user.id, tenant.id)
        response = Response({"csrf_token": csrf, "role": role, "tenant": tenant.slug})
        response.set_cookie(Cookie(key=SESSION_COOKIE, value=token, path=site_base(tenant.slug), httponly=True,
                                   samesite="lax", secure=services.config.production,
                                   max_age=int(SESSION_TTL.total_seconds())))
        return response

    @delete("/session", responses=errors(), status_code=200, sync_to_thread=True, summary="End the cookie session")
    def close_session(self, request: Request) -> Response[dict]:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            end_session(services_of(request), cookie)
        response = Response({"ok": True})
        response.delete_cookie(SESSION_COOKIE, path=admin_base(request) or "/")
        return response

