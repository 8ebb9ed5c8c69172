"""The state machine alone: Stripe's status, the time and what we knew in; our state and actions out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from commerce_api.billing.states import decide

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("status, since, held_by, expected", [
    ("trialing", None, None, dict(state="trialing", tenant_status="trial")),
    ("active", None, None, dict(state="active", tenant_status="active")),
    ("active", NOW - timedelta(days=3), None, dict(state="active", past_due_since=None)),
    ("past_due", None, None, dict(state="past_due", past_due_since=NOW, tenant_status=None, suspend=False)),
    ("unpaid", NOW - timedelta(days=6), None, dict(state="past_due", past_due_since=NOW - timedelta(days=6))),
    ("past_due", NOW - timedelta(days=7), None, dict(state="suspended", suspend=True)),
    ("past_due", NOW - timedelta(days=9), "billing", dict(state="suspended", suspend=False)),
    ("past_due", NOW - timedelta(days=9), "operator", dict(state="suspended", suspend=False)),
    ("active", None, "billing", dict(state="active", resume=True, tenant_status="active")),
    ("active", None, "operator", dict(state="active", resume=False, tenant_status=None)),
    ("trialing", None, "operator", dict(resume=False, tenant_status=None)),
    ("canceled", NOW - timedelta(days=2), None, dict(state="canceled", to_free=True, past_due_since=None)),
    ("canceled", None, "billing", dict(to_free=True, resume=True)),
    ("canceled", None, "operator", dict(to_free=True, resume=False)),
])
def test_decisions(status, since, held_by, expected):
    decision = decide(status, NOW, 7, past_due_since=since, suspended_by=held_by)
    assert {key: getattr(decision, key) for key in expected} == expected


def test_the_same_inputs_give_the_same_answer():
    since = NOW - timedelta(days=1)
    first = decide("past_due", NOW, 7, past_due_since=since, suspended_by=None)
    assert decide("past_due", NOW, 7, past_due_since=first.past_due_since, suspended_by=None) == first


def test_an_unknown_status_is_refused_not_guessed():
    with pytest.raises(ValueError, match="bogus"):
        decide("bogus", NOW, 7, past_due_since=None, suspended_by=None)
