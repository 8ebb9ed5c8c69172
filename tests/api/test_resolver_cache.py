"""The resolver's tenant cache never serves a stale tenant: a change committed by any connection (the
admin's, the CLI's in another process) is seen by the very next request."""

from __future__ import annotations

import subprocess
import sys

from commerce_api.tenancy import Resolver
from content.registry import Registry


def test_a_change_from_another_connection_or_process_is_seen_at_once(world):
    services = world.services
    resolver = Resolver(services.db, "localhost")
    first = resolver.resolve("alpha.localhost", None, None)
    assert resolver.resolve("alpha.localhost", None, None) is first  # cached while nothing changed
    other = Registry(services.db.path)
    try:
        other.update("alpha", name="Alpha Renamed")
        assert resolver.resolve("alpha.localhost", None, None).name == "Alpha Renamed"
        code = ("import sys; from content.registry import Registry; "
                f"Registry({str(services.db.path)!r}).update('alpha', name='Alpha Again')")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
        assert resolver.resolve("alpha.localhost", None, None).name == "Alpha Again"
    finally:
        other.update("alpha", name="Alpha")
        other.close()
    assert resolver.resolve("alpha.localhost", None, None).name == "Alpha"
