"""Building tenants: where their output and caches live, and which address is canonical."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from builder.build import BuildConfig, BuildResult, build
from builder.history import renamed_slugs
from content.registry import Tenant
from content.tenants import Tenants
from publish.jobs import Queue
from publish.deploy import Deploy, get_deploy, list_deploys, previous_live, publish_build
from publish.storage import open_storage

from .settings import Settings


def base_url(settings: Settings, tenants: Tenants, tenant: Tenant) -> str:
    """The tenant's canonical origin: its primary verified domain, else its subdomain."""
    for domain in tenants.registry.domains(tenant.slug):
        if domain.is_primary and domain.verified_at:
            return f"https://{domain.name}"
    if settings.production:
        return f"https://{tenant.slug}.{settings.base_domain}"
    port = "" if settings.port == 80 else f":{settings.port}"
    return f"http://{tenant.slug}.{settings.base_domain}{port}"


@dataclass(frozen=True)
class TenantBuild:
    tenant: Tenant
    commit: str
    result: BuildResult


def build_tenant(settings: Settings, tenants: Tenants, slug: str, *, commit: str | None = None,
                 out_dir: Path | None = None, now: datetime | None = None,
                 progress: Callable[[int, int], None] | None = None) -> TenantBuild:
    tenant = tenants.registry.get(slug)
    folder = tenants.folder(slug)
    repo = tenants.repository(slug)
    source = repo.source(commit)
    out_dir = out_dir or folder / "build"
    cache_dir = folder / "cache" / out_dir.name  # build state belongs to one output folder
    history_cache_path = folder / "cache" / "slugs.pickle"
    try:
        history_cache = pickle.loads(history_cache_path.read_bytes())
    except (FileNotFoundError, EOFError, pickle.UnpicklingError):
        history_cache = {}
    try:
        result = build(BuildConfig(
            source=source, out_dir=out_dir, themes_dir=settings.themes_dir,
            base_url=base_url(settings, tenants, tenant), shop=tenant.has("ecommerce"),
            api_base="/api", cache_dir=cache_dir, now=now,
            renamed=renamed_slugs(repo, source.commit, history_cache), progress=progress,
        ))
    finally:
        source.close()
    history_cache_path.parent.mkdir(parents=True, exist_ok=True)
    history_cache_path.write_bytes(pickle.dumps(history_cache))
    return TenantBuild(tenant, source.commit, result)


def publish_tenant(settings: Settings, tenants: Tenants, slug: str, *, actor: str, commit: str | None = None,
                   rollback_of: int | None = None, progress: Callable[[int, int], None] | None = None,
                   ) -> tuple[TenantBuild, Deploy]:
    """Build the tenant at ``commit`` (default: the latest) and publish what changed to its bucket."""
    built = build_tenant(settings, tenants, slug, commit=commit, progress=progress)
    conn = tenants.open_db(slug)
    try:
        deploy = publish_build(conn, storage(settings, slug), built.result.out_dir, commit=built.commit,
                               actor=actor, rollback_of=rollback_of)
    finally:
        conn.close()
    if built.result.next_scheduled:  # scheduled content goes live on time: queue its publish now
        Queue(settings.data_dir / "platform.db").enqueue(slug, actor="schedule", run_after=built.result.next_scheduled)
    return built, deploy


def rollback_tenant(settings: Settings, tenants: Tenants, slug: str, *, actor: str,
                    deploy_id: int | None = None) -> tuple[TenantBuild, Deploy]:
    """Return the site and its catalog to an earlier deploy by rebuilding that deploy's commit."""
    tenants.registry.get(slug)
    conn = tenants.open_db(slug)
    try:
        target = get_deploy(conn, deploy_id) if deploy_id else previous_live(conn)
    finally:
        conn.close()
    return publish_tenant(settings, tenants, slug, actor=actor, commit=target.commit, rollback_of=target.id)


def deploys(tenants: Tenants, slug: str) -> list[Deploy]:
    tenants.registry.get(slug)
    conn = tenants.open_db(slug)
    try:
        return list_deploys(conn)
    finally:
        conn.close()


def storage(settings: Settings, slug: str):
    return open_storage(settings.storage, slug, settings.data_dir, settings.s3_endpoint_url, settings.s3_region)
