"""A tenant's content repository: git itself, driven through its plumbing commands.

Repositories are bare (``repo.git``) so that editors can also clone and push to them. Saves never
touch a work tree: blobs are written, a tree is built in a private index, and the branch moves with
a compare-and-swap ``update-ref``, so two saves at once either both land or one gets a conflict,
and a crash mid-save leaves the branch where it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import ConflictError, PathError, RepositoryError
from .source import FileInfo

BRANCH = "main"
REF = f"refs/heads/{BRANCH}"
COMMITTER = ("Tessera", "cms@tessera.invalid")
# Called under the write lock with the files before (the real latest version) and after a change; raises
# to refuse it. What depends on the whole site (a plan's limits) can only be decided there: checked
# before the lock, two saves at one below a limit would both pass.
Check = Callable[[list[str], list[str]], None]
# When each file of the latest asked-for version was added (``Repository.added_at``), kept next to the
# repository so that every process (the admin, the push hook) reads the history once per version.
ADDED_CACHE = "tessera-added.json"


@dataclass(frozen=True)
class Author:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: str  # ISO 8601
    message: str
    diff: str = ""


# A path whose every part starts with a letter, digit or underscore, in at most 16 parts: none is
# empty, ".", ".." or ".git", so ``safe_path`` would pass it unchanged (a tree's 10,000 paths are
# checked at the speed of one regular expression instead of splitting each).
_ORDINARY = re.compile(r"(?:[A-Za-z0-9_][^/\x00\\]*/){0,15}[A-Za-z0-9_][^/\x00\\]*\Z")


def safe_path(path: str) -> str:
    """Normalise a repository path, refusing anything that could escape or reach git's internals."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise PathError(f"{path!r} is not a valid file path")
    parts = path.split("/")  # no empty part, so no leading, doubled or trailing slash: already normal
    if len(parts) > 16 or any(p in ("..", ".", "") for p in parts):
        raise PathError(f"{path!r} is outside the site's folder")
    if any(p.lower() in (".git", ".gitmodules") for p in parts):
        raise PathError(f"{path!r} is a reserved name")
    return path


def _safe(path: str) -> bool:
    try:
        safe_path(path)
    except PathError:
        return False
    return True


