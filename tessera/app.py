"""The app factory: settings in, one ASGI application out.

The admin's origin (``admin.<base domain>``), ``/api/...``, ``/healthz`` and ``/metrics`` go to the
commerce API (``/admin`` elsewhere is redirected to the admin's origin); ``/git/...`` to git;
everything else is the edge server, which serves each tenant's live site by Host.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from datetime import datetime, timedelta, timezone

from content.migrations import platform_location
from commerce_api.app import create_app
from commerce_api.gitserve import GitServer
from commerce_api.services import ApiConfig, Services
from commerce_api.tenancy import host_name
from publish.analytics import AnalyticsConfig, Counter
from publish.edge import Edge
from publish.jobs import Queue, Runner
from publish.storage import open_storage

from .housekeeping import Housekeeper
from .move import RECEIVE_PATH, RETRY_AFTER
from .worker import sockets_dir, wake_workers
from .settings import Settings

API_PREFIXES = ("/api/", "/healthz", "/metrics", "/admin")


def api_config(settings: Settings) -> ApiConfig:
    return ApiConfig(data_dir=settings.data_dir, base_domain=settings.base_domain, secret_key=settings.secret_key,
                     production=settings.production, port=settings.port,
                     stripe_api_base=settings.stripe_api_base, dns_resolver=settings.dns_resolver,
                     smtp_url=settings.smtp_url, mail_from=settings.mail_from, themes_dir=settings.themes_dir,
                     sites_dir=settings.sites_dir, trusted_proxies=settings.trusted_proxies,
                     admin_hostname=settings.admin_host or None,
                     metrics_token=settings.metrics_token, metrics_allow=settings.metrics_allow,
                     webhook_allow=settings.webhook_allow, orders_per_address=settings.orders_per_address,
                     orders_per_email=settings.orders_per_email,
                     billing_stripe_key=settings.billing_stripe_key,
                     billing_webhook_secret=settings.billing_webhook_secret,
                     billing_grace_days=settings.billing_grace_days, billing_trial_days=settings.billing_trial_days)


def analytics_config(settings: Settings, admin_host: str) -> AnalyticsConfig:
    views, seconds = settings.analytics_flush
    return AnalyticsConfig(country_header=settings.analytics_country_header, ignore=settings.analytics_ignore,
                           trusted_proxies=settings.trusted_proxies, admin_host=admin_host,
                           flush_views=views, flush_seconds=seconds)


def services(settings: Settings) -> Services:
    return Services.build(api_config(settings))


def storage_for(settings: Settings):
    def make(slug: str):
        return open_storage(settings.storage, slug, settings.data_dir, settings.s3_endpoint_url, settings.s3_region)

    return make


class Platform:
    """Routes a request to the API, the edge server, or the platform's own front page."""

    def __init__(self, settings: Settings, svc: Services, *, jobs: bool = True) -> None:
        """``jobs``: run the job runner and housekeeping in this process's threads (tests, the dev
        server); ``tessera serve`` passes False and leaves them to ``tessera worker`` processes."""
        self.settings = settings
        self.jobs = jobs
        self.services = svc
        self.api = create_app(api_config(settings), svc)
        self.counter = Counter(analytics_config(settings, svc.config.admin_host), settings.data_dir / "tenants")
        self.edge = Edge(lambda: svc.db.registry, storage_for(settings), settings.base_domain, self.counter)
        svc.page_views = self.counter  # beacons from sites behind a CDN count through the edge's counter
        svc.storages = storage_for(settings)  # the admin's tenant deletion removes the bucket too
        self.counter.pages = self.edge.page_of
        self.queue = Queue(platform_location(settings.data_dir))
        self.git = GitServer(svc, self._publish_pushed, _install_hooks)
        self.runner = job_runner(settings)
        self.housekeeper = Housekeeper(settings)
        # A publish queued here (Save, Publish, a push) starts at once, not at the runner's next poll:
        # the runner in this process, or the worker processes.
        if jobs:
            wake = self.runner.wake
        else:
            folder = sockets_dir(settings)
            wake = lambda: wake_workers(folder)  # noqa: E731
        self.queue.listeners.append(wake)
        svc.queue.listeners.append(wake)
        self.forwarder = None
        if settings.node:  # one node of several: requests for other nodes' tenants are forwarded there
            from .forward import Forwarder

            svc.db.registry.register_node(settings.node, settings.node_url)
            self.forwarder = Forwarder(settings.node, lambda: svc.db.registry, svc.resolver, svc.config.admin_host,
                                       settings.secret_key, settings.trusted_proxies)

    def _publish_pushed(self, slug: str) -> None:
        """A push landed: queue its publish, unless the plan's publishes of the day are used up. The
        commit stays (the pre-receive hook told the pusher); the audit log records why nothing was published."""
        from content.tenants import Tenants

        from .sites import publish_refusal

        tenants = Tenants(self.settings.data_dir, self.settings.sites_dir)
        try:
            tenant = tenants.registry.get(slug)
            refused = publish_refusal(tenants, tenant)
        finally:
            tenants.close()
        if refused is not None:
            self.services.audit.record("publish.skipped", tenant_id=tenant.id, via="git push", limit=refused.key,
                                       reason=str(refused))
            return
        self.queue.enqueue(slug, actor="git push")

    def start_jobs(self) -> None:
        if not self.jobs:
            return
        self.runner.start()
        self.housekeeper.start()
        sweep_outboxes(self.settings, self.queue)
        schedule_billing_sweep(self.settings, self.queue)

    def stop_jobs(self) -> None:
        if self.jobs:
            self.housekeeper.stop()
            self.runner.stop()
        self.counter.close()  # write the page views still in memory

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        if self.forwarder is not None:
            scope = self.forwarder.visitor(scope)  # the visitor's address, when another node forwarded it
            if scope["path"] == RECEIVE_PATH and scope["method"] == "POST":
                await self._receive_tenant(scope, receive, send)
                return
            tenant = self.forwarder.tenant_of(scope)
            if tenant is not None and tenant.moving_to and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
                await _json_error(send, 503, "moving", f"{tenant.slug} is being moved to another node; "
                                  f"try again in {RETRY_AFTER} seconds", retry_after=RETRY_AFTER)
                return
            if tenant is not None and tenant.node not in (None, self.settings.node):
                await self.forwarder.forward(tenant, scope, receive, send)
                return
        path = scope["path"]
        host = host_name(dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1"))
        if host == self.services.config.admin_host or path == "/api" or path.startswith(API_PREFIXES):
            # The admin's origin is the API's alone: it never serves a tenant's files or git.
            await self.api(scope, receive, send)
            return
        if path.startswith("/git/"):
            await self.git(scope, receive, send)
            return
        if self.services.resolver.is_platform_host(host):
            await self._front_page(scope, send)
            return
        await self.edge(scope, receive, send)

    async def _receive_tenant(self, scope, receive, send) -> None:
        """A tenant moved here by another node (``tessera.move``): the signed headers are checked before
        any of the body is read; the body is streamed to a file and checked against its digest; then
        the tenant is unpacked and published, and only then answered."""
        import hashlib
        import tempfile

        import anyio

        from content.tenants import Tenants

        from .move import MoveError, Transfer

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        try:
            transfer = Transfer(self.settings, headers)
        except MoveError as exc:
            await _json_error(send, 403, "refused", str(exc))
            return
        if transfer.size > MAX_TRANSFER:
            await _json_error(send, 413, "too_large", f"a transfer is at most {MAX_TRANSFER:,} bytes")
            return
        tenants = Tenants(self.settings.data_dir, self.settings.sites_dir)
        try:
            try:
                await anyio.to_thread.run_sync(transfer.check_move, tenants)
            except MoveError as exc:
                await _json_error(send, 403, "refused", str(exc))
                return
            with tempfile.TemporaryDirectory(dir=self.settings.data_dir) as tmp:
                archive = Path(tmp) / "tenant.tar.gz"
                digest, size = hashlib.sha256(), 0
                with archive.open("wb") as out:
                    while True:
                        message = await receive()
                        chunk = message.get("body", b"")
                        size += len(chunk)
                        if size > transfer.size:
                            break
                        digest.update(chunk)
                        out.write(chunk)
                        if not message.get("more_body"):
                            break
                if size != transfer.size or digest.hexdigest() != transfer.digest:
                    await _json_error(send, 400, "damaged", "the transfer's body does not match its digest")
                    return
                try:
                    answer = await anyio.to_thread.run_sync(transfer.place, tenants, archive)
                except MoveError as exc:
                    await _json_error(send, 409, "refused", str(exc))
                    return
                except Exception:  # the source resumes the tenant's writes where it was
                    logging.getLogger(__name__).exception("receiving %s from another node failed", transfer.slug)
                    await _json_error(send, 500, "not_placed", "the tenant could not be placed on this node; "
                                                               "its log says why")
                    return
        finally:
            tenants.close()
        await _json(send, 200, answer)

    async def _lifespan(self, scope, receive, send) -> None:
        """Start the job runner with the server and stop it cleanly on shutdown (Ctrl-C)."""

        async def relay_receive():
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start_jobs()
            elif message["type"] == "lifespan.shutdown":
                self.stop_jobs()
            return message

        await self.api(scope, relay_receive, send)

    async def _front_page(self, scope, send) -> None:
        port = "" if self.settings.port == 80 else f":{self.settings.port}"
        links = "".join(f"<li><a href='http://{t.slug}.{self.settings.base_domain}{port}/'>{html.escape(t.name)}</a>"
                        f"</li>" for t in self.services.db.registry.all() if not t.suspended)
        body = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Tessera</title>"
                f"<style>body{{font:18px/1.5 system-ui;max-width:40rem;margin:10vh auto;padding:0 1rem}}</style>"
                f"</head><body><main><h1>Tessera</h1><p>Sites on this platform:</p><ul>{links}</ul>"
                f"<p><a href='{html.escape(self.services.config.admin_origin)}/login'>Sign in to the admin</a> · "
                f"<a href='/api/docs'>API documentation</a></p></main></body></html>").encode()
        status = 200 if scope["path"] == "/" else 404
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


