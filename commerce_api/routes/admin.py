"""``/api/admin``: staff routes for the tenant itself, its members and its API tokens."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.params import JSONBody
from litestar import Controller, Request, delete, get, patch, post, put

from ..auth.users import valid_email, valid_role
from ..errors import Forbidden, NotFound
from content import plans

from ..security import Principal, principal_of, services_of
from ..openapi import errors
from .auth import _address
from .params import Id, Int


class TokenCreate(msgspec.Struct):
    name: str


class MemberUpdate(msgspec.Struct):
    role: str


class MemberAdd(msgspec.Struct):
    email: str
    role: str


class TenantUpdate(msgspec.Struct):
    name: str


def _principal(request: Request) -> Principal:
    return principal_of(request)  # type: ignore[return-value]


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]

    @get("/tenant", responses=errors(),
         opt={"action": "settings:read"}, sync_to_thread=True, summary="This tenant's registry record")
    def tenant(self, request: Request) -> dict[str, Any]:
        t = _principal(request).tenant
        return {"slug": t.slug, "name": t.name, "status": t.status, "plan": t.plan, "features": sorted(t.features)}

    @patch("/tenant", responses=errors(body=True),
           opt={"action": "settings:write"}, sync_to_thread=True, summary="Rename the tenant")
    def update_tenant(self, request: Request, data: JSONBody[TenantUpdate]) -> dict[str, Any]:
        principal = _principal(request)
        services = services_of(request)
        updated = services.db.registry.update(principal.tenant.slug, name=data.name)
        services.audit.record("tenant.updated", actor=principal.user.id, tenant_id=updated.id,
                              address=_address(request), name=updated.name)
        return {"slug": updated.slug, "name": updated.name}

    @get("/members", responses=errors(),
         opt={"action": "users:read"}, sync_to_thread=True, summary="People with a role in this tenant")
    def members(self, request: Request) -> list[dict[str, Any]]:
        services = services_of(request)
        return [{**m.user.public(), "role": m.role} for m in services.users.members(_principal(request).tenant.id)]

    @post("/members", responses=errors(409, body=True),
          opt={"action": "users:write"}, sync_to_thread=True, summary="Give an existing account a role here")
    def add_member(self, request: Request, data: JSONBody[MemberAdd]) -> dict[str, Any]:
        principal = _principal(request)
        services = services_of(request)
        role = valid_role(data.role)
        self._may_assign(principal, role)
        user = services.users.by_email(valid_email(data.email))
        services.users.grant(user.id, principal.tenant.id, role)
        services.audit.record("role.granted", actor=principal.user.id, tenant_id=principal.tenant.id,
                              address=_address(request), user=user.id, role=role)
        return {**user.public(), "role": role}

    @put("/members/{user_id:int}", responses=errors(409, body=True),
         opt={"action": "users:write"}, sync_to_thread=True, summary="Change a member's role")
    def update_member(self, request: Request, user_id: Id, data: JSONBody[MemberUpdate]) -> dict[str, Any]:
        principal = _principal(request)
        services = services_of(request)
        role = valid_role(data.role)
        current = services.users.role(user_id, principal.tenant.id)
        if current is None:
            raise NotFound("that user is not a member of this tenant")
        self._may_assign(principal, role, current)
        services.users.grant(user_id, principal.tenant.id, role)
        services.audit.record("role.changed", actor=principal.user.id, tenant_id=principal.tenant.id,
                              address=_address(request), user=user_id, role=role, previous=current)
        return {"id": user_id, "role": role}

    @delete("/members/{user_id:int}", responses=errors(409),
            status_code=200, opt={"action": "users:write"}, sync_to_thread=True, summary="Remove a member")
    def remove_member(self, request: Request, user_id: Id) -> dict[str, bool]:
        principal = _principal(request)
        services = services_of(request)
        current = services.users.role(user_id, principal.tenant.id)
        if current is None:
            raise NotFound("that user is not a member of this tenant")
        self._may_assign(principal, None, current)
        services.users.revoke(user_id, principal.tenant.id)
        services.audit.record("role.revoked", actor=principal.user.id, tenant_id=principal.tenant.id,
                              address=_address(request), user=user_id, previous=current)
        return {"ok": True}

    @staticmethod
    def _may_assign(principal: Principal, role: str | None, current: str | None = None) -> None:
        """Only owners (and operators) make or unmake owners."""
        if "owner" in (role, current) and principal.role != "owner" and not principal.user.is_superadmin:
            raise Forbidden("only an owner can give or take the owner role", code="forbidden")

    @get("/tokens", responses=errors(),
         opt={"auth": True}, sync_to_thread=True, summary="Your personal API tokens for this tenant")
    def tokens(self, request: Request) -> list[dict[str, Any]]:
        principal = _principal(request)
        return services_of(request).credentials.api_tokens(principal.user.id, principal.tenant.id)

    @post("/tokens", responses=errors(body=True),
          opt={"auth": True}, sync_to_thread=True, summary="Create a personal API token (shown once)")
    def create_token(self, request: Request, data: JSONBody[TokenCreate]) -> dict[str, Any]:
        principal = _principal(request)
        services = services_of(request)
        token_id, token = services.credentials.create_api_token(principal.user.id, principal.tenant.id, data.name)
        services.audit.record("token.created", actor=principal.user.id, tenant_id=principal.tenant.id,
                              address=_address(request), token_id=token_id, name=data.name)
        return {"id": token_id, "name": data.name, "token": token}

    @delete("/tokens/{token_id:int}", responses=errors(),
            status_code=200, opt={"auth": True}, sync_to_thread=True, summary="Revoke one of your API tokens")
    def revoke_token(self, request: Request, token_id: Id) -> dict[str, bool]:
        principal = _principal(request)
        services = services_of(request)
        services.credentials.revoke_api_token(token_id, principal.user.id, principal.tenant.id)
        services.audit.record("token.revoked", actor=principal.user.id, tenant_id=principal.tenant.id,
                              address=_address(request), token_id=token_id)
        return {"ok": True}

    @post("/publish", responses=errors(), status_code=202, opt={"action": "publish"}, sync_to_thread=True,
          summary="Queue a publish of the latest content; poll /api/admin/jobs for its outcome")
    def publish(self, request: Request) -> dict[str, Any]:
        principal = _principal(request)
        services = services_of(request)
        with services.databases.connection(principal.tenant.slug) as conn:  # 403 limit_reached past the day's
            plans.check_publish(services.db.registry, principal.tenant, conn)
        job = services.queue.enqueue(principal.tenant.slug, actor=principal.user.email)
        return {"job": job.id, "status": job.status}

    @get("/jobs", responses=errors(),
         opt={"action": "publish"}, sync_to_thread=True, summary="This tenant's background jobs and their logs")
    def jobs(self, request: Request) -> list[dict[str, Any]]:
        jobs = services_of(request).queue.list(_principal(request).tenant.slug)
        return [{"id": j.id, "kind": j.kind, "status": j.status, "by": j.actor, "run_after": j.run_after,
                 "started_at": j.started_at, "finished_at": j.finished_at, "log": j.log} for j in jobs]

    @get("/audit", responses=errors(),
         opt={"action": "users:read"}, sync_to_thread=True, summary="Security events for this tenant, newest first")
    def audit(self, request: Request, limit: Int = 100) -> list[dict[str, Any]]:
        return services_of(request).audit.entries(_principal(request).tenant.id, min(max(limit, 1), 500))
