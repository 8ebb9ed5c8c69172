"""`tessera export` / `tessera import`: a whole tenant moves to another installation and publishes
there; a hostile or broken archive is refused and leaves nothing behind."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from click.testing import CliRunner

from content.archive import import_tenant
from content.errors import ArchiveError
from content.gitrepo import Author
from content.tenants import Tenants
from tessera.cli import main
from tessera.settings import Settings


def cli(data, *args: str, input: str | None = None):
    result = CliRunner(env={"TESSERA_DATA_DIR": str(data)}).invoke(main, list(args), input=input,
                                                                   catch_exceptions=False)
    return result


@pytest.fixture(name="exported", scope="module")
def fx_exported(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    assert cli(source, "tenant", "create", "deli", "--name", "Deli & Co", "--features", "cms,ecommerce",
               "--from", "bakery").exit_code == 0
    assert cli(source, "user", "create", "owner@deli.test", "--password-stdin",
               input="a long enough password\n").exit_code == 0
    assert cli(source, "user", "grant", "owner@deli.test", "deli", "owner").exit_code == 0
    assert cli(source, "user", "create", "staff@deli.test", "--password-stdin",
               input="a long enough password\n").exit_code == 0
    assert cli(source, "user", "grant", "staff@deli.test", "deli", "shop_manager").exit_code == 0
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(source)})
    tenants = Tenants(settings.data_dir, settings.sites_dir)
    tenants.repository("deli").write({"pages/about.md": b"---\ntitle: About the deli\n---\nSince 1999.\n"},
                                     Author("Ann", "owner@deli.test"), "About us")
    assert cli(source, "publish", "deli").exit_code == 0
    assert cli(source, "stock", "deli", "BG-1", "--set", "17").exit_code == 0
    assert cli(source, "domain", "add", "deli", "shop.deli.example", "--primary").exit_code == 0
    assert cli(source, "tenant", "payments", "deli", "--provider", "stripe", "--keys-stdin",
               input="sk_test_secret_deli_123\nwhsec_deli_456\n").exit_code == 0
    archive = source / "deli.tar.gz"
    result = cli(source, "export", "deli", str(archive))
    assert result.exit_code == 0, result.output
    assert "Stripe keys were not exported" in result.output
    head = tenants.repository("deli").head()
    tenants.close()
    return archive, head


def test_a_tenant_moves_to_another_installation(exported, tmp_path):
    archive, head = exported
    raw = archive.read_bytes()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        text = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert "manifest.json" in names and "tenant.db" in names and "repo.git/HEAD" in names
    assert not any(n.startswith("repo.git/hooks") for n in names)
    assert b"sk_test_secret_deli_123" not in text and b"sk_test_secret_deli_123" not in raw

    target = tmp_path / "target"
    assert cli(target, "user", "create", "owner@deli.test", "--password-stdin",
               input="another long password\n").exit_code == 0
    result = cli(target, "import", str(archive), "--slug", "deli2")
    assert result.exit_code == 0, result.output
    assert "staff@deli.test (shop_manager)" in result.output  # no account here yet: named, not invented
    assert "_tessera-challenge.shop.deli.example" in result.output  # domains must be verified again

    settings = Settings.from_env({"TESSERA_DATA_DIR": str(target)})
    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        imported = tenants.registry.get("deli2")
        assert imported.name == "Deli & Co" and imported.has("ecommerce")
        assert imported.settings["payments"]["provider"] == "manual"
        repo = tenants.repository("deli2")
        assert repo.head() == head and b"Since 1999." in repo.read("pages/about.md")
        assert len(repo.history()) >= 2  # the history came along
        conn = tenants.open_db("deli2")
        assert conn.execute("SELECT on_hand FROM stock WHERE sku = 'BG-1'").fetchone()[0] == 17
        assert conn.execute("SELECT value FROM meta WHERE key = 'slug'").fetchone()[0] == "deli2"
        conn.close()
        assert not tenants.registry.domains("deli2")[0].verified_at
    finally:
        tenants.close()
    assert "deli2:owner" in cli(target, "user", "list").output  # the account that exists here got its role
    published = cli(target, "publish", "deli2")
    assert published.exit_code == 0, published.output
    assert cli(target, "import", str(archive), "--slug", "deli2").exit_code == 1  # taken: refused


def hostile(tmp_path, name: str, data: bytes = b"x", manifest: dict | None = None, kind=tarfile.REGTYPE):
    path = tmp_path / f"{name.replace('/', '_')}.tar.gz"
    manifest = manifest or {"format": "tessera-tenant", "version": 1, "tenant": {
        "slug": "evil", "name": "Evil", "status": "active", "plan": "starter", "features": ["cms"], "settings": {}}}
    with tarfile.open(path, "w:gz") as tar:
        body = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        info = tarfile.TarInfo(name)
        info.type = kind
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
        else:
            info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if kind != tarfile.SYMTYPE else None)
    return path


@pytest.mark.parametrize("name, kind, message", [
    ("../outside.txt", tarfile.REGTYPE, "outside the tenant"),
    ("/etc/cron.d/evil", tarfile.REGTYPE, "outside the tenant"),
    ("repo.git/objects/link", tarfile.SYMTYPE, "not a plain file"),
    ("repo.git/hooks/post-update", tarfile.REGTYPE, "hooks are never imported"),
    ("somewhere/else.txt", tarfile.REGTYPE, "does not contain"),
    ("tenant.db", tarfile.REGTYPE, "lacks tenant.db or the content repository"),
])
def test_hostile_or_broken_archives_are_refused_and_leave_nothing(tmp_path, name, kind, message):
    data = tmp_path / "data"
    tenants = Tenants(data, Settings.from_env({"TESSERA_DATA_DIR": str(data)}).sites_dir)
    try:
        with pytest.raises(ArchiveError, match=message):
            import_tenant(tenants, hostile(tmp_path, name, kind=kind))
        assert tenants.registry.find("evil") is None
        assert sorted(p.name for p in tenants.root.iterdir()) == []
        assert not (tmp_path / "outside.txt").exists()
    finally:
        tenants.close()


def test_not_an_archive_or_a_foreign_one(tmp_path):
    data = tmp_path / "data"
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip at all")
    assert "not a Tessera export" in cli(data, "import", str(junk)).output
    other = hostile(tmp_path, "tenant.db", manifest={"format": "something-else", "version": 1})
    assert "not a Tessera tenant export" in cli(data, "import", str(other)).output


def test_a_repository_config_from_an_archive_is_replaced(exported, tmp_path):
    """A config could name programs git runs (diff drivers, pagers): an import never keeps one."""
    archive, _ = exported
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(evil, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == "repo.git/config":
                data = data + b'[diff]\n\texternal = touch /tmp/tessera-pwned\n'
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    data_dir = tmp_path / "data"
    assert cli(data_dir, "import", str(evil), "--slug", "safe").exit_code == 0
    config = (data_dir / "tenants" / "safe" / "repo.git" / "config").read_text()
    assert "external" not in config and "bare = true" in config


@pytest.mark.parametrize("name", ["Evil\x00Corp", "x" * 100_000])
def test_an_archive_with_a_bad_name_is_refused_before_anything_is_written(tmp_path, name):
    from content.errors import InvalidValue

    data = tmp_path / "data"
    manifest = {"format": "tessera-tenant", "version": 1, "tenant": {
        "slug": "evil", "name": name, "status": "active", "plan": "starter", "features": ["cms"], "settings": {}}}
    result = cli(data, "import", str(hostile(tmp_path, "tenant.db", manifest=manifest)))
    assert result.exit_code == 1 and "name: " in result.output and "Traceback" not in result.output
    tenants = Tenants(data, Settings.from_env({"TESSERA_DATA_DIR": str(data)}).sites_dir)
    try:
        assert tenants.registry.find("evil") is None and list(tenants.root.iterdir()) == []
        with pytest.raises(InvalidValue, match="^name: "):  # --name is checked the same way
            import_tenant(tenants, hostile(tmp_path, "tenant.db"), name="Evil\x1b[2J")
    finally:
        tenants.close()
