"""The analytics settings, and the User-Agent rules, as tables of cases."""

from __future__ import annotations

import pytest

from publish.analytics.agents import Agents, browser_family, device_class
from tessera.settings import Settings, SettingsError
from tests.analytics.conftest import FIREFOX, IPHONE


def test_defaults_read_no_country_and_ignore_nobody(tmp_path):
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)})
    assert settings.analytics_country_header == "" and settings.analytics_ignore == ()
    assert settings.analytics_flush == (1000, 5)


def test_settings_are_read_and_checked(tmp_path):
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_ANALYTICS_COUNTRY_HEADER": "CF-IPCountry",
                                  "TESSERA_ANALYTICS_IGNORE": "203.0.113.7, 10.0.0.0/8",
                                  "TESSERA_ANALYTICS_FLUSH": "200/2"})
    assert settings.analytics_country_header == "cf-ipcountry"
    assert settings.analytics_ignore == ("203.0.113.7/32", "10.0.0.0/8")
    assert settings.analytics_flush == (200, 2)


@pytest.mark.parametrize("name,value", [
    ("TESSERA_ANALYTICS_COUNTRY_HEADER", "CF IPCountry"), ("TESSERA_ANALYTICS_IGNORE", "my laptop"),
    ("TESSERA_ANALYTICS_FLUSH", "5s"), ("TESSERA_ANALYTICS_FLUSH", "0/5"),
])
def test_a_bad_setting_names_its_variable(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), name: value})


@pytest.mark.parametrize("ua,device,browser", [
    (FIREFOX, "desktop", "Firefox"),
    (IPHONE, "mobile", "Safari"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Mobile/15E148 Safari/604.1", "tablet", "Safari"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
     "Safari/537.36", "mobile", "Chrome"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
     "Chrome/121.0.0.0 Safari/537.36", "tablet", "Samsung Internet"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36 Edg/126.0.0.0", "desktop", "Edge"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36 OPR/111.0.0.0", "desktop", "Opera"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "mobile", "Chrome"),
    ("Dillo/3.0.5", "desktop", "Other"),
])
def test_devices_and_browsers(ua, device, browser):
    assert (device_class(ua), browser_family(ua)) == (device, browser)
    assert not Agents().classify(ua).bot


def test_the_classifier_cache_stays_bounded():
    agents = Agents(size=3)
    for n in range(10):
        agents.classify(f"{FIREFOX} n{n}")
    assert len(agents._cache) == 3
