"""Old URLs from git history: when an item's slug or file name changed, its old URLs redirect.

Follows each content file through renames (``git log --raw -M``) and reads the slug of every
version it had. Slugs are read from blobs, which never change, so a cache keyed by blob id makes
rebuilds cheap.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from content.gitrepo import Repository

_SLUG_LINE = re.compile(rb"^slug:\s*['\"]?([a-z0-9-]+)['\"]?\s*$", re.M)
FOLDERS = ("pages", "posts", "products")


LATEST = "last-commit"  # the cache's entry for the latest answer (never a blob id: those are hex)


def renamed_slugs(repo: Repository, commit: str, cache: dict | None = None) -> dict[str, list[str]]:
    """path at ``commit`` → the slugs its earlier versions were published under. A commit's history
    never changes: asked again for the same commit (a publish with nothing new), the cache answers
    without running git."""
    cache = {} if cache is None else cache
    last = cache.get(LATEST)
    if last is not None and last[0] == commit:
        return {path: list(slugs) for path, slugs in last[1].items()}
    out = repo.git("log", "--raw", "-M", "--no-abbrev", "--reverse", "--format=%x00", commit, "--",
                   *FOLDERS).stdout.decode(errors="replace")
    lineage: dict[str, list[tuple[str, str]]] = {}  # current path → [(path, blob)] over time
    for line in out.splitlines():
        if not line.startswith(":"):
            continue
        meta, *paths = line.split("\t")
        _, _, _, new_blob, status = meta.split()
        if status.startswith("R"):
            old, new = paths
            lineage[new] = lineage.pop(old, []) + [(new, new_blob)]
        elif status == "D":
            lineage.pop(paths[0], None)
        else:
            lineage.setdefault(paths[0], []).append((paths[0], new_blob))
    result = {}
    for path, versions in lineage.items():
        if not _is_item(path):
            continue
        slugs = [_slug(repo, p, blob, cache) for p, blob in versions]
        current = slugs[-1]
        olds = [s for s in dict.fromkeys(slugs[:-1]) if s != current]
        if olds:
            result[path] = olds
    cache[LATEST] = (commit, {path: list(slugs) for path, slugs in result.items()})
    return result


def _is_item(path: str) -> bool:
    folder, _, name = path.partition("/")
    return folder in FOLDERS and name.endswith(".md") and "/" not in name


def _slug(repo: Repository, path: str, blob: str, cache: dict) -> str:
    if blob not in cache:
        data = repo.git("cat-file", "blob", blob, check=False).stdout
        head = data.split(b"\n---", 1)[0]
        match = _SLUG_LINE.search(head)
        cache[blob] = match.group(1).decode() if match else None
    return cache[blob] or PurePosixPath(path).stem
