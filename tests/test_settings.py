import pytest

from tessera.settings import Settings, SettingsError


def test_local_defaults_need_no_configuration(tmp_path):
    s = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)})
    assert (s.base_domain, s.port, s.storage, s.env) == ("localhost", 8000, "file://", "local")
    assert len(s.secret_key) >= 32
    assert Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)}).secret_key == s.secret_key
    assert s.secret_key not in repr(s)


def test_production_refuses_a_missing_secret(tmp_path):
    with pytest.raises(SettingsError, match="TESSERA_SECRET_KEY"):
        Settings.from_env({"TESSERA_ENV": "production", "TESSERA_DATA_DIR": str(tmp_path)})
    ok = Settings.from_env({"TESSERA_ENV": "production", "TESSERA_DATA_DIR": str(tmp_path),
                            "TESSERA_SECRET_KEY": "k" * 40})
    assert ok.production and not (tmp_path / ".secret_key").exists()


@pytest.mark.parametrize("env,name", [
    ({"TESSERA_PORT": "eighty"}, "TESSERA_PORT"),
    ({"TESSERA_PORT": "70000"}, "TESSERA_PORT"),
    ({"TESSERA_ENV": "prod"}, "TESSERA_ENV"),
    ({"TESSERA_STORAGE": "ftp://x"}, "TESSERA_STORAGE"),
    ({"TESSERA_TRUSTED_PROXIES": "10.0.0.1, proxy.local"}, "TESSERA_TRUSTED_PROXIES"),
    ({"TESSERA_SMTP_URL": "mail.example.com:25"}, "TESSERA_SMTP_URL"),
    ({"TESSERA_ADMIN_HOST": "bakery.localhost"}, "TESSERA_ADMIN_HOST"),  # a tenant's subdomain
    ({"TESSERA_ADMIN_HOST": "https://admin.example.com/"}, "TESSERA_ADMIN_HOST"),
    ({"TESSERA_ORDERS_PER_ADDRESS": "60"}, "TESSERA_ORDERS_PER_ADDRESS"),
    ({"TESSERA_ORDERS_PER_EMAIL": "0/60"}, "TESSERA_ORDERS_PER_EMAIL"),
    ({"TESSERA_DATABASE_URL": "mysql://u:p@db/tessera"}, "TESSERA_DATABASE_URL"),
    ({"TESSERA_NODE": "node1"}, "TESSERA_NODE"),  # nodes share platform state on PostgreSQL only
    ({"TESSERA_NODE": "Node_1", "TESSERA_DATABASE_URL": "postgresql://db/tessera"}, "TESSERA_NODE"),
    ({"TESSERA_NODE_URL": "node1:8000"}, "TESSERA_NODE_URL"),
])
def test_malformed_settings_name_the_variable(tmp_path, env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), **env})


def test_settings_are_frozen(tmp_path):
    s = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)})
    with pytest.raises(Exception):
        s.port = 1  # type: ignore[misc]


def test_the_admin_has_a_host_of_its_own(tmp_path):
    assert Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)}).admin_host == "admin.localhost"
    moved = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_BASE_DOMAIN": "sites.example",
                               "TESSERA_ADMIN_HOST": "Admin.Example.COM"})
    assert moved.admin_host == "admin.example.com"


def test_metrics_are_open_to_loopback_in_local_mode_only(tmp_path):
    data = {"TESSERA_DATA_DIR": str(tmp_path)}
    local = Settings.from_env(data)
    production = Settings.from_env({**data, "TESSERA_ENV": "production", "TESSERA_SECRET_KEY": "k" * 40})
    assert local.metrics_allow == ("127.0.0.1/32", "::1/128") and local.metrics_token is None
    assert production.metrics_allow == ()
    chosen = Settings.from_env({**data, "TESSERA_METRICS_TOKEN": "t0k", "TESSERA_METRICS_ALLOW": "10.0.0.0/8"})
    assert chosen.metrics_allow == ("10.0.0.0/8",) and chosen.metrics_token == "t0k"
    assert "t0k" not in repr(chosen)
    with pytest.raises(SettingsError, match="TESSERA_METRICS_ALLOW"):
        Settings.from_env({**data, "TESSERA_METRICS_ALLOW": "nowhere"})


def test_order_limits_reach_the_api(tmp_path):
    from tessera.app import api_config

    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_ORDERS_PER_ADDRESS": "5/60",
                                  "TESSERA_ORDERS_PER_EMAIL": "2/30"})
    config = api_config(settings)
    assert config.orders_per_address == (5, 60) and config.orders_per_email == (2, 30)
    default = api_config(Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)}))
    assert default.orders_per_address == (60, 600) and default.orders_per_email == (10, 3600)


def test_the_database_url_is_shown_without_its_password(tmp_path, monkeypatch):
    url = "postgresql://tessera:s3cret-word@db.internal:5432/tessera"
    monkeypatch.setenv("TESSERA_DATABASE_URL", url)
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path))
    settings = Settings.from_env()
    assert settings.database_url == url
    assert settings.platform_db_shown == "postgresql://tessera:***@db.internal:5432/tessera"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_DATABASE_URL": "mysql://u:s3cret-word@db/x"})
    assert "s3cret-word" not in str(refused.value)
    monkeypatch.delenv("TESSERA_DATABASE_URL")
    assert Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)}).platform_db_shown == str(tmp_path / "platform.db")
