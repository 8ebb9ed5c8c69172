"""Create, open and delete tenants as whole units: registry row, content repository, tenant.db.

A tenant is staged in a private folder and moved into place before its registry row is written,
so a failed ``create`` leaves nothing behind and two creates of one slug cannot mix their files.

Layout under the data directory::

    platform.db
    tenants/<slug>/repo.git     the content repository (bare; clone and push to it)
    tenants/<slug>/tenant.db    catalog, inventory, orders, deploys, build cache
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from pathlib import Path

from .errors import InvalidValue, TenantExists, TenantNotFound
from .gitrepo import Author, Repository
from .migrations import connect, platform_location
from .parse import parse_site
from .plans import LimitReached, Plan, cheapest_lifting, counts, get_plan
from .registry import Registry, Tenant, validate_name, validate_slug
from .schema import TENANT
from .source import DirSource

PLATFORM_AUTHOR = Author("Tessera", "platform@tessera.invalid")


def _within_plan(registry: Registry, plan: Plan, paths: list[str]) -> None:
    """A new tenant's starter content must fit its plan: adding it all is adding past a limit otherwise."""
    for key, count in counts(paths).items():
        limit = plan.limits.get(key)
        if limit is not None and count > limit:
            raise LimitReached(key, limit, 0, count, plan, cheapest_lifting(registry, key, count))


def starters(sites_dir: Path) -> list[str]:
    """Names of the starter sites (folders in ``sites/`` holding a ``site.yaml``)."""
    return sorted(p.name for p in Path(sites_dir).iterdir() if (p / "site.yaml").is_file())


class Tenants:
    def __init__(self, data_dir: Path, sites_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.sites_dir = Path(sites_dir)
        self.root = self.data_dir / "tenants"
        self.root.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(platform_location(self.data_dir))

    def close(self) -> None:
        self.registry.close()

    def folder(self, slug: str) -> Path:
        return self.root / validate_slug(slug)

    def repository(self, slug: str) -> Repository:
        return Repository(self.folder(slug) / "repo.git")

    def open_db(self, slug: str) -> sqlite3.Connection:
        """Open (and upgrade) the tenant's own database; never creates one for a tenant that does not exist."""
        path = self.folder(slug) / "tenant.db"
        if not path.is_file():
            raise TenantNotFound(f"no tenant called {slug!r}; `tessera tenant list` shows them all")
        return connect(path, TENANT)

    def create(self, slug: str, name: str, features: frozenset[str], *, starter: str | None,
               plan: str = "starter", status: str = "active",
               author: Author = PLATFORM_AUTHOR) -> Tenant:
        validate_slug(slug)
        name = validate_name(name)  # before anything is staged: the name goes into the first commit
        if self.registry.find(slug) is not None or self.folder(slug).exists():
            raise TenantExists(f"a tenant with the slug {slug!r} already exists")
        starter_dir = self._starter(starter) if starter else None
        plan_ = get_plan(self.registry, plan)  # an unknown plan is refused before anything is staged
        if starter_dir is not None:
            source = DirSource(starter_dir)
            parse_site(source)  # a broken starter never becomes a tenant
            _within_plan(self.registry, plan_, source.paths())
        staging = self.root / f".staging-{slug}-{secrets.token_hex(4)}"
        moved = False
        try:
            staging.mkdir()
            Repository.create(staging / "repo.git", starter_dir, author,
                              f"Create {name} from the {starter} starter" if starter else f"Create {name}")
            conn = connect(staging / "tenant.db", TENANT)
            with conn:
                conn.execute("INSERT INTO meta (key, value) VALUES ('slug', ?)", (slug,))
            conn.close()
            try:
                staging.rename(self.folder(slug))
            except OSError:
                raise TenantExists(f"a tenant with the slug {slug!r} already exists") from None
            moved = True
            return self.registry.add(slug, name, features, plan=plan, status=status)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if moved:
                shutil.rmtree(self.folder(slug), ignore_errors=True)
            raise

    def delete(self, slug: str) -> None:
        """Remove the registry row first (so nothing new reaches the tenant), then its files."""
        self.registry.remove(slug)
        shutil.rmtree(self.folder(slug), ignore_errors=True)

    def _starter(self, name: str) -> Path:
        available = starters(self.sites_dir)
        if name not in available:
            raise InvalidValue("from", f"no starter site called {name!r}; choose from {', '.join(available)}")
        return self.sites_dir / name

    def check(self, slug: str) -> None:
        """Parse the tenant's latest content; raises ``ContentErrors`` listing every problem."""
        self.registry.get(slug)
        source = self.repository(slug).source()
        try:
            parse_site(source)
        finally:
            source.close()

