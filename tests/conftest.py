"""Shared fixtures: real data directories, real git repositories, real SQLite files in tmp_path."""

from __future__ import annotations

import os
import socket
import threading

import dns.message
import dns.rdatatype
import dns.rrset

import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

from content.gitrepo import Author
from tests import pgserver
from content.tenants import Tenants
from tessera.settings import ROOT, Settings

SITES = ROOT / "sites"


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for this test process (``tests.pgserver``)."""
    yield from pgserver.server_url()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database (a schema of its own) on that server, as a URL."""
    yield from pgserver.schema_url(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def platform_engine(request, monkeypatch) -> str:
    """Runs a test once on each platform-state engine: SQLite's platform.db, then PostgreSQL
    (``TESSERA_DATABASE_URL`` set to a fresh database)."""
    if request.param == "postgresql":
        monkeypatch.setenv("TESSERA_DATABASE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("TESSERA_DATABASE_URL", raising=False)
    return request.param


@pytest.fixture(autouse=True)
def _engine_from_environment(request, monkeypatch):
    """``TESSERA_TEST_ENGINE=postgresql``: every test's platform state on PostgreSQL."""
    if os.environ.get("TESSERA_TEST_ENGINE") == "postgresql" and "platform_engine" not in request.fixturenames:
        monkeypatch.setenv("TESSERA_DATABASE_URL", request.getfixturevalue("postgres_url"))
    yield


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


@contextmanager
def demo_site(tmp_path_factory, env: dict[str, str] | None = None):
    """`tessera demo --no-serve` in a fresh data directory, then the whole platform served over HTTP."""
    import os
    import subprocess
    import sys

    from tessera.app import make_app

    from tests.api.conftest import free_port

    data = tmp_path_factory.mktemp("demo")
    port = free_port()
    environ = {**os.environ, "TESSERA_DATA_DIR": str(data), "TESSERA_PORT": str(port), **(env or {})}
    subprocess.run([sys.executable, "-m", "tessera.cli", "demo", "--no-serve"], env=environ, check=True,
                   stdout=subprocess.DEVNULL)
    settings = Settings.from_env(environ)
    with serving(make_app(settings), port):
        yield {"port": port, "data": data, "settings": settings}


class TinyDNS:
    """Answers TXT questions from a dict over UDP on 127.0.0.1."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.errors: list[Exception] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                wire = self.answer(data)
            except Exception as error:  # a question it cannot parse must not stop the server
                self.errors.append(error)
                continue
            try:
                self.sock.sendto(wire, peer)
            except OSError:  # closed by the fixture while a late retry was in flight
                return

    def answer(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".")
        if question.rdtype == dns.rdatatype.TXT and name in self.records:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT",
                                                       *[f'"{v}"' for v in self.records[name]]))
        else:
            response.set_rcode(3)  # NXDOMAIN
        return response.to_wire()


class Mailbox:
    """What a real SMTP server (aiosmtpd) on loopback received, as a mail client reads it."""

    def __init__(self) -> None:
        self.messages: list = []
        self.raw: list[bytes] = []  # as they came over the wire
        self.url = ""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        from email import message_from_bytes, policy

        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@contextmanager
def smtp_server():
    """A mail server for a test module: ``box.url`` is its TESSERA_SMTP_URL, ``box.messages`` its mail."""
    from aiosmtpd.controller import Controller

    from tests.api.conftest import free_port

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield box
    finally:
        controller.stop()
