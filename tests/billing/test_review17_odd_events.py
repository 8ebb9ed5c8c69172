"""The operator's billing webhook never answers 500: a correctly signed body that is not an event as
Stripe sends them (not an object, an object in the wrong shape) is acknowledged and ignored, changing
no site."""

from __future__ import annotations

import pytest

from tests.billing.conftest import hook, sign

ODD = [b"[]", b"null", b'"evt_1"', b"5", b'{"id": "evt_odd_1", "data": {"object": "sub_1"}}',
       b'{"id": "evt_odd_2", "type": "invoice.paid", "data": {"object": {"object": "invoice", "parent": "x"}}}',
       b'{"id": "evt_odd_3", "type": "invoice.paid", "data": {"object": {"object": "invoice", '
       b'"parent": {"subscription_details": ["sub_1"]}}}}',
       b'{"id": "evt_odd_4", "type": ["invoice.paid"], "data": {}}']


@pytest.mark.parametrize("body", ODD, ids=range(len(ODD)))
def test_a_signed_body_that_is_no_event_is_acknowledged_not_a_500(world, body):
    statuses = [s.status for s in world.services.db.registry.all()]
    response = hook(world, body, sign(body))
    assert response.status_code == 200, response.text
    assert response.json()["received"] is True
    assert response.json().get("outcome") in ("not an event", "ignored")
    assert [s.status for s in world.services.db.registry.all()] == statuses
