"""The outbox against real parts: the API over HTTP places orders, a real SMTP server (aiosmtpd)
takes the mail, and the notify job runs as the job runner runs it (here called directly, so a test
decides when "the server" sends: that is how a crash between an order and its email looks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from commerce_api.app import create_app
from commerce_api.notify.deliver import Notifier
from commerce_api.services import Services
from commerce_api.shop.orders import Orders
from publish.catalog import import_snapshot
from tessera.settings import ROOT
from tests.api.conftest import World, free_port, populate
from tests.api.shopping import CATALOG
from tests.conftest import Mailbox, serving, smtp_server


@dataclass
class Shop:
    world: World
    data: Path
    mailbox: Mailbox
    services: Services

    def notifier(self, *, mail: bool = True) -> Notifier:
        return Notifier(data_dir=self.data, themes_dir=ROOT / "themes", secret_key="s" * 48,
                        admin_origin="http://admin.localhost", site_url=lambda slug: f"http://{slug}.localhost",
                        smtp_url=self.mailbox.url if mail else None, mail_from="Tessera <no-reply@tessera.test>")

    def run(self, **kwargs):
        return self.notifier().run("alpha", **kwargs)

    def to(self, address: str) -> list:
        return [m for m in self.mailbox.messages if m["To"] == address]

    def db(self):
        return self.world.tenants.open_db("alpha")


@pytest.fixture(name="mailbox", scope="module")
def fx_mailbox():
    with smtp_server() as box:
        yield box


@pytest.fixture(name="shop", scope="module")
def fx_shop(tmp_path_factory, mailbox):
    data = tmp_path_factory.mktemp("notify")
    port = free_port()
    services, tenants, config = populate(data, port)
    conn = tenants.open_db("alpha")
    import_snapshot(conn, {**CATALOG, "email": "hello@alpha.test"})
    for sku, level in (("RYE", 50), ("BUN-4", 50), ("BUN-8", 3)):
        Orders(conn).set_stock(sku, level)
    conn.close()
    with serving(create_app(config, services), port) as base:
        yield Shop(World(base, services, tenants), data, mailbox, services)
