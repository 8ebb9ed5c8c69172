"""Git hooks of tenant repositories: a push to main must be the pusher's to make, and must parse and
build, before git accepts it.

Installed as ``hooks/pre-receive`` by ``install``; git runs it with the pushed objects still in
quarantine, so a rejected push leaves nothing behind. Messages go to the pusher's terminal.

Who pushes comes from the git server (``commerce_api.gitserve``), which signed the person in and put
their role in the environment git hands to this hook; nothing the client sends can set it. A push
without it did not come through the git server and is refused.

What a push changes is the tree diff old..new of the branch: exactly what publishing would change.
Not commit by commit: a merge of main into an editor's work would otherwise be charged with every
change it brings in from main, and a change undone within the same push is no change to the site.
"""

from __future__ import annotations

import os
import stat
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from content.migrations import platform_location

HOOK = """#!/bin/sh
exec "{python}" -m tessera.hooks pre-receive
"""
# Set by the git server for each push; see ``Pusher.from_env``.
ROLE, SUPERADMIN, USER, TENANT = "TESSERA_PUSH_ROLE", "TESSERA_PUSH_SUPERADMIN", "TESSERA_PUSH_USER", "TESSERA_PUSH_TENANT"


def install(repo: Path) -> None:
    from content.gitrepo import Repository

    Repository(Path(repo)).harden()
    hook = Path(repo) / "hooks" / "pre-receive"
    text = HOOK.format(python=sys.executable)
    if hook.exists() and hook.read_text() == text:
        return
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(text)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@dataclass(frozen=True)
class Pusher:
    email: str
    role: str | None
    superadmin: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Pusher | None:
        if ROLE not in env or SUPERADMIN not in env:
            return None
        return cls(env.get(USER, ""), env[ROLE] or None, env[SUPERADMIN] == "1")


@dataclass(frozen=True)
class Changed:
    path: str
    status: str  # git's letter: A added, M modified, D deleted, T type changed
    old: str  # blob ids (all zeros when absent)
    new: str


