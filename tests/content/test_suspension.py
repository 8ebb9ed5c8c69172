"""A suspension carries a reason the tenant's staff see, who suspended (the operator or billing) and
when, in one write with the status; resuming removes both."""

from __future__ import annotations

import pytest

from content.migrations import platform_location
from content.errors import InvalidValue
from content.registry import Registry

# Platform state on both engines: SQLite's platform.db and PostgreSQL.
pytestmark = pytest.mark.usefixtures("platform_engine")


@pytest.fixture(name="registry")
def fx_registry(tmp_path):
    registry = Registry(platform_location(tmp_path))
    registry.add("acme", "Acme", frozenset({"cms"}), settings={"limits": {"products": 5}})
    yield registry
    registry.close()


def test_suspend_records_reason_and_who(registry):
    suspended = registry.suspend("acme", "  Unpaid invoice 2026-11  ", actor=7)
    assert suspended.suspended and suspended.status == "suspended"
    record = suspended.suspension
    assert record["reason"] == "Unpaid invoice 2026-11"
    assert record["by"] == "operator" and record["actor"] == 7 and record["at"]
    assert suspended.settings["limits"] == {"products": 5}  # the rest of the settings stay
    assert registry.get("acme").suspension == record


def test_billing_suspension(registry):
    record = registry.suspend("acme", "Payment overdue since 2026-11-01", by="billing").suspension
    assert record["by"] == "billing" and record["actor"] is None


def test_resume_removes_the_record(registry):
    registry.suspend("acme", "Abuse report")
    resumed = registry.resume("acme")
    assert resumed.status == "active" and resumed.suspension is None
    assert "suspension" not in resumed.settings and resumed.settings["limits"] == {"products": 5}


def test_active_tenant_has_no_suspension(registry):
    assert registry.get("acme").suspension is None


@pytest.mark.parametrize("reason, complaint", [
    ("", "reason"), ("   ", "reason"), ("x" * 501, "500"), ("two\nlines", "one line"), (None, "reason"),
])
def test_reason_is_checked(registry, reason, complaint):
    with pytest.raises(InvalidValue) as caught:
        registry.suspend("acme", reason)
    assert caught.value.field == "reason" and complaint in str(caught.value)
    assert registry.get("acme").status == "active"


def test_by_is_checked(registry):
    with pytest.raises(InvalidValue, match="by"):
        registry.suspend("acme", "why", by="someone")
