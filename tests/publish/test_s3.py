"""The boto3 path against a real S3-compatible server over HTTP (moto's standalone server)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import brotli
import httpx
import pytest

from publish.deploy import plan_change
from publish.errors import StorageError
from publish.s3 import S3Storage
from tessera.sites import build_tenant, publish_tenant
from tests.api.conftest import free_port
from tests.publish.conftest import EDITOR


@pytest.fixture(name="s3_endpoint", scope="module")
def fx_s3_endpoint():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(name="s3_platform")
def fx_s3_platform(platform, s3_endpoint, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings, tenants = platform
    settings = replace(settings, storage="s3://site-{tenant}-" + str(free_port()), s3_endpoint_url=s3_endpoint)
    return settings, tenants


def bucket(settings, slug) -> S3Storage:
    return S3Storage(settings.storage[len("s3://"):].format(tenant=slug), endpoint_url=settings.s3_endpoint_url)


def count_puts(monkeypatch) -> list[str]:
    keys: list[str] = []
    original = S3Storage.apply

    def counting(self, change, progress=None):
        try:
            original(self, change, progress)
        finally:
            keys.extend([f"{self.puts} puts"])

    monkeypatch.setattr(S3Storage, "apply", counting)
    return keys


def test_publish_creates_the_bucket_and_uploads_only_changes(s3_platform, monkeypatch):
    settings, tenants = s3_platform
    puts = count_puts(monkeypatch)
    _, first = publish_tenant(settings, tenants, "bakery", actor="test")
    remote = bucket(settings, "bakery")
    siblings = [k for k in remote.manifest() if k.endswith((".br", ".gz"))]
    assert siblings and first.uploaded == first.files
    assert puts[-1] == f"{first.files + len(siblings) + 4} puts"  # + the compressed forms, + the four _tessera files
    packed = remote.client.get_object(Bucket=remote.bucket, Key="products/croissants/index.html.br")
    assert packed["ContentEncoding"] == "br" and packed["ContentType"] == "text/html; charset=utf-8"
    plain = remote.read("products/croissants/index.html")
    assert brotli.decompress(packed["Body"].read()) == plain
    response = remote.client.get_object(Bucket=remote.bucket, Key="products/croissants/index.html")
    assert response["ContentType"] == "text/html; charset=utf-8"
    assert response["CacheControl"] == "public, max-age=0, must-revalidate"
    css_key = next(k for k in remote.manifest() if k.startswith("assets/site."))
    assert remote.client.head_object(Bucket=remote.bucket, Key=css_key)["CacheControl"].endswith("immutable")

    _, again = publish_tenant(settings, tenants, "bakery", actor="test")
    assert again.uploaded == 0 and puts[-1] == "0 puts"  # nothing changed: no request at all

    repo = tenants.repository("bakery")
    repo.write({"pages/delivery.md": repo.read("pages/delivery.md") + b"\nWe now deliver on Saturdays.\n"},
               EDITOR, "Saturday delivery")
    _, edit = publish_tenant(settings, tenants, "bakery", actor="test")
    assert 1 <= edit.uploaded <= 3
    assert b"Saturdays" in remote.read("delivery/index.html")


def test_killed_publish_never_links_to_missing_assets_and_converges(s3_platform, monkeypatch):
    settings, tenants = s3_platform
    publish_tenant(settings, tenants, "bakery", actor="test")
    repo = tenants.repository("bakery")
    repo.write({"theme/assets/custom.css": b".hero { outline: 1px solid red; }\n"}, EDITOR, "Restyle")
    built = build_tenant(settings, tenants, "bakery")
    remote = bucket(settings, "bakery")
    change = plan_change(built.result.out_dir, remote.manifest())
    assert change.uploads[0].startswith("assets/")  # assets go first
    calls = {"n": 0}
    original = remote.client.put_object

    def dies_after_three(**kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return original(**kwargs)

    monkeypatch.setattr(remote.client, "put_object", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        remote.apply(change)
    monkeypatch.undo()
    keys = {o["Key"] for o in remote.client.list_objects_v2(Bucket=remote.bucket)["Contents"]}
    for key in keys:
        if key.endswith(".html"):
            page = remote.read(key).decode()
            for css in [p.split('"')[0] for p in page.split('rel="stylesheet" href="/')[1:]]:
                assert css in keys, f"{key} links to {css}, which is not in the bucket"
    _, deploy = publish_tenant(settings, tenants, "bakery", actor="test")
    assert deploy.status == "live"
    site = {k: v for k, v in remote.manifest().items() if not (k.endswith((".br", ".gz")) and k[:-3] in remote.manifest())}
    assert site == json.loads((built.result.out_dir / "_tessera" / "manifest.json").read_text())


def test_unreachable_endpoint_is_a_clear_error(platform, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings, tenants = platform
    settings = replace(settings, storage="s3://nowhere-{tenant}", s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError, match="'nowhere-studio' failed: Could not connect to the endpoint"):
        publish_tenant(settings, tenants, "studio", actor="test")


def test_every_storage_of_a_process_shares_one_client_per_endpoint(monkeypatch):
    """The edge opens a site's storage on every request: one boto3 client per endpoint and
    credentials serves them all, instead of a new client (milliseconds and memory) each time."""
    from publish.s3 import S3Storage

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "one")
    first, second = S3Storage("a", endpoint_url="http://127.0.0.1:1"), S3Storage("b", endpoint_url="http://127.0.0.1:1")
    assert first.client is second.client
    assert S3Storage("a", endpoint_url="http://127.0.0.1:2").client is not first.client  # another endpoint
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "two")  # other credentials: a client of their own
    assert S3Storage("a", endpoint_url="http://127.0.0.1:1").client is not first.client