def changed_paths(repo, old: str, new: str) -> list[Changed]:
    """Every path whose content differs between the trees of ``old`` and ``new`` (``old`` may be
    all zeros: a new branch, then everything in ``new`` is new)."""
    if set(old) == {"0"}:
        old = repo.git("hash-object", "-t", "tree", "--stdin", input=b"").stdout.decode().strip()  # the empty tree
    out = repo.git("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old, new).stdout.decode()
    fields = out.split("\0")
    changes = []
    for meta, path in zip(fields[0::2], fields[1::2]):
        _, _, old_blob, new_blob, status = meta.lstrip(":").split()
        changes.append(Changed(path, status, old_blob, new_blob))
    return changes


def refusals(repo, changes: list[Changed], pusher: Pusher, shop: bool, max_bytes: int | None) -> list[str]:
    """One message per path the pusher may not change, then per image the admin would refuse."""
    from commerce_api.auth.permissions import (
        SHOP_ACTIONS,
        WHAT,
        permitted,
        repository_action,
    )
    from content.errors import PathError
    from content.gitrepo import safe_path
    from content.media import MediaError, check_stored

    problems = []
    for change in changes:  # names first: a crafted tree can name a folder ".." (git's fsck also refuses it)
        try:
            safe_path(change.path)
        except PathError as exc:
            problems.append(f"{change.path}: {exc}")
    if problems:
        return problems
    role = pusher.role or "none"
    for change in changes:
        action = repository_action(change.path)
        if not permitted(pusher.role, action, superadmin=pusher.superadmin, shop=shop):
            fields = _changed_settings(repo, change) if change.path == "site.yaml" else ""
            reason = "this site's shop (the ecommerce feature) is off" if action in SHOP_ACTIONS and not shop \
                else f"your role ({role}) may not change {WHAT[action]} ({action})"
            problems.append(f"{change.path}: {reason}{fields}")
    if problems:
        return problems
    for change in changes:
        if not change.path.startswith("media/") or change.status == "D" or change.path.endswith((".yaml", ".yml")):
            continue
        try:
            # The header is read, and the pixel limit checked, before anything is decoded.
            check_stored(change.path, _blob(repo, change.new), max_bytes)
        except MediaError as exc:
            problems.append(str(exc))
    return problems


def colour_refusals(repo, changes: list[Changed]) -> list[str]:
    """A push that changes the site's colours is held to the contrast the admin asks for
    (``content.colours``); colours it leaves as they were are not judged again."""
    import yaml

    from content.colours import problems

    def colours(sha: str) -> dict:
        try:
            data = yaml.safe_load(_blob(repo, sha)) if set(sha) != {"0"} else {}
        except yaml.YAMLError:
            return {}  # the parser names the broken file
        settings = data.get("theme_settings") if isinstance(data, dict) else None
        found = settings.get("colors") if isinstance(settings, dict) else None
        return found if isinstance(found, dict) else {}

    for change in changes:
        if change.path == "site.yaml" and change.status != "D":
            after = colours(change.new)
            if after != colours(change.old):
                return [f"site.yaml: theme_settings.colors: {problem}" for problem in problems(after)]
    return []


def _blob(repo, sha: str) -> bytes:
    return repo.git("cat-file", "blob", sha).stdout


def _changed_settings(repo, change: Changed) -> str:
    """': payment_instructions, shipping': the top-level settings whose value the change touches."""
    import yaml

    def load(sha: str) -> dict:
        try:
            data = yaml.safe_load(_blob(repo, sha)) if set(sha) != {"0"} else {}
        except yaml.YAMLError:
            return {}
        return data if isinstance(data, dict) else {}

    before, after = load(change.old), load(change.new)
    keys = sorted(str(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return f": {', '.join(keys)}" if keys else ""


# What git gives the hook of the pushed objects, still in quarantine: a check in another process
# (a worker, ``tessera.pushcheck``) reads them through these.
QUARANTINE = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")


def run(lines: list[str], repo_path: Path, env: Mapping[str, str] = os.environ) -> int:
    """The hook: a worker of this node checks the push when one listens (warm: its memory of the
    site's last build makes a one-page push's check a one-page build), else this process does."""
    from .pushcheck import ask
    from .settings import Settings
    from .worker import sockets_dir

    answer = ask(sockets_dir(Settings.from_env(env)), lines, repo_path, env)
    if answer is not None:
        code, output = answer
        sys.stderr.write(output)
        return code
    # Images over content.media's pixel limit are refused with a message of ours; Pillow's own warning
    # about them would only print a server path on the pusher's terminal.
    from PIL import Image

    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    return pre_receive(lines, repo_path, env)


def pre_receive(lines: list[str], repo_path: Path, env: Mapping[str, str] = os.environ, *, out=None,
                settings=None, memory=None) -> int:
    """Check a push: 0 accepts it, anything else refuses it; what the pusher reads goes to ``out``
    (the hook's stderr). ``memory``: a worker's ``BuildMemory``, for the check's build."""
    from content.errors import ContentErrors, TesseraError
    from content.gitrepo import BRANCH, Repository

    from .settings import Settings

    out = out or sys.stderr
    pusher = Pusher.from_env(env)
    if pusher is None:
        print("Pushes are accepted only through Tessera's git server, on the site's own address "
              "(http(s)://<site>.<base domain>/git/<site>.git), which knows who you are.", file=out)
        return 1
    settings = settings or Settings.from_env()
    repo = Repository(repo_path, env={k: env[k] for k in QUARANTINE if k in env})
    slug = env.get(TENANT, repo_path.parent.name)
    shop, max_bytes = _tenant_facts(settings, slug)
    updates = [line.split() for line in lines]
    for old, new, ref in updates:  # every ref first: nothing is built for a push refused anyway
        if ref != f"refs/heads/{BRANCH}":
            print(f"Only the {BRANCH} branch is published; push to {BRANCH}.", file=out)
            return 1
        if set(new) == {"0"}:
            print(f"The {BRANCH} branch cannot be deleted.", file=out)
            return 1
    for old, new, ref in updates:
        changes = changed_paths(repo, old, new)
        problems = refusals(repo, changes, pusher, shop, max_bytes) or colour_refusals(repo, changes)
        problems = problems or limit_problems(settings, slug, repo, old, new)
        if problems:
            print(f"Push rejected: {len(problems)} change(s) refused:", file=out)
            for problem in problems:
                print(f"  {problem}", file=out)
            return 1
        try:
            check_build(settings, slug, new, _price_history(repo, old, new, repo_path), repository=repo,
                        memory=memory.of(slug) if memory is not None else None)
        except ContentErrors as exc:
            print(f"Push rejected: {len(exc.errors)} problem(s) in the site's files:", file=out)
            for error in exc.errors:
                print(f"  {error}", file=out)
            return 1
        except TesseraError as exc:
            print(f"Push rejected: {exc}", file=out)
            return 1
    refused = publish_refused(settings, slug)
    if refused:
        # The commit lands either way: only the publish waits (for tomorrow, or a larger plan).
        print(f"Checked: the site builds. Your push is accepted, but the site is NOT published: {refused} "
              "Publish from the admin or push again when it is allowed.", file=out)
        return 0
    print("Checked: the site builds. Publishing after the push.", file=out)
    return 0


def check_build(settings, slug: str, commit: str, price_history, *, repository=None, memory: dict | None = None) -> None:
    """Build the pushed commit as its publish will, into the site's own build folder with its caches:
    an incremental build (a one-page push of a 10,000-page site rebuilds one page, not all of them),
    and the publish that follows finds the site already built. Under the site's publish lock, so a
    publish in progress never uploads a build of a commit that is not accepted yet; if this push is
    refused, the next publish builds its own commit over it. ``price_history`` counts the pushed
    commits' prices from now, whatever dates their authors gave them. ``repository``: the site's, with
    the push's quarantine; ``memory``: the site's part of a worker's ``BuildMemory``."""
    from content.tenants import Tenants

    from .sites import build_tenant, publishing

    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        with publishing(tenants, slug):
            build_tenant(settings, tenants, slug, commit=commit, price_history=price_history, repository=repository,
                         memory=memory)
    finally:
        tenants.close()


def publish_refused(settings, slug: str) -> str:
    """Why the publish after this push will not happen (the plan's publishes of the day), or ""."""
    from content.tenants import Tenants

    from .sites import publish_refusal

    tenants = Tenants(settings.data_dir, settings.sites_dir)
    try:
        tenant = tenants.registry.find(slug)
        refused = publish_refusal(tenants, tenant) if tenant is not None else None
        return str(refused) if refused is not None else ""
    finally:
        tenants.close()


def _price_history(repo, old: str, new: str, repo_path: Path):
    """The history the prior price rule reads: the pushed commits are not published yet, so their
    prices count from now, whatever dates their authors gave them."""
    from content.prices import PriceHistory, read_cache

    pending = repo.git("rev-list", new, *(() if set(old) == {"0"} else (f"^{old}",))).stdout.decode().split()
    # What the tenant's builds read of product versions; the check only reads it.
    return PriceHistory(repo, new, cache=read_cache(repo_path.parent), pending=frozenset(pending))


def _tenant_facts(settings, slug: str) -> tuple[bool, int | None]:
    """Whether the site has its shop, and the largest file its plan takes (as an upload in the admin)."""
    from content.plans import UPLOAD_CEILING, limits_for
    from content.registry import Registry

    registry = Registry(platform_location(settings.data_dir))
    try:
        tenant = registry.find(slug)
        if tenant is None:
            return False, None
        upload = limits_for(registry, tenant)["upload_bytes"]
        return tenant.has("ecommerce"), UPLOAD_CEILING if upload is None else upload
    finally:
        registry.close()


def limit_problems(settings, slug: str, repo, old: str, new: str) -> list[str]:
    """One message per limit of the site's plan that the push would add past (products, pages and
    posts, media storage), counted on the branch before and after the push, then one per file it changes that is
    read-only because the site is over such a limit (the newest ones; what the push removes makes room
    first). A push that removes, edits what is editable, or adds within the limit passes, even on a
    site that is over a limit after a downgrade."""
    from content.plans import (LimitReached, check, counted, counts, limits_for, over_limits, overrides,
                               read_only_error, read_only_paths)
    from content.registry import Registry

    registry = Registry(platform_location(settings.data_dir))
    try:
        tenant = registry.find(slug)
        if tenant is None:
            return []
        before = [] if set(old) == {"0"} else _tree_paths(repo, old)
        after = _tree_paths(repo, new)
        changes = changed_paths(repo, old, new)
        problems = [f"{exc.key}: {exc}" for exc in over_limits(registry, tenant, before, after)]
        try:  # media storage, as the admin's upload counts it: what the site's media files weigh
            check(registry, tenant, "media_bytes", 0 if set(old) == {"0"} else _media_bytes(repo, old),
                  _media_bytes(repo, new))
        except LimitReached as exc:
            problems.append(f"{exc.key}: {exc}")
        if problems or not before:
            return problems
        # Over a limit, a new file of its kind would be read-only the moment it lands (it is the newest):
        # adding one is refused even when the push removes another, or renaming an edited file away and
        # back would edit a read-only one. A file moved unchanged (the same blob removed) passes.
        limits, used = limits_for(registry, tenant), counts(after)
        removed_blobs = {c.old for c in changes if c.status == "D"}
        for change in changes:
            key = counted(change.path)
            limit = limits.get(key) if key else None
            if change.status == "A" and limit is not None and used[key] > limit and change.new not in removed_blobs:
                exc = read_only_error(registry, tenant, change.path, key, used[key])
                reached = LimitReached(key, limit, used[key], used[key], exc.plan, exc.lifts,
                                       overridden=key in overrides(tenant))
                problems.append(f"{key}: {change.path} is new, and the site is over its limit: {reached} "
                                f"(Moving a file unchanged is fine.)")
        if problems:
            return problems
        # The order of the files is the history's before the push: the version at ``old`` (what
        # read_only_paths reads of a source; listing its files would cost a read of the whole tree).
        locked = read_only_paths(registry, tenant, _Version(repo, old), paths=after)
        if not locked:
            return []
        for change in changes:
            if change.status in ("M", "T") and change.path in locked:
                exc = read_only_error(registry, tenant, change.path, locked[change.path], used[locked[change.path]])
                problems.append(f"{exc.key}: {exc}")
        return problems
    finally:
        registry.close()


class _Version(NamedTuple):
    repo: object
    commit: str


def _media_bytes(repo, commit: str) -> int:
    """What the media files of a commit weigh (``plans.media_paths``: images, not their .yaml notes)."""
    from content.plans import media_paths

    out = repo.git("ls-tree", "-r", "-l", "-z", commit, "--", "media").stdout.decode(errors="replace")
    sizes = {}
    for entry in filter(None, out.split("\0")):
        meta, path = entry.split("\t", 1)
        size = meta.split()[3]
        if size.isdigit():
            sizes[path] = int(size)
    return sum(sizes[p] for p in media_paths(sizes))


def _tree_paths(repo, commit: str) -> list[str]:
    out = repo.git("ls-tree", "-r", "-z", "--name-only", commit).stdout.decode()
    return [path for path in out.split("\0") if path]


if __name__ == "__main__":
    if sys.argv[1:] == ["pre-receive"]:
        sys.exit(run([l for l in sys.stdin.read().splitlines() if l.strip()], Path(os.getcwd())))
    sys.exit(f"unknown hook {sys.argv[1:]}")
