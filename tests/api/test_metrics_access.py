"""/metrics needs a credential: a bearer token (TESSERA_METRICS_TOKEN) or an allowed address
(TESSERA_METRICS_ALLOW, loopback by default in local mode), judged after trusted proxies."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest

from commerce_api.app import create_app
from commerce_api.services import Services
from tests.api.conftest import free_port
from tests.conftest import serving

TOKEN = "metrics-token-for-tests-0123456789"


@contextmanager
def metrics_server(world, **settings):
    services = Services.build(replace(world.services.config, **settings))
    port = free_port()
    with serving(create_app(services.config, services), port) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            yield client


def test_the_loopback_reads_metrics_in_local_mode_with_one_charset(world):
    with world.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"


def test_with_a_token_and_no_allowed_address_only_the_token_opens_metrics(world):
    with metrics_server(world, metrics_token=TOKEN, metrics_allow=()) as client:
        missing = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_token"
    assert right.status_code == 200 and "tessera_http_requests" in right.text


def test_with_neither_token_nor_allowed_address_metrics_are_closed(world):
    with metrics_server(world, metrics_token=None, metrics_allow=()) as client:
        response = client.get("/metrics")
    assert response.status_code == 403 and "TESSERA_METRICS_ALLOW" in response.json()["error"]["message"]


@pytest.mark.parametrize(("forwarded", "status"), [("203.0.113.9", 403), ("127.0.0.1", 200)])
def test_behind_a_trusted_proxy_the_visitors_address_decides(world, forwarded, status):
    with metrics_server(world, metrics_allow=("127.0.0.0/8",), trusted_proxies=("127.0.0.1/32",)) as client:
        response = client.get("/metrics", headers={"X-Forwarded-For": forwarded})
    assert response.status_code == status
