"""A git push is held to the same permissions table as the admin and the API, path by path, and its
media to the same image checks as an upload: real pushes over HTTP with the stock git client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.api.conftest import free_port
from tests.conftest import serving
from tests.images import png_bomb
from tests.publish.test_git_push import PASSWORD, git, remote

OWNER, EDITOR, SHOP = "owner@bakery.test", "ed@bakery.test", "shop@bakery.test"
TEMPLATE = '{% extends "theme:page.html" %}\n{% block main %}<p class="ours">Ours</p>{{ super() }}{% endblock %}\n'


@pytest.fixture(name="bakery", scope="module")
def fx_bakery(tmp_path_factory):
    from commerce_api.services import Services
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.app import api_config, make_app
    from tessera.settings import ROOT, Settings

    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path_factory.mktemp("gitroles")),
                                  "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    services = Services.build(api_config(settings))
    for email, role in ((OWNER, "owner"), (EDITOR, "editor"), (SHOP, "shop_manager")):
        user = services.users.create(email, PASSWORD)
        services.users.grant(user.id, tenants.registry.get("bakery").id, role)
    with serving(make_app(settings), port):
        yield settings, tenants, port


def clone(port, user, folder: Path) -> Path:
    git("clone", "-q", remote(port, user, slug="bakery"), str(folder))
    return folder


def push(work: Path, message: str) -> subprocess.CompletedProcess:
    git("add", "-A", cwd=work)
    git("commit", "-qm", message, cwd=work)
    return git("push", "origin", "main", cwd=work, check=False)


def change_price(work: Path) -> None:
    rye = work / "products" / "dark-rye.md"
    rye.write_text(rye.read_text().replace('price: "7.20"', 'price: "0.00"'))


def change_payment_instructions(work: Path) -> None:
    site = work / "site.yaml"
    site.write_text(site.read_text().replace("account 41938472", "account 66666666"))


def add_template(work: Path) -> None:
    (work / "theme" / "templates").mkdir(parents=True)
    (work / "theme" / "templates" / "page.html").write_text(TEMPLATE)


def add_script(work: Path) -> None:
    (work / "media" / "steal.js").write_text("fetch('/admin/users').then(r => r.text()).then(console.log)\n")


def add_bomb(work: Path) -> None:
    (work / "media" / "bomb.png").write_bytes(png_bomb(13000, 13000))
    (work / "media" / "bomb.png.yaml").write_text("alt: A very large black square\n")


@pytest.mark.parametrize("change,expected", [
    (change_price, "products/dark-rye.md: your role (editor) may not change products (products:write)"),
    (change_payment_instructions,
     "site.yaml: your role (editor) may not change site settings (settings:write): payment_instructions"),
    (add_template, "theme/templates/page.html: your role (editor) may not change theme files (theme:write)"),
    (add_script, "media/steal.js: media takes JPEG, PNG and WebP images only"),
    (add_bomb, "media/bomb.png is 13000×13000 pixels; the limit is 40 megapixels"),
], ids=["price", "payment-instructions", "template-override", "media-script", "image-bomb"])
def test_editor_push_is_refused_naming_path_and_permission(bakery, tmp_path, change, expected):
    _, tenants, port = bakery
    head = tenants.repository("bakery").head()
    work = clone(port, EDITOR, tmp_path / "work")
    change(work)
    pushed = push(work, "An editor's change")
    assert pushed.returncode != 0
    assert expected in pushed.stderr
    assert "Traceback" not in pushed.stderr and "Warning" not in pushed.stderr
    assert tenants.repository("bakery").head() == head


def test_every_refused_path_is_listed_at_once(bakery, tmp_path):
    _, tenants, port = bakery
    work = clone(port, EDITOR, tmp_path / "work")
    change_price(work)
    add_template(work)
    about = work / "pages" / "about.md"
    about.write_text(about.read_text() + "\nEditors may change this.\n")
    pushed = push(work, "Mixed")
    assert pushed.returncode != 0
    assert "products/dark-rye.md: your role (editor)" in pushed.stderr
    assert "theme/templates/page.html: your role (editor)" in pushed.stderr
    assert "pages/about.md" not in pushed.stderr


def test_a_change_made_and_undone_within_one_push_is_no_change(bakery, tmp_path):
    """The tree old..new is what gets published; a commit that an editor's later commit undoes is not."""
    _, tenants, port = bakery
    work = clone(port, EDITOR, tmp_path / "work")
    change_price(work)
    git("commit", "-qam", "Oops", cwd=work)
    git("revert", "--no-edit", "HEAD", cwd=work)
    about = work / "pages" / "about.md"
    about.write_text(about.read_text() + "\nOpen on Sundays too.\n")
    pushed = push(work, "Sundays")
    assert pushed.returncode == 0, pushed.stderr
    assert tenants.repository("bakery").history()[0].message == "Sundays"


