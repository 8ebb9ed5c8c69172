"""Old URLs from git history: when an item's slug or file name changed, its old URLs redirect.

Follows each content file through renames (``git log --raw -M``) and reads the slug of every
version it had. Slugs are read from blobs, which never change, so a cache keyed by blob id makes
rebuilds cheap; the files' lineage at the last commit asked about is cached too, so a save that adds
one commit on top of it reads one commit's changes, not the whole history.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from content.gitrepo import Repository

_SLUG_LINE = re.compile(rb"^slug:\s*['\"]?([a-z0-9-]+)['\"]?\s*$", re.M)
FOLDERS = ("pages", "posts", "products")
Lineage = dict[str, tuple[tuple[str, str], ...]]  # current path → ((path, blob), ...) over time


def renamed_slugs(repo: Repository, commit: str, cache: dict | None = None) -> dict[str, list[str]]:
    """path at ``commit`` → the slugs its earlier versions were published under.

    ``cache`` (kept by the caller between builds) holds ``"slugs"``, blob → slug, and
    ``"lineage"``, the lineage and the answer at one commit."""
    cache = {} if cache is None else cache
    slugs = cache.setdefault("slugs", {})
    known = cache.get("lineage")
    if known is not None and len(known) == 3 and known[0] == commit:
        return known[2]
    if known is not None and len(known) == 3 and repo.straight_line(known[0], commit):
        lineage = dict(known[1])
        touched = _apply(lineage, _log(repo, f"{known[0]}..{commit}"))
        result = {p: olds for p, olds in known[2].items() if p not in touched}
    else:
        lineage, touched, result = {}, None, {}
        _apply(lineage, _log(repo, commit))
    for path, versions in lineage.items():
        if (touched is not None and path not in touched) or not _is_item(path):
            continue
        names = [_slug(repo, p, blob, slugs) for p, blob in versions]
        current = names[-1]
        olds = [s for s in dict.fromkeys(names[:-1]) if s != current]
        if olds:
            result[path] = olds
    cache["lineage"] = (commit, lineage, result)
    return result


def _log(repo: Repository, revisions: str) -> str:
    return repo.git("log", "--raw", "-M", "--no-abbrev", "--reverse", "--format=%x00", revisions, "--",
                    *FOLDERS).stdout.decode(errors="replace")


def _apply(lineage: Lineage, log: str) -> set[str]:
    """Moves ``lineage`` (a copy the caller owns; its tuples are shared and never changed) on by
    ``log``; returns the paths whose entries changed."""
    touched: set[str] = set()
    for line in log.splitlines():
        if not line.startswith(":"):
            continue
        meta, *paths = line.split("\t")
        _, _, _, new_blob, status = meta.split()
        touched.update(paths)
        if status.startswith("R"):
            old, new = paths
            lineage[new] = lineage.pop(old, ()) + ((new, new_blob),)
        elif status == "D":
            lineage.pop(paths[0], None)
        else:
            lineage[paths[0]] = lineage.get(paths[0], ()) + ((paths[0], new_blob),)
    return touched


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
