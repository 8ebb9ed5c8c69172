"""The ASGI app the edge benchmark serves: the whole platform, settings from the environment."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tessera.app import make_app  # noqa: E402
from tessera.settings import Settings  # noqa: E402

app = make_app(Settings.from_env())
