"""Access to ``platform.db`` from many threads: one connection (and registry) per thread."""

from __future__ import annotations

from pathlib import Path

from content.migrations import PerThread
from content.registry import Registry
from content.schema import PLATFORM


class PlatformDB(PerThread):
    def __init__(self, path: Path) -> None:
        super().__init__(path, PLATFORM)

    @property
    def registry(self) -> Registry:
        registry = getattr(self._local, "registry", None)
        if registry is None:
            registry = self._local.registry = Registry(self.path)
        return registry
