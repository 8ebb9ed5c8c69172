"""`tessera dev` end to end: a real server process, a real file edit, a real reload event."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import write_site


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture(name="dev_server")
def fx_dev_server(tmp_path):
    site = write_site(tmp_path / "site", {"site.yaml": "name: Dev\n", "pages/about.md": "---\ntitle: About\n---\nFirst.\n"})
    port = free_port()
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "tessera.cli", "dev", "--source", str(site), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: fetch(base + "/about/")[0] == 200)
        yield site, base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_dev_server_rebuilds_and_reloads(dev_server):
    site, base = dev_server
    status, page = fetch(base + "/about/")
    assert status == 200 and "First." in page and "EventSource" in page
    events = urllib.request.urlopen(base + "/__tessera/events", timeout=20)
    (site / "pages" / "about.md").write_text("---\ntitle: About\n---\nSecond.\n")
    line = events.readline()
    while line.startswith(b":") or line == b"\n":
        line = events.readline()
    assert line == b"data: reload\n"
    assert "Second." in fetch(base + "/about/")[1]
    assert fetch(base + "/missing/")[0] == 404


def test_dev_server_shows_build_errors_in_the_browser(dev_server):
    site, base = dev_server
    (site / "pages" / "about.md").write_text("---\ntitle: About\nstatus: nope\n---\n")
    status, page = wait_for(lambda: (r := fetch(base + "/about/"))[0] == 500 and r)
    assert "pages/about.md:3: status: &#x27;nope&#x27; is not one of" in page
    (site / "pages" / "about.md").write_text("---\ntitle: About\n---\nFixed.\n")
    wait_for(lambda: "Fixed." in fetch(base + "/about/")[1])
