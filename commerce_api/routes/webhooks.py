"""``/api/admin/webhooks``: a site's webhook endpoints, their delivery logs, and test events."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import JSONBody

from ..notify import webhooks
from ..openapi import errors
from ..security import Principal, principal_of, services_of
from .auth import _address
from .params import Id


class EndpointCreate(msgspec.Struct):
    url: str
    events: list[str]
    description: str = ""


def _who(request: Request) -> Principal:
    return principal_of(request)  # type: ignore[return-value]


class WebhooksController(Controller):
    path = "/api/admin/webhooks"
    tags = ["admin: webhooks"]

    @get("/", responses=errors(), opt={"action": "webhooks:read"}, sync_to_thread=True,
         summary="This site's webhook endpoints (secrets are never listed)")
    def endpoints(self, request: Request) -> list[dict[str, Any]]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return webhooks.list_endpoints(conn)

    @post("/", responses=errors(409, body=True), opt={"action": "webhooks:write"}, sync_to_thread=True,
          summary="Add an endpoint; the answer holds its signing secret, shown this once")
    def add(self, request: Request, data: JSONBody[EndpointCreate]) -> dict[str, Any]:
        who = _who(request)
        services = services_of(request)
        with services.databases.connection(who.tenant.slug) as conn:
            endpoint, secret = webhooks.add(conn, data.url, data.events, data.description, who.user.email,
                                            secret_key=services.config.secret_key, allow=services.config.webhook_allow)
        services.audit.record("webhook.added", actor=who.user.id, tenant_id=who.tenant.id, address=_address(request),
                              endpoint=endpoint["id"], url=endpoint["url"], events=endpoint["events"])
        return {**endpoint, "secret": secret}

    @get("/{endpoint_id:int}", responses=errors(), opt={"action": "webhooks:read"}, sync_to_thread=True,
         summary="One endpoint and its latest deliveries (status, answer, response time)")
    def endpoint(self, request: Request, endpoint_id: Id) -> dict[str, Any]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            return {**webhooks.get(conn, endpoint_id), "deliveries": webhooks.deliveries(conn, endpoint_id)}

    @delete("/{endpoint_id:int}", responses=errors(), status_code=200, opt={"action": "webhooks:write"},
            sync_to_thread=True, summary="Remove an endpoint; deliveries still waiting for it are dropped")
    def remove(self, request: Request, endpoint_id: Id) -> dict[str, bool]:
        who = _who(request)
        services = services_of(request)
        with services.databases.connection(who.tenant.slug) as conn:
            removed = webhooks.remove(conn, endpoint_id)
        services.audit.record("webhook.removed", actor=who.user.id, tenant_id=who.tenant.id, address=_address(request),
                              endpoint=endpoint_id, url=removed["url"])
        return {"ok": True}

    @post("/{endpoint_id:int}/test", responses=errors(409), status_code=202, opt={"action": "webhooks:write"},
          sync_to_thread=True, summary="Send the endpoint a webhook.test event (even when it is turned off)")
    def test(self, request: Request, endpoint_id: Id) -> dict[str, Any]:
        with services_of(request).databases.connection(_who(request).tenant.slug) as conn:
            event = webhooks.send_test(conn, endpoint_id)
        return {"event": event, "status": "queued"}

    @post("/{endpoint_id:int}/enable", responses=errors(), status_code=200, opt={"action": "webhooks:write"},
          sync_to_thread=True, summary="Turn an endpoint that was turned off after failing back on")
    def enable(self, request: Request, endpoint_id: Id) -> dict[str, Any]:
        who = _who(request)
        services = services_of(request)
        with services.databases.connection(who.tenant.slug) as conn:
            endpoint = webhooks.enable(conn, endpoint_id)
        services.audit.record("webhook.enabled", actor=who.user.id, tenant_id=who.tenant.id, address=_address(request),
                              endpoint=endpoint_id)
        return endpoint
