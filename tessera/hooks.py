"""Git hooks of tenant repositories: a push to main must parse and build before git accepts it.

Installed as ``hooks/pre-receive`` by ``install``; git runs it with the pushed objects still in
quarantine, so a rejected push leaves nothing behind. Messages go to the pusher's terminal.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

HOOK = """#!/bin/sh
exec "{python}" -m tessera.hooks pre-receive
"""


def install(repo: Path) -> None:
    hook = Path(repo) / "hooks" / "pre-receive"
    text = HOOK.format(python=sys.executable)
    if hook.exists() and hook.read_text() == text:
        return
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(text)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def pre_receive(lines: list[str], repo_path: Path) -> int:
    from builder.build import BuildConfig, build
    from content.errors import ContentErrors, TesseraError
    from content.gitrepo import BRANCH, Repository

    from .settings import Settings

    settings = Settings.from_env()
    repo = Repository(repo_path)
    slug = os.environ.get("TESSERA_PUSH_TENANT", repo_path.parent.name)
    for line in lines:
        old, new, ref = line.split()
        if ref != f"refs/heads/{BRANCH}":
            print(f"Only the {BRANCH} branch is published; push to {BRANCH}.", file=sys.stderr)
            return 1
        if set(new) == {"0"}:
            print(f"The {BRANCH} branch cannot be deleted.", file=sys.stderr)
            return 1
        source = repo.source(new)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                build(BuildConfig(source=source, out_dir=Path(tmp) / "out", themes_dir=settings.themes_dir,
                                  shop=_has_shop(settings, slug), workers=1))
        except ContentErrors as exc:
            print(f"Push rejected: {len(exc.errors)} problem(s) in the site's files:", file=sys.stderr)
            for error in exc.errors:
                print(f"  {error}", file=sys.stderr)
            return 1
        except TesseraError as exc:
            print(f"Push rejected: {exc}", file=sys.stderr)
            return 1
        finally:
            source.close()
    print("Checked: the site builds. Publishing after the push.", file=sys.stderr)
    return 0


def _has_shop(settings, slug: str) -> bool:
    from content.registry import Registry

    registry = Registry(settings.data_dir / "platform.db")
    try:
        tenant = registry.find(slug)
        return bool(tenant and tenant.has("ecommerce"))
    finally:
        registry.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["pre-receive"]:
        sys.exit(pre_receive([l for l in sys.stdin.read().splitlines() if l.strip()], Path(os.getcwd())))
    sys.exit(f"unknown hook {sys.argv[1:]}")
