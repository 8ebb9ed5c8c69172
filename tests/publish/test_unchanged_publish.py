"""A publish with nothing new does as little as it can: old URLs (read from git history) are not
looked up again for a commit already answered, and a new commit still gets its redirects."""

from __future__ import annotations

import json

from content.gitrepo import Repository
from tessera.sites import publish_tenant
from tests.publish.conftest import EDITOR


def test_old_urls_are_read_from_git_once_per_commit(platform, monkeypatch):
    settings, tenants = platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    logs: list[tuple] = []
    real = Repository.git
    monkeypatch.setattr(Repository, "git", lambda self, *args, **kw: (logs.append(args) if args[:2] == ("log", "--raw") else None)
                        or real(self, *args, **kw))
    publish_tenant(settings, tenants, "bakery", actor="test")
    assert logs == []
    repo = tenants.repository("bakery")
    repo.write({"pages/about.md": None, "pages/our-story.md": repo.read("pages/about.md")}, EDITOR, "Rename")
    publish_tenant(settings, tenants, "bakery", actor="test")
    assert len(logs) == 1  # a new commit: its history is read
    redirects = json.loads((tenants.folder("bakery") / "build" / "_tessera" / "redirects.json").read_text())
    assert {"from": "/about/", "to": "/our-story/", "status": 301} in redirects
