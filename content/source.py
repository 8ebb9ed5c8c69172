"""Where site files come from: a folder on disk or a commit in a tenant's repository.

Both give the same two calls, ``paths()`` and ``read(path)``, so the parser and the builder do
not care which one they have.
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass
from typing import Protocol

RACY_NS = 1_000_000_000  # slack around a build's start within which stat keys are not trusted
IGNORED_DIRS = {".git", "node_modules", "__pycache__", "_site", "public"}


@dataclass(frozen=True)
class FileInfo:
    """Who created and last changed a file, and when (from git; empty for plain folders)."""

    created_by: str | None = None
    updated_by: str | None = None
    updated_at: str | None = None  # ISO 8601


class Source(Protocol):
    def paths(self) -> list[str]: ...
    def read(self, path: str) -> bytes: ...
    def size(self, path: str) -> int: ...
    def fingerprint(self, path: str) -> str: ...
    def info(self) -> dict[str, FileInfo]: ...


class DirSource:
    """A site folder on disk (``tessera check --source DIR``, theme authors, benchmarks)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._root = str(self.root)
        self._paths: list[str] | None = None
        self._fingerprints: dict[str, str] = {}
        self._mtimes: dict[str, int] = {}

    def paths(self) -> list[str]:
        """Every file, as sorted POSIX paths; listed once per source (a source is one snapshot)."""
        if self._paths is None:
            found = []
            start = len(self._root) + 1
            for folder, dirs, files in os.walk(self._root):
                dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not d.startswith("."))
                rel = folder[start:]
                prefix = rel.replace(os.sep, "/") + "/" if rel else ""
                found.extend(prefix + f for f in files if not f.startswith("."))
            self._paths = sorted(found)
        return self._paths

    def read(self, path: str) -> bytes:
        with open(os.path.join(self._root, path), "rb") as handle:
            return handle.read()

    def size(self, path: str) -> int:
        return os.stat(os.path.join(self._root, path)).st_size

    def fingerprint(self, path: str) -> str:
        """Size, mtime and inode, like git's index. See ``modified_since`` for the racy case."""
        known = self._fingerprints.get(path)
        if known is None:
            st = os.stat(os.path.join(self._root, path))
            known = self._fingerprints[path] = f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}"
            self._mtimes[path] = st.st_mtime_ns
        return known

    def modified_since(self, since_ns: int) -> set[str]:
        """Files whose stat key cannot be trusted against a snapshot taken at ``since_ns``.

        Two edits within one timestamp tick keep the same mtime ("racily clean" in git), so a
        file modified close to or after the last build read it is treated as changed.
        """
        limit = since_ns - RACY_NS
        for path in self.paths():
            self.fingerprint(path)
        return {p for p, mtime in self._mtimes.items() if mtime >= limit}

    def info(self) -> dict[str, FileInfo]:
        return {}

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"DirSource({str(self.root)!r})"
