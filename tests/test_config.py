from __future__ import annotations

import pytest

from config import ConfigurationError, load_config

GOOD = {
    "CASEWORK_SECRET_KEY": "s" * 40,
    "CASEWORK_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test",
    "CASEWORK_KEYRING": "/etc/casework/keyring.json",
}


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_production_refuses_to_start_without_explicit_settings(missing):
    env = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ConfigurationError, match=missing):
        load_config("production", env)


def test_production_refuses_weak_secret_and_custody_switch():
    with pytest.raises(ConfigurationError):
        load_config("production", {**GOOD, "CASEWORK_SECRET_KEY": "short"})
    with pytest.raises(ConfigurationError, match="custody"):
        load_config("production", {**GOOD, "CASEWORK_BENCH_DISABLE_CUSTODY": "1"})


def test_production_settings():
    config = load_config("production", GOOD)
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Strict" and config["CASEWORK_HSTS"]
    assert config["CASEWORK_KEYRING_CREATE"] is False


def test_development_defaults_to_embedded_sqlite():
    config = load_config("development", {})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["CASEWORK_KEYRING_CREATE"] is True
