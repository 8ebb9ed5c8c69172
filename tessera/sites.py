"""Building tenants: where their output and caches live, and which address is canonical."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from builder.build import BuildConfig, BuildResult, build
from builder.history import renamed_slugs
from commerce_api.catalog import import_snapshot
from content.registry import Tenant
from content.tenants import Tenants

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
    if out_dir == folder / "build":
        # The local build folder is what the platform serves until publishing to buckets lands,
        # so its catalog is the published one.
        catalog = json.loads((out_dir / "_tessera" / "catalog.json").read_text())
        conn = tenants.open_db(slug)
        try:
            import_snapshot(conn, catalog)
        finally:
            conn.close()
    return TenantBuild(tenant, source.commit, result)
