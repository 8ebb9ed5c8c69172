"""A served installation with the bakery starter and its owner, for tests that push with the stock
git client (limits, media, publishes a day)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from tests.api.conftest import free_port
from tests.conftest import serving
from tests.publish.test_git_push import PASSWORD

OWNER = "owner@bakery.test"


@contextmanager
def bakery_git_server(tmp_path_factory, name: str) -> Iterator[tuple]:
    """Serve a fresh data folder holding the bakery (cms and shop) whose owner is ``OWNER``; yields
    ``(settings, tenants, services, port)``. No job runner: what a push queues stays queued."""
    from commerce_api.services import Services
    from content.registry import parse_features
    from content.tenants import Tenants
    from tessera.app import api_config, make_app
    from tessera.settings import ROOT, Settings

    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path_factory.mktemp(name)), "TESSERA_PORT": str(port)})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    services = Services.build(api_config(settings))
    user = services.users.create(OWNER, PASSWORD)
    services.users.grant(user.id, tenants.registry.get("bakery").id, "owner")
    with serving(make_app(settings), port):  # served without its lifespan: no job runner
        yield settings, tenants, services, port
