"""Where site files come from: a folder on disk or a commit in a tenant's repository.

Both give the same two calls, ``paths()`` and ``read(path)``, so the parser and the builder do
not care which one they have.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Protocol

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

    def paths(self) -> list[str]:
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not d.startswith("."))
            rel = Path(folder).relative_to(self.root)
            found.extend((rel / f).as_posix() for f in files if not f.startswith("."))
        return sorted(found)

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def size(self, path: str) -> int:
        return (self.root / path).stat().st_size

    def fingerprint(self, path: str) -> str:
        """Changes whenever the file does: a content hash (stat times can miss quick edits)."""
        full = self.root / path
        st = full.stat()
        if st.st_size > 8 * 1024 * 1024:
            return f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}"
        return hashlib.blake2b(full.read_bytes(), digest_size=16).hexdigest()

    def info(self) -> dict[str, FileInfo]:
        return {}

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"DirSource({str(self.root)!r})"