MAX_TRANSFER = 8 * 2**30  # the largest tenant archive one node takes from another


async def _json_error(send, status: int, code: str, message: str, *, retry_after: int | None = None) -> None:
    await _json(send, status, {"error": {"code": code, "message": message}}, retry_after=retry_after)


async def _json(send, status: int, body: dict, *, retry_after: int | None = None) -> None:
    import json

    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def job_runner(settings: Settings, memory=None, **options) -> Runner:
    """The runner for queued publishes and rollbacks; at its start it cleans up after the jobs a
    killed process left running, before they run again. ``memory``: the process's ``BuildMemory``
    (shared with its push checks); ``options`` go to ``Runner``."""
    from .sites import BuildMemory

    memory = memory or BuildMemory()  # the runner lives on: its builds keep their sites' state between jobs
    return Runner(Queue(platform_location(settings.data_dir)), lambda job: run_job(settings, job, memory),
                  recover=lambda slug: recover_job(settings, slug), node=settings.node, **options)


def recover_job(settings: Settings, slug: str) -> None:
    from content.tenants import Tenants

    from .sites import recover_tenant

    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        recover_tenant(settings, tenants, slug)
    finally:
        tenants.close()


def notifier(settings: Settings):
    from commerce_api.notify.deliver import Notifier
    from commerce_api.platform import PlatformDB

    return Notifier.from_config(api_config(settings), PlatformDB(platform_location(settings.data_dir)))


