"""A whole tenant in one archive, restorable on another installation (``tessera export`` / ``import``).

The archive is a gzipped tar holding ``manifest.json`` (the registry record, its domains and
whatever the caller adds, such as members), ``repo.git/`` (the content repository, all history)
and ``tenant.db`` (a consistent snapshot taken with SQLite's backup API: catalog, stock, orders,
deploy history). Built sites are not included: publishing rebuilds them.

Stripe keys are never exported: they are sealed with this installation's secret key and would be
unreadable elsewhere, and an archive is no place for them. An imported shop takes manual payments
until its keys are entered again. Import checks every member before extracting, stages the tenant
privately and writes the registry row last: a bad archive leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from .errors import ArchiveError, TenantExists
from .migrations import connect
from .registry import Tenant, now_iso, validate_name, validate_slug
from .schema import TENANT
from .tenants import Tenants

FORMAT, VERSION = "tessera-tenant", 1
# The error every write to a tenant.db left behind by a move raises (``tessera.move``): the tenant lives
# on another node now, and the request is answered 503, to be retried there.
MOVED_AWAY = "tessera: this copy of the tenant was moved to another node"


def export_tenant(tenants: Tenants, slug: str, target: Path, extra: dict | None = None) -> dict:
    """Write ``target`` (a .tar.gz); returns the manifest."""
    tenant = tenants.registry.get(slug)
    folder = tenants.folder(slug)
    settings = dict(tenant.settings or {})
    if (settings.get("payments") or {}).get("provider") == "stripe":
        settings["payments"] = {"provider": "manual", "note": "Stripe keys are not exported; enter them again"}
    manifest = {
        "format": FORMAT, "version": VERSION, "exported_at": now_iso(),
        "tenant": {"slug": tenant.slug, "name": tenant.name, "status": tenant.status, "plan": tenant.plan,
                   "features": sorted(tenant.features), "settings": settings},
        "domains": [{"name": d.name, "primary": d.is_primary} for d in tenants.registry.domains(slug)],
        **(extra or {}),
    }
    target = Path(target)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "tenant.db"
        source = sqlite3.connect(folder / "tenant.db")
        copy = sqlite3.connect(snapshot)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        try:
            with tarfile.open(partial, "w:gz") as archive:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size, info.mtime = len(data), 0
                archive.addfile(info, io.BytesIO(data))
                archive.add(folder / "repo.git", "repo.git", filter=_no_hooks)
                archive.add(snapshot, "tenant.db")
            partial.replace(target)  # a crash never leaves a half-written archive under the real name
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def _no_hooks(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Hooks belong to an installation (they call its Python); the importing one installs its own."""
    return None if PurePosixPath(info.name).parts[1:2] == ("hooks",) else info


def read_manifest(archive_path: Path) -> dict:
    with _open(archive_path) as archive:
        return _manifest(archive)


def import_tenant(tenants: Tenants, archive_path: Path, *, slug: str | None = None, name: str | None = None
                  ) -> tuple[Tenant, dict]:
    """Restore a tenant from an archive, under its own slug or ``slug``; returns it and the manifest."""
    manifest = read_manifest(archive_path)
    record = manifest["tenant"]
    slug = validate_slug(slug or record["slug"])
    name = validate_name(name or record["name"])  # an archive is input like any other
    if tenants.registry.find(slug) is not None:
        raise TenantExists(f"a tenant with the slug {slug!r} already exists; import it with --slug NEW")
    folder = unpack_tenant(tenants, archive_path, slug)
    try:
        tenant = tenants.registry.add(slug, name, frozenset(record["features"]),
                                      plan=record["plan"], status=record["status"], settings=record["settings"])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return tenant, manifest


def unpack_tenant(tenants: Tenants, archive_path: Path, slug: str) -> Path:
    """The archive's repository and tenant.db as the files of tenant ``slug`` on this node, without
    touching the registry (an import adds the row; a move between nodes keeps the one it has).
    Every member is checked before anything is extracted; the tenant's folder appears whole or not at all."""
    if tenants.folder(slug).exists():
        raise TenantExists(f"this node already holds files for {slug!r} ({tenants.folder(slug)})")
    with _open(archive_path) as archive:
        _manifest(archive)
        members = archive.getmembers()
        for member in members:
            _check(member)
        staging = tenants.root / f".staging-{slug}-{secrets.token_hex(4)}"
        try:
            staging.mkdir(parents=True)
            for member in members:
                if member.name != "manifest.json":
                    archive.extract(member, staging, set_attrs=False, filter="data")
            _check_contents(staging)
            conn = connect(staging / "tenant.db", TENANT)  # brings an older export up to this schema
            with conn:
                conn.execute("INSERT INTO meta (key, value) VALUES ('slug', ?) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (slug,))
            conn.close()
            staging.rename(tenants.folder(slug))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return tenants.folder(slug)


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveError(f"{path} is not a Tessera export (a .tar.gz): {exc}") from None


def _manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.getmember("manifest.json")
        manifest = json.loads(archive.extractfile(member).read())  # type: ignore[union-attr]
    except (KeyError, ValueError, AttributeError):
        raise ArchiveError("the archive has no readable manifest.json: it is not a Tessera export") from None
    if manifest.get("format") != FORMAT:
        raise ArchiveError("the archive is not a Tessera tenant export")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"the archive is format version {manifest.get('version')}; this installation reads "
                           f"version {VERSION}")
    record = manifest.get("tenant") or {}
    if not all(k in record for k in ("slug", "name", "status", "plan", "features", "settings")):
        raise ArchiveError("the archive's manifest does not describe a tenant")
    return manifest


def _check(member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ArchiveError(f"the archive holds {member.name!r}, outside the tenant: refused, nothing imported")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"the archive holds {member.name!r}, which is not a plain file or folder: refused")
    top = path.parts[0]
    if top not in ("manifest.json", "tenant.db", "repo.git") or (top != "repo.git" and len(path.parts) > 1):
        raise ArchiveError(f"the archive holds {member.name!r}, which a tenant export does not contain")
    if "hooks" in path.parts[1:2]:
        raise ArchiveError(f"the archive holds {member.name!r}: git hooks are never imported")


SAFE_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"


def _check_contents(folder: Path) -> None:
    if not (folder / "tenant.db").is_file() or not (folder / "repo.git" / "HEAD").is_file():
        raise ArchiveError("the archive lacks tenant.db or the content repository")
    # A repository's config can name programs git runs (diff drivers, pagers, fsmonitor): never keep
    # one that came from outside.
    (folder / "repo.git" / "config").write_text(SAFE_CONFIG)
    check = subprocess.run(["git", "--git-dir", str(folder / "repo.git"), "fsck", "--no-progress", "--no-dangling"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise ArchiveError(f"the content repository in the archive is damaged: {check.stderr.strip()[:300]}")
    try:
        conn = sqlite3.connect(f"file:{folder / 'tenant.db'}?mode=ro", uri=True)
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.close()
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise ArchiveError(f"tenant.db in the archive is damaged: {verdict}")
