"""A deleted site's id is never given to a new one: the audit log keeps the deleted site's entries under
its id, and Settings → Activity shows a site the entries with its id."""

from __future__ import annotations

import pytest

from content.migrations import platform_location
from commerce_api.audit import Audit
from content.registry import Registry

# Platform state on both engines: SQLite's platform.db and PostgreSQL.
pytestmark = pytest.mark.usefixtures("platform_engine")


class _Db:
    def __init__(self, registry: Registry) -> None:
        self.conn = registry.conn


def test_a_new_site_never_inherits_a_deleted_sites_activity(tmp_path):
    registry = Registry(platform_location(tmp_path))
    audit = Audit(_Db(registry))  # type: ignore[arg-type]
    registry.add("first", "First", frozenset({"cms"}))
    gone = registry.add("gone", "Gone", frozenset({"cms"}))
    audit.record("support.started", tenant_id=gone.id, reason="Ticket 1: the owner of Gone cannot sign in",
                 email="operator@platform.test")
    registry.remove("gone")

    fresh = registry.add("fresh", "Fresh", frozenset({"cms"}))

    assert fresh.id != gone.id
    entries, total = audit.page(fresh.id, offset=0, limit=50)
    assert (entries, total) == ([], 0)
    assert registry.add("later", "Later", frozenset({"cms"})).id > fresh.id
    registry.close()
