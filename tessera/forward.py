"""Any node answers any request: one for a tenant placed on another node is forwarded to that node.

With several nodes (``TESSERA_NODE``, platform state on PostgreSQL), each tenant's files (tenant.db,
repository, builds, a local bucket) are on one node, recorded in the registry (``tenants.node``). A
request names its tenant by its host (the tenant's subdomain or custom domain), its path
(``/api/tenant/<slug>/``, ``/sites/<slug>/`` on the admin's host, ``/git/<slug>.git``) or the
``X-Tenant-ID`` header; when that tenant lives elsewhere, the whole request is streamed to its
node's ``TESSERA_NODE_URL`` and the answer streamed back. Platform pages (sign-in, the list of sites,
``/healthz``) are answered where they arrive.

The node that forwards adds ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Tessera-Forwarded-By``,
and the visitor's address as it sees it (``X-Tessera-Client``, behind its own trusted proxies) signed
with the installation's secret key: the target takes that address as the request's peer, so rate
limits, the audit log and the metrics allow-list see the visitor, not the forwarding node, without the
nodes listing each other in ``TESSERA_TRUSTED_PROXIES``. An unsigned or badly signed claim is
ignored. A request that was already forwarded once is never forwarded again (two nodes disagreeing
about a placement get a 502, not a loop).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections import OrderedDict
from typing import Callable
from urllib.parse import unquote

import httpx

from commerce_api.errors import ApiError
from commerce_api.security import client_address
from commerce_api.tenancy import Resolver, host_name
from content.registry import Registry, Tenant

log = logging.getLogger(__name__)

FORWARDED_BY = b"x-tessera-forwarded-by"
CLIENT, CLIENT_SIGNATURE = b"x-tessera-client", b"x-tessera-client-signature"  # value: "<stamp> <hmac>"
CLIENT_AGE = 15  # seconds a signed visitor address is believed (once: a repeat is dropped)
# Headers that describe one connection, not the request: never passed from one hop to the next.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te",
                        b"trailer", b"upgrade", b"proxy-authorization", b"proxy-authenticate"})
_API = re.compile(r"^/api/tenant/([a-z0-9-]+)(?:/|$)")
_ADMIN = re.compile(r"^/sites/([a-z0-9-]+)(?:/|$)")
_GIT = re.compile(r"^/git/([a-z0-9-]+)\.git(?:/|$)")
_STRIPE = re.compile(r"^/api/webhooks/stripe/([a-z0-9-]+)/?$")  # a shop's payments, from Stripe
NODES_TTL = 5.0  # seconds a node's address is remembered (a node that moves re-registers at start)


class Forwarder:
    def __init__(self, node: str, registry: Callable[[], Registry], resolver: Resolver, admin_host: str,
                 secret: str = "", trusted: tuple[str, ...] = ()) -> None:
        self.node, self.registry, self.resolver, self.admin_host = node, registry, resolver, admin_host
        self.secret, self.trusted = secret, trusted
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # signatures believed lately: never twice
        self._nodes: dict[str, str] = {}
        self._nodes_read = 0.0
        self._client: httpx.AsyncClient | None = None

    def tenant_of(self, scope) -> Tenant | None:
        """The tenant the request names, or None (a platform page, or no such tenant: answered here)."""
        path = scope["path"]
        headers = dict(scope.get("headers") or [])
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        match = (_API.match(path) or _GIT.match(path) or _STRIPE.match(path)
                 or (_ADMIN.match(path) if host == self.admin_host else None))
        slug = match.group(1) if match else None
        header = headers.get(b"x-tenant-id", b"").decode("latin-1") or None
        try:
            return self.resolver.resolve(host, slug, header)
        except ApiError:
            return None  # unknown host or tenant, or two that disagree: the local answer says so

    def visitor(self, scope):
        """``scope`` with its visitor's address when another node signed it for this very request."""
        return with_visitor(scope, self.secret, self.node, self._seen)

    def url_of(self, node: str) -> str | None:
        if time.monotonic() - self._nodes_read > NODES_TTL or node not in self._nodes:
            self._nodes, self._nodes_read = self.registry().nodes(), time.monotonic()
        return self._nodes.get(node)

    async def forward(self, tenant: Tenant, scope, receive, send) -> None:
        headers = scope.get("headers") or []
        if any(name == FORWARDED_BY for name, _ in headers):
            await _error(send, 502, "misplaced", f"{tenant.slug} is placed on {tenant.node}, which sent the request "
                                                 "here; the nodes disagree about where the site lives")
            return
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if any(unquote(part) in (".", "..") for part in raw.split("/")):
            # The target's router would see another path than the one this node judged: refuse.
            await _error(send, 400, "bad_path", "a path with . or .. segments is not forwarded")
            return
        base = self.url_of(tenant.node)
        if base is None:
            await _error(send, 502, "unknown_node", f"{tenant.slug} is placed on the node {tenant.node!r}, "
                                                    "which has not registered its address")
            return
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=5.0), follow_redirects=False)
        client_addr = (scope.get("client") or ("", 0))[0]
        forwarded_for = b", ".join([v for k, v in headers if k == b"x-forwarded-for"] + [client_addr.encode()])
        visitor = client_address(scope, self.trusted)
        stamp = str(int(time.time()))
        sent = [(k, v) for k, v in headers
                if k not in HOP_BY_HOP and k not in (b"x-forwarded-for", FORWARDED_BY, CLIENT, CLIENT_SIGNATURE)]
        sent += [(b"x-forwarded-for", forwarded_for), (FORWARDED_BY, self.node.encode()),
                 (CLIENT, visitor.encode()),
                 (CLIENT_SIGNATURE, f"{stamp} {sign_client(self.secret, self.node, tenant.node, scope, visitor, stamp)}"
                  .encode())]
        if not any(k == b"x-forwarded-proto" for k, _ in headers):
            sent.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        query = scope.get("query_string") or b""
        url = base + raw + ("?" + query.decode("latin-1") if query else "")

        async def body():
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body"):
                    return

        try:
            request = self._client.build_request(scope["method"], url, headers=sent, content=body())
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            log.warning("forwarding %s to node %s failed: %s", tenant.slug, tenant.node, exc)
            await _error(send, 502, "node_unreachable", f"the node holding {tenant.slug} ({tenant.node}) did not "
                                                        "answer; try again in a moment")
            return
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def sign_client(secret: str, sender: str, target: str, scope, visitor: str, stamp: str) -> str:
    """The forwarding node's word for the visitor's address, bound to this one request: the two nodes,
    the method, the host and the path (a claim copied onto another request, or sent to another
    node, does not hold)."""
    host = next((v for k, v in scope.get("headers") or [] if k == b"host"), b"").decode("latin-1")
    message = "\n".join(("client", sender, target, scope["method"], host, scope["path"], visitor, stamp))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def with_visitor(scope, secret: str, node: str, seen: OrderedDict[bytes, float]):
    """``scope`` with the visitor's address as its peer when another node of the installation forwarded
    it here and signed that address for this request, within CLIENT_AGE seconds and not before; else
    ``scope`` without the claim (anyone can send the headers, with anything in them)."""
    headers = scope.get("headers") or []
    if not any(k == CLIENT or k == CLIENT_SIGNATURE for k, _ in headers):
        return scope
    found = {k: v for k, v in headers if k in (FORWARDED_BY, CLIENT, CLIENT_SIGNATURE)}
    plain = {**scope, "headers": [(k, v) for k, v in headers if k not in (CLIENT, CLIENT_SIGNATURE)]}
    stamp, _, signature = found.get(CLIENT_SIGNATURE, b"").partition(b" ")
    sender, visitor = found.get(FORWARDED_BY, b""), found.get(CLIENT, b"")
    if not (secret and sender.isascii() and visitor.isascii() and stamp.isascii() and stamp.isdigit()
            and len(stamp) <= 12 and abs(time.time() - int(stamp)) <= CLIENT_AGE):
        return plain
    expected = sign_client(secret, sender.decode(), node, plain, visitor.decode(), stamp.decode())
    if not hmac.compare_digest(signature, expected.encode()):
        return plain
    now = time.monotonic()
    while seen and next(iter(seen.values())) < now:
        seen.popitem(last=False)
    if signature in seen:
        return plain  # a replay
    seen[signature] = now + 2 * CLIENT_AGE
    return {**plain, "client": (visitor.decode(), 0)}


async def _error(send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