def test_owner_may_push_a_template_override(bakery, tmp_path):
    _, tenants, port = bakery
    work = clone(port, OWNER, tmp_path / "work")
    add_template(work)
    pushed = push(work, "Our own page layout")
    assert pushed.returncode == 0, pushed.stderr
    assert "Checked: the site builds" in pushed.stderr
    assert tenants.repository("bakery").read("theme/templates/page.html") == TEMPLATE.encode()


def test_shop_manager_may_push_products_but_not_pages(bakery, tmp_path):
    _, tenants, port = bakery
    work = clone(port, SHOP, tmp_path / "work")
    rye = work / "products" / "dark-rye.md"
    rye.write_text(rye.read_text().replace('price: "7.20"', 'price: "7.60"'))
    pushed = push(work, "Rye costs more")
    assert pushed.returncode == 0, pushed.stderr
    assert b'price: "7.60"' in tenants.repository("bakery").read("products/dark-rye.md")
    about = work / "pages" / "about.md"
    about.write_text(about.read_text() + "\nA shop manager's note.\n")
    refused = push(work, "Not mine to change")
    assert refused.returncode != 0
    assert "pages/about.md: your role (shop_manager) may not change pages and posts (pages:write)" in refused.stderr


# -- the hook on its own: who pushes, and how much memory an image bomb costs ---------------------


def _commit_with(repo: Path, path: str, data: bytes) -> tuple[str, str]:
    """A commit on top of main adding one file, written without moving any ref (as a push's objects are)."""
    env = {**os.environ, "GIT_DIR": str(repo), "GIT_INDEX_FILE": str(repo / "measure.index"),
           "GIT_AUTHOR_NAME": "Ed", "GIT_AUTHOR_EMAIL": EDITOR, "GIT_COMMITTER_NAME": "Ed",
           "GIT_COMMITTER_EMAIL": EDITOR}

    def run(*args, data_in: bytes | None = None) -> str:
        return subprocess.run(["git", *args], input=data_in, env=env, capture_output=True,
                              check=True).stdout.decode().strip()

    old = run("rev-parse", "main")
    run("read-tree", old)
    blob = run("hash-object", "-w", "--stdin", data_in=data)
    run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    new = run("commit-tree", run("write-tree"), "-p", old, "-m", "Add a file")
    (repo / "measure.index").unlink()
    return old, new


def _run_hook(settings, repo: Path, old: str, new: str, **pusher: str) -> tuple[int, str, int]:
    """Runs the hook as git would and returns its exit code, its messages and its peak memory in KiB."""
    measure = textwrap.dedent("""
        import json, resource, subprocess, sys
        done = subprocess.run([sys.executable, "-m", "tessera.hooks", "pre-receive"], input=sys.argv[1],
                              capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps([done.returncode, done.stderr, peak]))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_PUSH_")}
    env.update({"TESSERA_DATA_DIR": str(settings.data_dir), "TESSERA_PUSH_TENANT": "bakery",
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **pusher})
    done = subprocess.run([sys.executable, "-c", measure, f"{old} {new} refs/heads/main\n"], cwd=repo, env=env,
                          capture_output=True, text=True, check=True)
    return tuple(json.loads(done.stdout))


def test_hook_refuses_an_image_bomb_before_decoding_it(bakery):
    settings, tenants, _ = bakery
    repo = tenants.repository("bakery").path
    old, new = _commit_with(repo, "media/bomb.png", png_bomb(13000, 13000))
    code, messages, peak_kib = _run_hook(settings, repo, old, new, TESSERA_PUSH_ROLE="owner",
                                         TESSERA_PUSH_SUPERADMIN="0", TESSERA_PUSH_USER=OWNER)
    assert code == 1 and "media/bomb.png is 13000×13000 pixels; the limit is 40 megapixels" in messages
    # Decoding it would take 13000 × 13000 × 3 bytes = 483 MiB at the very least (1.3 GB was measured).
    assert peak_kib < 200 * 1024, f"the hook peaked at {peak_kib // 1024} MiB"


def test_hook_refuses_a_push_that_did_not_come_through_the_git_server(bakery):
    settings, tenants, _ = bakery
    repo = tenants.repository("bakery").path
    old, new = _commit_with(repo, "pages/note.md", b"---\ntitle: Note\n---\nHi.\n")
    code, messages, _ = _run_hook(settings, repo, old, new)
    assert code == 1 and "Pushes are accepted only through Tessera's git server" in messages


def _crafted_tree(work: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree object written byte by byte, as an attacker would: git's own tools refuse such names."""
    body = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha) for mode, name, sha in entries)
    return git("hash-object", "-t", "tree", "--literally", "-w", "--stdin", cwd=work, input_bytes=body).stdout.strip()


