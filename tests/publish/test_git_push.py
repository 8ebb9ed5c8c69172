"""Clone, edit, push with the stock git client over HTTP; a broken push is rejected with file:line."""

from __future__ import annotations

import os
import subprocess
import time
from urllib.parse import quote

import pytest

from tests.api.conftest import free_port
from tests.conftest import serving

PASSWORD = "a long enough password"


@pytest.fixture(name="git_site", scope="module")
def fx_git_site(tmp_path_factory):
    from commerce_api.services import Services
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.app import api_config, make_app
    from tessera.settings import ROOT, Settings
    from tessera.sites import publish_tenant

    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path_factory.mktemp("git")), "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio")
    tenants.create("other", "Other", parse_features("cms"), starter="studio")
    services = Services.build(api_config(settings))
    for email, slug, role in (("ed@studio.test", "studio", "editor"), ("viewer@studio.test", "studio", "shop_manager"),
                              ("owner@other.test", "other", "owner")):
        user = services.users.create(email, PASSWORD)
        services.users.grant(user.id, tenants.registry.get(slug).id, role)
    publish_tenant(settings, tenants, "studio", actor="test")
    with serving(make_app(settings), port):
        yield settings, tenants, services, port


def git(*args, cwd=None, check=True, input_bytes: bytes | None = None):
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "Ed", "GIT_AUTHOR_EMAIL": "ed@studio.test",
           "GIT_COMMITTER_NAME": "Ed", "GIT_COMMITTER_EMAIL": "ed@studio.test"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=check, input=input_bytes)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))


def remote(port, user="ed@studio.test", secret=PASSWORD, slug="studio"):
    return f"http://{quote(user, safe='')}:{quote(secret, safe='')}@127.0.0.1:{port}/git/{slug}.git"


def test_clone_edit_push_publishes(git_site, tmp_path):
    settings, tenants, _, port = git_site
    work = tmp_path / "work"
    git("clone", "-q", remote(port), str(work))
    page = work / "pages" / "contact.md"
    page.write_text(page.read_text() + "\nOpen studio on the first Saturday of every month.\n")
    git("commit", "-qam", "Open studio days", cwd=work)
    pushed = git("push", "origin", "main", cwd=work)
    assert "Checked: the site builds" in pushed.stderr
    assert tenants.repository("studio").history()[0].message == "Open studio days"
    live = settings.data_dir / "buckets" / "studio" / "current" / "contact" / "index.html"
    deadline = time.monotonic() + 60
    while "first Saturday" not in live.read_text() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "first Saturday" in live.read_text()


def test_broken_push_is_rejected_with_file_and_line(git_site, tmp_path):
    _, tenants, _, port = git_site
    head = tenants.repository("studio").head()
    work = tmp_path / "work"
    git("clone", "-q", remote(port), str(work))
    (work / "pages" / "about.md").write_text("---\ntitle: About\nstatus: live\n---\n")
    git("commit", "-qam", "Break it", cwd=work)
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "pages/about.md:3: status: 'live' is not one of" in pushed.stderr
    assert tenants.repository("studio").head() == head


def test_api_tokens_and_roles_on_git(git_site, tmp_path):
    _, tenants, services, port = git_site
    editor = services.users.by_email("ed@studio.test")
    _, token = services.credentials.create_api_token(editor.id, tenants.registry.get("studio").id, "git")
    assert git("clone", "-q", remote(port, "anything", token), str(tmp_path / "a")).returncode == 0
    wrong_site = git("clone", "-q", remote(port, "anything", token, slug="other"), str(tmp_path / "b"), check=False)
    assert wrong_site.returncode != 0  # a studio token is refused at another tenant
    bad_password = git("clone", "-q", remote(port, secret="wrong password!"), str(tmp_path / "c"), check=False)
    assert bad_password.returncode != 0
    viewer = tmp_path / "d"
    git("clone", "-q", remote(port, "viewer@studio.test"), str(viewer))  # shop managers may read pages
    (viewer / "pages" / "about.md").write_text((viewer / "pages" / "about.md").read_text() + "\nx\n")
    git("commit", "-qam", "Not allowed", cwd=viewer)
    refused = git("push", "origin", "main", cwd=viewer, check=False)
    assert refused.returncode != 0  # they may push media, but not pages: the hook names the path
    assert "pages/about.md: your role (shop_manager) may not change pages and posts (pages:write)" in refused.stderr


