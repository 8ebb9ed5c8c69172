"""Building tenants: where their output and caches live, and which address is canonical.

A tenant's publishes take turns (a lock in its folder, held across processes), and each begins by
clearing what a killed one left: its half-made build, its 'running' deploy, its bucket's temporary
files. ``recover_tenant`` does the same at a job runner's start.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from content.migrations import platform_location
from builder.build import BuildConfig, BuildResult, build
from builder.history import renamed_slugs
from builder.output import locked, recover
from content import plans, prices
from content.gitrepo import Repository
from content.registry import Tenant
from content.tenants import Tenants
from publish.jobs import Queue, spread
from publish.deploy import Deploy, fail_interrupted, get_deploy, list_deploys, previous_live, publish_build
from publish.storage import FileStorage, open_storage

# Scheduled content of many sites often comes due at the same moment: each site's publish runs within
# this many seconds after it, at an offset of its own.
SCHEDULE_SPREAD_SECONDS = 60

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


class BuildMemory:
    """What a long-lived process that publishes (a worker, the in-process job runner) keeps of its
    tenants' builds between jobs: the build state, the parse cache, the history of slugs and the
    local bucket's parsed release manifests, so a one-page save re-reads nothing of the other pages.
    The tenants built last are kept, up to about ``files`` entries in all (sources, output files and
    the kept releases' files: a 10,000-page site counts ~110,000, some 30 MB).

    Each tenant's part is used by one publish at a time (its publish lock); the builder checks it
    against what is on disk first, so a build by another process (a git push's check) is never
    overwritten by an old copy."""

    def __init__(self, files: int = 150_000) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._tenants: OrderedDict[str, dict] = OrderedDict()

    def of(self, slug: str) -> dict:
        with self._lock:
            memory = self._tenants.pop(slug, None)
            if memory is None:
                memory = {}
            self._tenants[slug] = memory
            total = sum(map(_size, self._tenants.values()))
            while total > self.files and len(self._tenants) > 1:
                _, dropped = self._tenants.popitem(last=False)
                total -= _size(dropped)
            return memory

    def __contains__(self, slug: str) -> bool:
        with self._lock:
            return slug in self._tenants

    def forget(self, slug: str) -> None:
        with self._lock:
            self._tenants.pop(slug, None)


def _size(memory: dict) -> int:
    return (len(memory.get("state", {}).get("manifest", ())) + len(memory.get("parse", ()))
            + sum(map(len, memory.get("releases", {}).values())))


@dataclass(frozen=True)
class TenantBuild:
    tenant: Tenant
    commit: str
    result: BuildResult


def build_tenant(settings: Settings, tenants: Tenants, slug: str, *, commit: str | None = None,
                 out_dir: Path | None = None, now: datetime | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 price_history: prices.PriceHistory | None = None, memory: dict | None = None,
                 repository: Repository | None = None) -> TenantBuild:
    """Build the tenant at ``commit`` (default: the latest). ``memory``: the tenant's part of a
    ``BuildMemory`` when the caller lives on, for the site's own build folder only. ``repository``:
    the tenant's repository seen another way (a push's quarantine, for its check)."""
    tenant = tenants.registry.get(slug)
    folder = tenants.folder(slug)
    repo = repository or tenants.repository(slug)
    out_dir = out_dir or folder / "build"
    cache_dir = folder / "cache" / out_dir.name  # build state belongs to one output folder
    history_cache_path = folder / "cache" / "slugs.pickle"  # what git history says, by commit and blob
    prices_cache_path = folder / prices.CACHE
    if out_dir != folder / "build":
        memory = None  # a build elsewhere (a check, an export) has a state of its own
    history_cache = memory.get("history") if memory is not None else None
    if history_cache is None:
        history_cache = _load_cache(history_cache_path)
        if "slugs" not in history_cache:  # written before the lineage was kept: blob → slug at the top
            history_cache = {}
    known = (history_cache.get("lineage"), history_cache.get("info"))
    source = repo.source(commit, history=history_cache)
    prices_cache = _load_cache(prices_cache_path)
    known_prices = len(prices_cache)
    try:
        result = build(BuildConfig(
            source=source, out_dir=out_dir, themes_dir=settings.themes_dir,
            base_url=base_url(settings, tenants, tenant), shop=tenant.has("ecommerce"),
            analytics=tenant.has("analytics"),
            api_base="/api", cache_dir=cache_dir, now=now,
            renamed=renamed_slugs(repo, source.commit, history_cache), progress=progress,
            price_history=price_history or prices.PriceHistory(repo, source.commit, cache=prices_cache),
            markdown_cache=settings.data_dir / "cache" / "markdown",  # shared by every tenant's builds
            image_cache=settings.data_dir / "cache" / "images",  # likewise: a starter's images encode once
            memory=memory,
        ))
    finally:
        source.close()
    if memory is not None:
        memory["history"] = history_cache
    if any(now is not before for now, before in zip((history_cache.get("lineage"), history_cache.get("info")), known)):
        _save_cache(history_cache_path, history_cache)
    if len(prices_cache) != known_prices:  # blobs never change: only new ones need saving
        _save_cache(prices_cache_path, prices_cache)
    return TenantBuild(tenant, source.commit, result)


def _load_cache(path: Path) -> dict:
    try:
        return pickle.loads(path.read_bytes())
    except (FileNotFoundError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return {}


def _save_cache(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Through a file of this thread's own and a rename: builds of one tenant's other folders (a
    # preview, the CLI) may save at the same moment, and a killed save must not leave half a file.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(pickle.dumps(data))
    os.replace(tmp, path)


def publish_tenant(settings: Settings, tenants: Tenants, slug: str, *, actor: str, commit: str | None = None,
                   rollback_of: int | None = None, progress: Callable[[int, int], None] | None = None,
                   memory: BuildMemory | None = None) -> tuple[TenantBuild, Deploy]:
    """Build the tenant at ``commit`` (default: the latest) and publish what changed to its bucket.

    A publish past the plan's ``publishes_per_day`` is refused (``plans.LimitReached``) before anything
    is built, counted under the tenant's publish lock so that two publishes cannot both take the last
    one; a rollback (``rollback_of``) is never refused."""
    timings = {"started": time.time()}  # recorded with the deploy: where Save-to-live's time goes
    mark = time.perf_counter()
    tenant = tenants.registry.get(slug)  # an unknown tenant is a clear error, before any lock file is opened
    with _publishing(tenants, slug, wait=True):
        if rollback_of is None:
            refused = publish_refusal(tenants, tenant)
            if refused is not None:
                raise refused
        _clean_up(settings, tenants, slug)
        timings["lock"] = time.perf_counter() - mark
        mark = time.perf_counter()
        built = build_tenant(settings, tenants, slug, commit=commit, progress=progress,
                             memory=memory.of(slug) if memory is not None else None)
        timings["build"] = time.perf_counter() - mark
        bucket = storage(settings, slug)
        if memory is not None and isinstance(bucket, FileStorage):
            bucket.parsed = memory.of(slug).setdefault("releases", {})
        conn = tenants.open_db(slug)
        try:
            deploy = publish_build(conn, bucket, built.result.out_dir, commit=built.commit,
                                   actor=actor, rollback_of=rollback_of, timings=timings,
                                   manifest=built.result.manifest)
        finally:
            conn.close()
    if built.result.next_scheduled:  # scheduled content goes live on time (within a minute): queue its publish now
        Queue(platform_location(settings.data_dir)).enqueue(
            slug, actor="schedule", run_after=built.result.next_scheduled + spread(slug, SCHEDULE_SPREAD_SECONDS))
    return built, deploy


def publish_refusal(tenants: Tenants, tenant: Tenant) -> plans.LimitReached | None:
    """Why one more publish of the tenant today would be refused by its plan, or None."""
    conn = tenants.open_db(tenant.slug)
    try:
        plans.check_publish(tenants.registry, tenant, conn)
    except plans.LimitReached as exc:
        return exc
    finally:
        conn.close()
    return None


def rollback_tenant(settings: Settings, tenants: Tenants, slug: str, *, actor: str,
                    deploy_id: int | None = None, memory: BuildMemory | None = None) -> tuple[TenantBuild, Deploy]:
    """Return the site and its catalog to an earlier deploy by rebuilding that deploy's commit."""
    tenants.registry.get(slug)
    conn = tenants.open_db(slug)
    try:
        target = get_deploy(conn, deploy_id) if deploy_id else previous_live(conn)
    finally:
        conn.close()
    return publish_tenant(settings, tenants, slug, actor=actor, commit=target.commit, rollback_of=target.id,
                          memory=memory)


def recover_tenant(settings: Settings, tenants: Tenants, slug: str) -> bool:
    """Clear what a killed publish of the tenant left, unless a publish is running right now (in
    another process); returns whether it cleaned up."""
    if not tenants.folder(slug).is_dir():
        return False  # deleted since: nothing of it is left to clean
    with _publishing(tenants, slug, wait=False) as ours:
        if ours:
            _clean_up(settings, tenants, slug)
        return ours


@contextmanager
def _publishing(tenants: Tenants, slug: str, *, wait: bool) -> Iterator[bool]:
    """The tenant's publish lock; yields False when ``wait`` is off and someone else holds it.
    The kernel drops it when the holder dies, so a killed publish never blocks the next one."""
    with open(tenants.folder(slug) / "publish.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            # Unlock explicitly: forked build workers may hold a copy of this descriptor.
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def publishing(tenants: Tenants, slug: str) -> Iterator[None]:
    """Hold the tenant's publish lock (waiting for it), for work that must not interleave with a publish."""
    with _publishing(tenants, slug, wait=True):
        yield


def _clean_up(settings: Settings, tenants: Tenants, slug: str) -> None:
    """Holding the publish lock: whatever is half done was left by a publish that died."""
    build_dir = tenants.folder(slug) / "build"
    with locked(build_dir):
        recover(build_dir)
    conn = tenants.open_db(slug)
    try:
        fail_interrupted(conn)
    finally:
        conn.close()
    storage(settings, slug).clean()


def deploys(tenants: Tenants, slug: str) -> list[Deploy]:
    tenants.registry.get(slug)
    conn = tenants.open_db(slug)
    try:
        return list_deploys(conn)
    finally:
        conn.close()


def storage(settings: Settings, slug: str):
    return open_storage(settings.storage, slug, settings.data_dir, settings.s3_endpoint_url, settings.s3_region)
