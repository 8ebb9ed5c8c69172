from __future__ import annotations

import pytest

from content.gitrepo import Author
from content.registry import parse_features
from content.tenants import Tenants
from tessera.settings import ROOT, Settings

EDITOR = Author("Edna", "edna@example.test")


@pytest.fixture(name="platform")
def fx_platform(tmp_path):
    """Settings and a tenant registry with the bakery (shop) and studio (no shop) tenants."""
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path / "data"), "TESSERA_PORT": "8000"})
    tenants = Tenants(settings.data_dir, ROOT / "sites")
    tenants.create("bakery", "Bakery", parse_features("cms,ecommerce"), starter="bakery")
    tenants.create("studio", "Studio", parse_features("cms"), starter="studio")
    yield settings, tenants
    tenants.close()
