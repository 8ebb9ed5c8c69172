"""Renaming a tenant through the API checks the name like every other way in."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name,message", [
    ("Alpha\x00", "control character U+0000"),
    ("x" * 100_000, "at most 100 characters"),
    (" ", "a tenant needs a name"),
])
def test_a_bad_name_is_a_400_naming_the_field(world, name, message):
    token = world.token("alpha", "owner")
    with world.client("alpha", headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.patch("/api/admin/tenant", json={"name": name})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == "name" and message in error["message"]
    assert world.tenants.registry.get("alpha").name == "Alpha"