def notify(settings: Settings, slug: str) -> str:
    """Send a tenant's outbox; a retry due later queues this job again for then."""
    report = notifier(settings).run(slug)
    if report.retry_at is not None:
        Queue(platform_location(settings.data_dir)).enqueue(slug, "notify", actor="system", run_after=report.retry_at)
    return report.log()


def sweep_outboxes(settings: Settings, queue: Queue) -> None:
    """At start: queue the notify job of every tenant whose outbox has work a stopped server left."""
    from content.migrations import connect
    from content.schema import TENANT
    from commerce_api.notify.outbox import has_new

    root = settings.data_dir / "tenants"
    for path in sorted(root.glob("*/tenant.db")) if root.is_dir() else []:
        try:
            conn = connect(path, TENANT)
            try:
                waiting = has_new(conn) or conn.execute(
                    "SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending') LIMIT 1").fetchone() is not None
            finally:
                conn.close()
            if waiting:
                queue.enqueue(path.parent.name, "notify", actor="system")
        except Exception:  # one broken database must not keep the others' mail from going out
            logging.getLogger(__name__).exception("could not look at the outbox of %s", path.parent.name)


BILLING_SWEEP = "billing.sweep"
# The queue's jobs name a tenant; the platform's own jobs name this reserved slug, which no tenant can have.
PLATFORM_JOBS = "platform"


def schedule_billing_sweep(settings: Settings, queue: Queue, *, after: timedelta = timedelta(0)) -> None:
    """Queue the daily billing sweep (when billing is on). A sweep already queued by then is reused, so
    a restart does not start a second daily chain."""
    if settings.billing:
        queue.enqueue(PLATFORM_JOBS, BILLING_SWEEP, actor="system",
                      run_after=datetime.now(timezone.utc) + after if after else None)


def billing_sweep(settings: Settings) -> str:
    """Run the sweep, then queue the next one a day later."""
    from commerce_api.billing.service import Billing
    from commerce_api.platform import PlatformDB

    queue = Queue(platform_location(settings.data_dir))
    billing = Billing.from_config(api_config(settings), PlatformDB(platform_location(settings.data_dir)))
    if billing is None:
        return "billing is off: nothing to sweep"
    try:
        report = billing.sweep()
    finally:
        schedule_billing_sweep(settings, queue, after=timedelta(days=1))
    return "\n".join(report) or "no subscription past due or waiting to move"