def test_a_tree_naming_a_folder_dot_dot_is_refused_and_never_written_outside(bakery, tmp_path):
    """A crafted tree with a folder called ".." under media/ would let a build write an image anywhere
    (another tenant's live files included). git's own checks refuse it, and so would the hook."""
    from io import BytesIO

    from PIL import Image

    settings, tenants, port = bakery
    head = tenants.repository("bakery").head()
    work = clone(port, EDITOR, tmp_path / "work")
    image = BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(image, "PNG")
    target = tmp_path / "escaped"
    blob = git("hash-object", "-w", "--stdin", cwd=work, input_bytes=image.getvalue()).stdout.strip()
    inner = _crafted_tree(work, [("100644", "pwned.png", blob)])
    for name in reversed([*[".."] * 12, *target.parts[1:]]):
        inner = _crafted_tree(work, [("40000", name, inner)])
    media = git("rev-parse", "HEAD:media", cwd=work).stdout.strip()
    listing = git("ls-tree", media, cwd=work).stdout
    entries = [(line.split()[0], line.split("\t", 1)[1], line.split()[2]) for line in listing.splitlines()]
    new_media = _crafted_tree(work, sorted([*entries, ("40000", "..", inner)], key=lambda e: e[1]))
    root = git("ls-tree", "HEAD", cwd=work).stdout.replace(media, new_media)
    tree = git("mktree", cwd=work, input_bytes=root.encode()).stdout.strip()
    commit = git("commit-tree", tree, "-p", "HEAD", "-m", "Update photos", cwd=work).stdout.strip()
    pushed = git("push", "origin", f"{commit}:refs/heads/main", cwd=work, check=False)
    assert pushed.returncode != 0 and ("hasDotdot" in pushed.stderr or "outside the site" in pushed.stderr), pushed.stderr
    assert tenants.repository("bakery").head() == head
    assert not target.exists()


def test_a_commit_naming_a_folder_dot_dot_never_builds(tmp_path):
    """Content can reach a repository other ways than a push (an import, an older installation):
    the parser names the file and reads nothing through it."""
    from content.errors import ContentErrors
    from content.gitrepo import Author, Repository
    from content.parse import parse_site
    from tessera.settings import ROOT

    repo = Repository.create(tmp_path / "repo.git", ROOT / "sites" / "studio", Author("A", "a@example.test"))
    blob = repo.git("hash-object", "-w", "--stdin", input=b"not read").stdout.decode().strip()

    def tree(entries: list[tuple[str, str, str]]) -> str:
        body = b"".join(f"{m} {n}".encode() + b"\0" + bytes.fromhex(s) for m, n, s in entries)
        return repo.git("hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=body).stdout.decode().strip()

    escape = tree([("40000", "..", tree([("100644", "x.md", blob)]))])
    root = repo.git("ls-tree", "HEAD").stdout.decode() + f"040000 tree {escape}\tpages2\n"
    new_tree = repo.git("mktree", input=root.encode()).stdout.decode().strip()
    commit = repo.git("commit-tree", new_tree, "-p", "HEAD", "-m", "crafted").stdout.decode().strip()
    source = repo.source(commit)
    try:
        assert "pages2/../x.md" not in source.paths() and source.refused == ["pages2/../x.md"]
        with pytest.raises(ContentErrors) as caught:
            parse_site(source)
        assert any(e.path == "pages2/../x.md" and "not allowed" in e.message for e in caught.value.errors)
    finally:
        source.close()