def test_an_oversized_git_request_is_refused_without_reading_it_into_memory(git_site):
    """A fetch asks for a few commits; a body of hundreds of megabytes is refused, not buffered."""
    import httpx

    from commerce_api.gitserve import MAX_FETCH_REQUEST_BYTES

    port = git_site[3]
    auth = ("ed@studio.test", PASSWORD)
    url = f"http://127.0.0.1:{port}/git/studio.git/git-upload-pack"
    headers = {"Content-Type": "application/x-git-upload-pack-request"}
    declared = httpx.post(url, auth=auth, headers=headers, content=b"0" * (MAX_FETCH_REQUEST_BYTES + 1))
    assert declared.status_code == 413 and "MiB" in declared.text

    def stream():  # no Content-Length: chunked, so the limit must hold while reading
        for _ in range(MAX_FETCH_REQUEST_BYTES // 2**20 + 2):
            yield b"0" * 2**20

    chunked = httpx.post(url, auth=auth, headers=headers, content=stream())
    assert chunked.status_code == 413


def test_pushed_template_cannot_run_code_on_the_server(git_site, tmp_path):
    """Owners may push theme templates, but not Python: the build the push waits for runs them
    sandboxed and refuses the push with the template's file, line and what the sandbox refused."""
    _, tenants, services, port = git_site
    owner = services.users.create("owner@studio.test", PASSWORD)
    services.users.grant(owner.id, tenants.registry.get("studio").id, "owner")
    head = tenants.repository("studio").head()
    marker = tmp_path / "pwned"
    work = tmp_path / "work"
    git("clone", "-q", remote(port, "owner@studio.test"), str(work))
    template = work / "theme" / "templates" / "page.html"
    template.parent.mkdir(parents=True)
    escape = "{{ cycler.__init__.__globals__.os.makedirs(%r) }}" % str(marker)
    template.write_text(f'{{% extends "theme:page.html" %}}\n{{% block main %}}\n{escape}\n{{% endblock %}}\n')
    git("add", "-A", cwd=work)
    git("commit", "-qm", "A page template", cwd=work)
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "theme/templates/page.html:3: access to attribute '__init__'" in pushed.stderr
    assert "sandbox" in pushed.stderr and "Traceback" not in pushed.stderr
    assert not marker.exists()
    assert tenants.repository("studio").head() == head


def test_a_broken_shipping_yaml_is_rejected_with_its_line(git_site, tmp_path):
    _, tenants, _, port = git_site
    head = tenants.repository("other").head()
    work = tmp_path / "work"
    git("clone", "-q", remote(port, "owner@other.test", slug="other"), str(work))
    shipping = work / "shipping.yaml"
    shipping.write_text(shipping.read_text().replace('thu: "14:00-18:00"', 'thu: "2pm-6pm"'))
    git("commit", "-qam", "Thursday hours", cwd=work)
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0
    line = shipping.read_text().splitlines().index('      thu: "2pm-6pm"') + 1
    assert f"shipping.yaml:{line}: hours: thu: '2pm-6pm' is not a range of times such as \"08:00-16:00\"" in pushed.stderr
    assert tenants.repository("other").head() == head


def test_a_plan_without_git_refuses_clones_and_pushes_naming_the_plan(git_site, tmp_path):
    from content import plans

    _, tenants, _, port = git_site
    registry = tenants.registry
    starter = plans.get_plan(registry, "starter")
    work = tmp_path / "work"
    git("clone", "-q", remote(port), str(work))
    plans.update_plan(registry, "starter", title=starter.title, features=starter.features - {"git"},
                      limits=starter.limits, actor=None)
    try:
        refused = git("clone", "-q", remote(port), str(tmp_path / "again"), check=False)
        assert refused.returncode != 0 and "403" in refused.stderr
        (work / "pages" / "about.md").write_text((work / "pages" / "about.md").read_text() + "\nMore.\n")
        git("commit", "-qam", "More", cwd=work)
        head = tenants.repository("studio").head()
        pushed = git("push", "origin", "main", cwd=work, check=False)
        assert pushed.returncode != 0 and tenants.repository("studio").head() == head
    finally:
        plans.update_plan(registry, "starter", title=starter.title, features=starter.features,
                          limits=starter.limits, actor=None)
    assert git("push", "origin", "main", cwd=work).returncode == 0


def test_the_refusal_of_git_says_why(git_site):
    import httpx

    from content import plans

    _, tenants, _, port = git_site
    registry = tenants.registry
    starter = plans.get_plan(registry, "starter")
    plans.update_plan(registry, "starter", title=starter.title, features=starter.features - {"git"},
                      limits=starter.limits, actor=None)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/git/studio.git/info/refs?service=git-upload-pack",
                           auth=("ed@studio.test", PASSWORD))
        assert answer.status_code == 403
        assert answer.text.startswith("Your Starter plan does not include git access. Business includes it")
    finally:
        plans.update_plan(registry, "starter", title=starter.title, features=starter.features,
                          limits=starter.limits, actor=None)


def test_a_push_to_a_suspended_site_is_refused_with_its_reason(git_site, tmp_path):
    _, tenants, _, port = git_site
    work = tmp_path / "work"
    git("clone", "-q", remote(port, user="owner@other.test", slug="other"), str(work))
    (work / "pages" / "contact.md").write_text((work / "pages" / "contact.md").read_text() + "\nMore.\n")
    git("commit", "-qam", "More", cwd=work)
    head = tenants.repository("other").head()
    tenants.registry.suspend("other", "Invoice INV-9 unpaid")
    try:
        refused = git("push", "origin", "main", cwd=work, check=False)
    finally:
        tenants.registry.resume("other")
    assert refused.returncode != 0
    assert "suspended" in refused.stderr and "Reason: Invoice INV-9 unpaid" in refused.stderr
    assert tenants.repository("other").head() == head