def publish_failed(settings: Settings, slug: str, job, exc: Exception) -> None:
    """Tell the site's staff (and webhooks) that a publish failed, with what its log says."""
    from content.migrations import connect
    from content.schema import TENANT
    from commerce_api.notify import outbox
    from publish.jobs import failure_message

    path = settings.data_dir / "tenants" / slug / "tenant.db"
    if not path.exists():
        return
    conn = connect(path, TENANT)
    try:
        with conn:
            outbox.record(conn, "publish.failed", {"publish": {"job": job.id, "actor": job.actor,
                                                               "message": failure_message(job, exc)}}, subject=job.id)
    finally:
        conn.close()
    Queue(platform_location(settings.data_dir)).enqueue(slug, "notify", actor="system")


def run_job(settings: Settings, job, memory=None) -> str:
    """Execute one queued job; returns its log. A failed publish leaves the live site as it was,
    and its site's staff hear of it.

    Errors the site's people can act on are ``TesseraError``s; the runner puts their message, never
    a traceback, in the job's log."""
    if job.kind == "notify":
        return notify(settings, job.tenant)
    if job.kind == BILLING_SWEEP:
        return billing_sweep(settings)
    if job.kind == BUILD:
        return build_job(settings, job.tenant)
    if job.kind == "backup":
        from .backups import backup_job

        return backup_job(settings, job)
    try:
        return _publishing_job(settings, job, memory)
    except Exception as exc:
        try:
            publish_failed(settings, job.tenant, job, exc)
        except Exception:
            logging.getLogger(__name__).exception("could not record the failed publish of %s", job.tenant)
        raise


BUILD = "build"  # `tessera build --all` on the workers: the build folder only, nothing published


def build_job(settings: Settings, slug: str) -> str:
    from content.tenants import Tenants

    from .sites import build_tenant

    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        done = build_tenant(settings, tenants, slug)
    finally:
        tenants.close()
    if done.result.up_to_date:
        return f"{slug} at {done.commit[:10]} is up to date"
    return f"built {slug} at {done.commit[:10]}: {done.result.rendered} written, {done.result.reused} reused"


def _publishing_job(settings: Settings, job, memory) -> str:
    from content.plans import LimitReached
    from content.tenants import Tenants
    from publish.errors import PublishError

    from .sites import publish_tenant, rollback_tenant

    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        if job.kind.startswith("rollback:"):
            built, deploy = rollback_tenant(settings, tenants, job.tenant, actor=job.actor,
                                            deploy_id=int(job.kind.partition(":")[2]), memory=memory)
            return f"rolled {job.tenant} back to the site of deploy {job.kind.partition(':')[2]} (now deploy {deploy.id})"
        if job.kind != "publish":
            raise PublishError(f"unknown job kind {job.kind!r}; jobs are publishes, rollbacks, builds, backups or notify")
        try:
            built, deploy = publish_tenant(settings, tenants, job.tenant, actor=job.actor, memory=memory)
        except LimitReached as exc:
            if job.actor != "schedule":
                raise
            # Scheduled content still goes live, on the first day the plan allows another publish.
            retry = next_day(job.tenant)
            Queue(platform_location(settings.data_dir)).enqueue(job.tenant, actor="schedule", run_after=retry)
            raise PublishError(f"{exc} The scheduled publish runs again on {_when(retry)}.") from None
        log = (f"published {job.tenant} as deploy {deploy.id}: {_files(deploy.uploaded, 'uploaded')}, "
               f"{_files(deploy.deleted, 'removed')}")
        if built.result.next_scheduled:
            log += f"; the next scheduled publish is on {_when(built.result.next_scheduled)}"
        return log
    finally:
        tenants.close()


def next_day(slug: str, now=None):
    """Just after the next midnight UTC, spread over ten minutes by the site's slug, so that the sites
    refused today do not all come back in the same second."""
    from datetime import datetime, timedelta, timezone

    from publish.jobs import spread

    now = now or datetime.now(timezone.utc)
    midnight = datetime.combine(now.astimezone(timezone.utc).date() + timedelta(days=1), datetime.min.time(), timezone.utc)
    return midnight + spread(slug, 600)


def _files(n: int, done: str) -> str:
    return f"{n} file{'' if n == 1 else 's'} {done}"


def _when(moment) -> str:
    """As people read it (the log is shown to site owners): 1 Dec 2026, 09:00 UTC."""
    from datetime import timezone

    return moment.astimezone(timezone.utc).strftime("%-d %b %Y, %H:%M UTC")


def _install_hooks(repo) -> None:
    from .hooks import install

    install(repo)


def make_app(settings: Settings, *, jobs: bool = True) -> Platform:
    return Platform(settings, services(settings), jobs=jobs)