class Repository:
    def __init__(self, path: Path, env: dict[str, str] | None = None) -> None:
        """``env``: more environment for every git command, e.g. a pre-receive hook's quarantine (the
        pushed objects, readable before git accepts them) for a check run outside the hook's process."""
        self.path = Path(path)
        self.env = env or {}

    # -- plumbing ---------------------------------------------------------------------------

    def git(self, *args: str, input: bytes | None = None, env: dict | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "GIT_DIR": str(self.path), "GIT_TERMINAL_PROMPT": "0",
                    "LC_ALL": "C", **self.env, **(env or {})}
        result = subprocess.run(["git", *args], input=input, env=full_env,
                                capture_output=True, check=False)
        if check and result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise RepositoryError(f"git {args[0]} failed: {message}")
        return result

    def _out(self, *args: str, **kw) -> str:
        return self.git(*args, **kw).stdout.decode().strip()

    @staticmethod
    def _identity(author: Author) -> dict[str, str]:
        return {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
                "GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1]}

    def locked(self):
        """Hold the repository's write lock (what every save takes): a copy made meanwhile is whole."""
        return self._lock()

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.path / "tessera.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, starter: Path | None, author: Author,
               message: str = "Create site") -> Repository:
        """Create a bare repository whose first commit holds the starter folder's files."""
        path = Path(path)
        if path.exists():
            raise RepositoryError(f"{path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(path)],
                       check=True, capture_output=True)
        repo.harden()
        repo.git("config", "core.logAllRefUpdates", "true")
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            if starter is not None:
                repo.git(f"--work-tree={starter}", "add", "--all", ".", env=env)
            tree = repo._out("write-tree", env=env)
        sha = repo._out("commit-tree", tree, "-m", message, env=repo._identity(author))
        repo.git("update-ref", REF, sha, "0" * 40)
        return repo

    def harden(self) -> None:
        """What git must refuse on a push before any hook runs: rewriting history, and objects that
        fail git's own checks (a tree naming a folder ``..`` or ``.git``, malformed entries)."""
        config = (self.path / "config").read_text() if (self.path / "config").exists() else ""
        if "fsckobjects = true" in config.lower() and "denynonfastforwards = true" in config.lower():
            return
        self.git("config", "receive.denyNonFastForwards", "true")
        self.git("config", "receive.fsckObjects", "true")

    # -- reading ----------------------------------------------------------------------------

    def head(self) -> str | None:
        result = self.git("rev-parse", "--verify", "--quiet", REF, check=False)
        return result.stdout.decode().strip() or None

    def resolve(self, rev: str) -> str:
        if rev.startswith("-"):
            raise RepositoryError(f"{rev!r} is not a version")
        result = self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        sha = result.stdout.decode().strip()
        if not sha:
            raise RepositoryError(f"{rev!r} is not a version of this site")
        return sha

    def _blob(self, commit: str, path: str) -> str | None:
        out = self.git("ls-tree", "-z", commit, "--", path).stdout.decode()
        for entry in filter(None, out.split("\0")):
            meta, name = entry.split("\t", 1)
            if name == path and meta.split()[1] == "blob":
                return meta.split()[2]
        return None

    def read(self, path: str, commit: str | None = None) -> bytes | None:
        """A file's bytes at a commit (default: the latest), or ``None`` if it is not there."""
        path = safe_path(path)
        commit = self.resolve(commit or REF)
        blob = self._blob(commit, path)
        return self.git("cat-file", "blob", blob).stdout if blob else None

    def source(self, commit: str | None = None, history: dict | None = None) -> GitSource:
        """The files of ``commit`` (default: the latest). ``history``: a dict the caller keeps between
        sources of this repository, where what was read of the history is kept for the next one."""
        return GitSource(self, self.resolve(commit or REF), history)

    def straight_line(self, old: str, new: str) -> bool:
        """``new`` follows ``old`` in a straight line: each commit after ``old`` has one parent, the
        first of them ``old``. Then reading ``old..new`` and adding it to what was read up to ``old``
        gives what reading up to ``new`` gives (after a merge the order of a whole log could differ)."""
        lines = self.git("rev-list", "--parents", "--reverse", f"{old}..{new}", check=False).stdout.decode().split("\n")
        chain = [line.split() for line in lines if line]
        return (bool(chain) and all(len(ids) == 2 for ids in chain) and chain[0][1] == old
                and all(later[1] == earlier[0] for earlier, later in zip(chain, chain[1:])) and chain[-1][0] == new)

    def history(self, path: str | None = None, limit: int = 50) -> list[Commit]:
        """Newest first; with a path, each commit carries that file's diff."""
        args = ["log", f"--max-count={limit}", "--format=%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s", REF]
        if path:
            args += ["-p", "--no-color", "--", safe_path(path)]
        out = self.git(*args).stdout.decode(errors="replace")
        commits = []
        for chunk in filter(None, out.split("\x1e")):
            header, _, diff = chunk.partition("\n")
            sha, name, email, date, message = header.split("\x1f")
            commits.append(Commit(sha, name, email, date, message, diff.strip("\n")))
        return commits

    def diff(self, commit: str, path: str | None = None) -> str:
        args = ["show", "--format=", "--no-color", self.resolve(commit)]
        if path:
            args += ["--", safe_path(path)]
        return self.git(*args).stdout.decode(errors="replace")

    # -- writing ----------------------------------------------------------------------------

    def write(self, changes: dict[str, bytes | None], author: Author, message: str,
              base: str | None = None, check: Check | None = None) -> str:
        """Commit several files at once (``None`` deletes one); returns the new commit.

        With ``base``, refuses with ``ConflictError`` when any of the files changed between
        ``base`` and the latest version; changes to other files are kept, never overwritten.
        With ``check``, calls it under the lock with the paths before and after (see ``Check``);
        whatever it raises refuses the save, and nothing is written.
        """
        changes = {safe_path(p): data for p, data in changes.items()}
        if not changes:
            raise RepositoryError("nothing to save")
        if not message.strip():
            raise RepositoryError("a save needs a message")
        base = self.resolve(base) if base else None
        with self._lock():
            head = self.head()
            if base and head and base != head:
                for path, data in changes.items():
                    before, now = self._blob(base, path), self._blob(head, path)
                    if before != now:
                        theirs = self.git("cat-file", "blob", now).stdout if now else None
                        raise ConflictError(path, base=base, head=head, theirs=theirs, yours=data)
            if check is not None:
                before = self.paths(head) if head else []
                kept = set(before) - {p for p, data in changes.items() if data is None}
                check(before, sorted(kept | {p for p, data in changes.items() if data is not None}))
            with tempfile.TemporaryDirectory() as tmp:
                env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
                if head:
                    self.git("read-tree", head, env=env)
                index_lines = []
                for path, data in sorted(changes.items()):
                    if data is None:  # mode 0 removes the entry
                        index_lines.append(f"0 {'0' * 40}\t{path}")
                        continue
                    sha = self._out("hash-object", "-w", "--stdin", input=data)
                    index_lines.append(f"100644 {sha}\t{path}")
                self.git("update-index", "--add", "--index-info",
                         input=("\n".join(index_lines) + "\n").encode(), env=env)
                tree = self._out("write-tree", env=env)
            if head and tree == self._out("rev-parse", f"{head}^{{tree}}"):
                return head  # nothing changed: no empty commits
            parents = ["-p", head] if head else []
            sha = self._out("commit-tree", tree, *parents, "-m", message, env=self._identity(author))
            self.git("update-ref", "-m", message, REF, sha, head or "0" * 40)
            return sha

    def changed_paths(self, commit: str) -> list[str]:
        """Every file a commit changed (against its first parent; all files for the first commit)."""
        commit = self.resolve(commit)
        out = self._out("diff-tree", "-r", "--root", "--no-commit-id", "--name-only", "--no-renames", commit)
        return sorted(line for line in out.splitlines() if line)

    def paths(self, commit: str) -> list[str]:
        """Every file of a commit, sorted: what ``GitSource.paths`` lists (no symlinks, no unsafe names)."""
        out = self.git("ls-tree", "-r", "-z", "--full-tree", commit).stdout.decode(errors="replace")
        found = []
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind = meta.split()[:2]
            if kind == "blob" and mode != "120000" and _safe(path):
                found.append(path)
        return sorted(found)

    def added_at(self, commit: str) -> dict[str, int]:
        """path → the place in history (1 = the first commit, higher = later) of the commit that added
        the file as it is now, for every file that history up to ``commit`` shows added (a file removed
        and added again: the later add). Read from git once per commit, then from ``ADDED_CACHE``."""
        cache = self.path / ADDED_CACHE
        try:
            stored = json.loads(cache.read_text())
            if stored["commit"] == commit:
                return stored["added"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none yet, another version's, or damaged: read the history again
        # Every commit, newest first (a commit always before its parents), with the files it added;
        # commits in the same second keep their order, which a timestamp would not.
        out = self.git("log", "--topo-order", "--no-renames", "--diff-filter=A", "--name-only", "-z",
                       "--format=%x1e", commit).stdout.decode(errors="replace")
        chunks = out.split("\x1e")[1:]
        added: dict[str, int] = {}
        for place, chunk in zip(range(len(chunks), 0, -1), chunks):  # the first add seen is the latest
            for path in filter(None, chunk.lstrip("\0\n").split("\0")):
                added.setdefault(path, place)
        try:
            with tempfile.NamedTemporaryFile("w", dir=self.path, prefix=".added-", delete=False) as handle:
                json.dump({"commit": commit, "added": added}, handle)
            os.replace(handle.name, cache)  # readers see the old file or the new one, never half of one
        except OSError:
            pass  # a cache that cannot be written costs time, not correctness
        return added

    def revert(self, commit: str, author: Author, message: str | None = None, check: Check | None = None) -> str:
        """Undo one commit with ``git revert``; a clash with later edits is a ``ConflictError``. With
        ``check``, as for ``write``: called under the lock before the branch moves."""
        commit = self.resolve(commit)
        parents = self._out("rev-list", "--parents", "-n", "1", commit).split()[1:]
        if not parents:
            raise RepositoryError("the site's first version cannot be reverted")
        with self._lock(), tempfile.TemporaryDirectory() as tmp:
            head = self.head()
            work = os.path.join(tmp, "work")
            self.git("worktree", "add", "--detach", "--quiet", work, head)
            try:
                env = {**self._identity(author), "GIT_WORK_TREE": work, "GIT_DIR": self._worktree_dir(work)}
                args = ["revert", "--no-edit"] + (["-m", "1"] if len(parents) > 1 else []) + [commit]
                result = self.git(*args, env=env, check=False)
                if result.returncode != 0:
                    conflicted = self._out("diff", "--name-only", "--diff-filter=U", env=env)
                    self.git("revert", "--abort", env=env, check=False)
                    path = conflicted.splitlines()[0] if conflicted else "?"
                    raise ConflictError(path, base=commit, head=head,
                                        theirs=self.read(path, head) if conflicted else None, yours=None)
                if message:
                    self.git("commit", "--amend", "--quiet", "-m", message, env=env)
                sha = self._out("rev-parse", "HEAD", env=env)
                if check is not None:
                    check(self.paths(head), self.paths(sha))
                self.git("update-ref", "-m", f"revert {commit[:10]}", REF, sha, head)
                return sha
            finally:
                self.git("worktree", "remove", "--force", work, check=False)
                self.git("worktree", "prune", check=False)

    def _worktree_dir(self, work: str) -> str:
        pointer = Path(work, ".git").read_text().strip()
        return pointer.removeprefix("gitdir: ")

    def delete(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class GitSource:
    """The files of one commit, read through a single ``git cat-file --batch`` process."""

    def __init__(self, repo: Repository, commit: str, history: dict | None = None) -> None:
        self.repo, self.commit = repo, commit
        self.history = history
        self._blobs: dict[str, str] = {}
        self._sizes: dict[str, int] = {}  # read when first asked for (``size``)
        self.refused: list[str] = []  # names no file of a site may have (``..``, ``.git``): never read
        # Without ``-l``: git would open every object for its size (0.2 s for 10,000 loose objects),
        # and only media files' sizes are ever asked for.
        out = repo.git("ls-tree", "-r", "-z", "--full-tree", commit).stdout.decode(errors="replace")
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind, sha = meta.split()
            if kind != "blob" or mode == "120000":  # symlinks are never followed
                continue
            if not _ORDINARY.match(path):
                try:
                    safe_path(path)
                except PathError:  # git itself does not stop a crafted tree from naming a folder ".."
                    self.refused.append(path)
                    continue
            self._blobs[path] = sha
        self._proc: subprocess.Popen | None = None

    def paths(self) -> list[str]:
        return sorted(self._blobs)

    def fingerprint(self, path: str) -> str:
        return self._blobs[path]

    def size(self, path: str) -> int:
        """The file's size in bytes. The first call reads the sizes of every media file (the files
        whose sizes are asked for: plan limits, image metadata) in one ``git cat-file --batch-check``."""
        if path not in self._sizes:
            sha = self._blobs[path]
            wanted = {sha, *(b for p, b in self._blobs.items() if p.startswith("media/") and p not in self._sizes)}
            out = self.repo.git("cat-file", "--batch-check=%(objectname) %(objectsize)",
                                input="".join(f"{b}\n" for b in wanted).encode()).stdout.decode()
            sizes = dict(line.split() for line in out.splitlines() if line.strip())
            for each, blob in self._blobs.items():
                if blob in sizes:
                    self._sizes[each] = int(sizes[blob])
        return self._sizes[path]

    def read(self, path: str) -> bytes:
        sha = self._blobs.get(path)
        if sha is None:
            raise FileNotFoundError(path)
        if self._proc is None:
            self._proc = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE,
                                          env={**os.environ, "GIT_DIR": str(self.repo.path), **self.repo.env})
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(sha.encode() + b"\n")
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().split()
        size = int(header[2])
        data = self._proc.stdout.read(size)
        self._proc.stdout.read(1)
        return data

    def info(self) -> dict[str, FileInfo]:
        """path → who created it, who last changed it and when, from history up to this commit.

        With a ``history`` dict, what was read up to an earlier commit is kept there, and a commit
        that continues it in a straight line reads only the commits since."""
        known = self.history.get("info") if self.history is not None else None
        if known is not None and known[0] == self.commit:
            return known[1]
        if known is not None and self.repo.straight_line(known[0], self.commit):
            result = dict(known[1])
            for path, (created, updated, date) in self._log(f"{known[0]}..{self.commit}").items():
                before = result.get(path)
                result[path] = FileInfo(before.created_by if before else created, updated, date)
        else:
            result = {p: FileInfo(c, u, d) for p, (c, u, d) in self._log(self.commit).items()}
        if self.history is not None:
            self.history["info"] = (self.commit, result)
        return result

    def _log(self, revisions: str) -> dict[str, list[str]]:
        out = self.repo.git("log", "--format=%x00%an%x1f%aI", "--name-only", "--no-renames",
                            revisions).stdout.decode(errors="replace")
        result: dict[str, list[str]] = {}
        for chunk in filter(None, out.split("\0")):
            header, _, files = chunk.partition("\n")
            name, date = header.split("\x1f")
            for path in filter(None, files.splitlines()):
                entry = result.setdefault(path, [name, name, date])
                entry[0] = name  # older commits come later: the last one seen created the file
        return result

    def close(self) -> None:
        if self._proc:
            self._proc.stdin.close()  # type: ignore[union-attr]
            self._proc.wait()
            self._proc = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
