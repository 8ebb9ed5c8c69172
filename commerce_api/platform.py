"""Access to ``platform.db`` from many threads: one connection per thread, all to the same file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from content.migrations import connect
from content.registry import Registry
from content.schema import PLATFORM


class PlatformDB:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        connect(self.path, PLATFORM).close()  # migrate once, up front

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    @property
    def registry(self) -> Registry:
        registry = getattr(self._local, "registry", None)
        if registry is None:
            registry = self._local.registry = Registry(self.path)
        return registry
