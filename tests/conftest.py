"""Shared fixtures: real data directories, real git repositories, real SQLite files in tmp_path."""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

from content.gitrepo import Author
from content.tenants import Tenants
from tessera.settings import ROOT, Settings

SITES = ROOT / "sites"


@pytest.fixture(name="settings")
def fx_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path / "data")})


@pytest.fixture(name="tenants")
def fx_tenants(settings: Settings) -> Tenants:
    service = Tenants(settings.data_dir, settings.sites_dir)
    yield service
    service.close()


@pytest.fixture(name="editor")
def fx_editor() -> Author:
    return Author("Edith Editor", "edith@example.test")


def write_site(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write a small site; text is dedented so tests can indent it naturally."""
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return root


MINIMAL_SITE = {
    "site.yaml": """
        name: Scratch
        currency: EUR
        """,
    "pages/about.md": """
        ---
        title: About
        ---
        Hello.
        """,
    "products/bread.md": """
        ---
        name: Bread
        sku: BREAD-1
        price: "3.20"
        ---
        A loaf.
        """,
}


@pytest.fixture(name="scratch_site")
def fx_scratch_site(tmp_path: Path):
    """Returns a function writing MINIMAL_SITE plus overrides into a fresh folder."""

    def make(overrides: dict[str, str | bytes | None] | None = None) -> Path:
        files = {**MINIMAL_SITE, **(overrides or {})}
        root = tmp_path / "site"
        return write_site(root, {k: v for k, v in files.items() if v is not None})

    return make


@contextmanager
def serving(app, port: int):
    """Run an ASGI app with uvicorn on 127.0.0.1:port in a thread, for real HTTP in tests."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
