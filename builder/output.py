"""Writing a build's output so that a failed or killed build never leaves a broken site.

New and changed files are written into a staging folder next to the output. Nothing in the
output changes until every page has rendered. Then a journal listing the moves and deletions is
written (the commit point) and the staged files are renamed into place, deletions last. A crash
after the journal is rolled forward by ``recover`` at the start of the next build; a crash before
it leaves the previous output exactly as it was. A first build simply renames the staging folder.

One build at a time writes an output folder (``locked``), so whatever staging folder or journal a
build finds there was left by a build that died.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

META = "_tessera"  # build metadata inside the output: manifest, catalog, redirects; never served


def staging_dir(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.staging-{os.getpid()}"


def journal_path(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.journal"


class OutputLock:
    """The lock on one output folder, across threads and processes. The kernel drops it with the
    process holding it, so a killed build never blocks the next one. It can be released from
    another thread than the one that took it: a long-lived builder saves its caches in the
    background still holding it, so no other process reads them half-saved."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(out_dir.parent / f".{out_dir.name}.lock", "a+b")
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._handle.closed:
            return
        # Unlock explicitly: forked workers of other builds may hold a copy of this descriptor.
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


@contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the output folder for one build, across threads and processes."""
    lock = OutputLock(out_dir)
    try:
        yield
    finally:
        lock.release()


def scan(folder: Path, dirs: dict[str, int] | None = None) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (relative path → size, modification time in ns): what is really
    there, to hold against what the last build recorded. Cheap: no file is read. With ``dirs``,
    each folder's modification time goes there too (relative path without the slash; "" for
    ``folder``), for ``unchanged``."""
    found: dict[str, tuple[int, int]] = {}
    pending = [("", str(folder))]
    if dirs is not None:
        try:
            dirs[""] = os.stat(folder).st_mtime_ns
        except FileNotFoundError:
            return found
    while pending:
        prefix, path = pending.pop()
        try:
            entries = list(os.scandir(path))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append((f"{prefix}{entry.name}/", entry.path))
                if dirs is not None:
                    dirs[prefix + entry.name] = entry.stat(follow_symlinks=False).st_mtime_ns
            else:
                stat = entry.stat(follow_symlinks=False)
                found[prefix + entry.name] = (stat.st_size, stat.st_mtime_ns)
    return found


def unchanged(folder: Path, files: dict[str, tuple[int, int]], dirs: dict[str, int]) -> bool:
    """Whether ``folder`` still holds exactly ``files`` (as ``scan`` found them) in ``dirs``, checked
    without listing it: a file changed or removed shows in its own stat, a file added (or removed,
    or renamed) in its folder's modification time. One stat a file and a folder, about half of what
    listing every folder costs."""
    root = str(folder) + os.sep
    stat = os.stat
    try:
        for rel, mtime in dirs.items():
            if stat(root + rel).st_mtime_ns != mtime:
                return False
        for rel, (size, mtime) in files.items():
            st = stat(root + rel, follow_symlinks=False)
            if st.st_mtime_ns != mtime or st.st_size != size:
                return False
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def write_new(path: Path, data: bytes) -> None:
    """Create a file that must not exist yet: two outputs can never claim one path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:
        handle.write(data)


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def commit(staging: Path, out_dir: Path, deletions: list[str]) -> list[str] | None:
    """Move the staged files into the output, then delete what the new build no longer has.
    Returns the files moved in (relative paths), or None when the staging folder became the output."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return None
    moves = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    # Assets before pages and the manifest last, so a reader never sees a page before its assets.
    moves.sort(key=lambda rel: (rel.startswith(META), rel.endswith((".html", ".xml", ".txt"))))
    journal = journal_path(out_dir)
    tmp = journal.with_suffix(".tmp")
    with open(tmp, "w") as handle:
        json.dump({"staging": str(staging), "moves": moves, "deletions": sorted(deletions)}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, journal)  # the commit point
    _replay(journal, out_dir)
    return moves


def recover(out_dir: Path) -> None:
    """Finish a commit that a crash interrupted, and clear staging folders of dead builds.

    Call it holding ``locked(out_dir)``: then no other build is writing here, and every staging
    folder is a dead build's, even one whose process id has been given to another process since
    (after a restart in a container the server often gets its old pid back)."""
    journal = journal_path(out_dir)
    if journal.exists():
        _replay(journal, out_dir)
    if out_dir.parent.exists():
        for stale in out_dir.parent.glob(f".{out_dir.name}.staging-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _replay(journal: Path, out_dir: Path) -> None:
    plan = json.loads(journal.read_text())
    staging = Path(plan["staging"])
    made: set[Path] = set()
    for rel in plan["moves"]:
        source, target = staging / rel, out_dir / rel
        if source.exists():  # already moved when replaying after a crash
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            os.replace(source, target)
    for rel in plan["deletions"]:
        target = out_dir / rel
        try:
            target.unlink()
        except FileNotFoundError:
            pass
        _prune(target.parent, out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    journal.unlink()


def _prune(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent

