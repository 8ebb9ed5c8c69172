"""The app factory: settings in, one ASGI application out.

``/api/...``, ``/healthz`` and ``/metrics`` go to the commerce API; everything else is the edge
server, which serves each tenant's live site by Host.
"""

from __future__ import annotations

import html

import logging
import threading

from commerce_api.app import create_app
from commerce_api.gitserve import GitServer
from commerce_api.services import ApiConfig, Services
from commerce_api.tenancy import host_name
from publish.edge import Edge
from publish.storage import open_storage

from .settings import Settings

API_PREFIXES = ("/api/", "/healthz", "/metrics")


def api_config(settings: Settings) -> ApiConfig:
    return ApiConfig(data_dir=settings.data_dir, base_domain=settings.base_domain, secret_key=settings.secret_key,
                     production=settings.production, port=settings.port,
                     stripe_api_base=settings.stripe_api_base)


def services(settings: Settings) -> Services:
    return Services.build(api_config(settings))


def storage_for(settings: Settings):
    def make(slug: str):
        return open_storage(settings.storage, slug, settings.data_dir, settings.s3_endpoint_url, settings.s3_region)

    return make


class Platform:
    """Routes a request to the API, the edge server, or the platform's own front page."""

    def __init__(self, settings: Settings, svc: Services) -> None:
        self.settings = settings
        self.services = svc
        self.api = create_app(api_config(settings), svc)
        self.edge = Edge(lambda: svc.db.registry, storage_for(settings), settings.base_domain)
        self.git = GitServer(svc, self._publish_after_push, _install_hooks)
        self._publishing = threading.Lock()

    def _publish_after_push(self, slug: str) -> None:
        """Publish in the background so the pusher's git client returns at once."""

        def run() -> None:
            from content.tenants import Tenants

            from .sites import publish_tenant

            with self._publishing:
                tenants = Tenants(self.settings.data_dir, self.settings.sites_dir)
                try:
                    publish_tenant(self.settings, tenants, slug, actor="git push")
                except Exception:  # recorded as a failed deploy; the live site is unchanged
                    logging.getLogger("tessera").exception("publishing %s after a push failed", slug)
                finally:
                    tenants.close()

        threading.Thread(target=run, name=f"publish-{slug}", daemon=True).start()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.api(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/api" or path.startswith(API_PREFIXES):
            await self.api(scope, receive, send)
            return
        if path.startswith("/git/"):
            await self.git(scope, receive, send)
            return
        host = host_name(dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1"))
        if self.services.resolver.is_platform_host(host):
            await self._front_page(scope, send)
            return
        await self.edge(scope, receive, send)

    async def _front_page(self, scope, send) -> None:
        port = "" if self.settings.port == 80 else f":{self.settings.port}"
        links = "".join(f"<li><a href='http://{t.slug}.{self.settings.base_domain}{port}/'>{html.escape(t.name)}</a>"
                        f"</li>" for t in self.services.db.registry.all() if not t.suspended)
        body = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Tessera</title>"
                f"<style>body{{font:18px/1.5 system-ui;max-width:40rem;margin:10vh auto;padding:0 1rem}}</style>"
                f"</head><body><main><h1>Tessera</h1><p>Sites on this platform:</p><ul>{links}</ul>"
                f"<p><a href='/api/docs'>API documentation</a></p></main></body></html>").encode()
        status = 200 if scope["path"] == "/" else 404
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


def _install_hooks(repo) -> None:
    from .hooks import install

    install(repo)


def make_app(settings: Settings) -> Platform:
    return Platform(settings, services(settings))
