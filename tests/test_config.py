from __future__ import annotations

import pytest

from config import ConfigurationError, load_config

GOOD = {
    "CASEWORK_SECRET_KEY": "s" * 40,
    "CASEWORK_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test",
    "CASEWORK_KEYRING": "/etc/casework/keyring.json",
    "CASEWORK_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0",
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
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert config["CASEWORK_ANONYMOUS_LIMIT"] == "60 per minute"


@pytest.mark.parametrize("storage", ["memory://", "async+memory://"])
def test_production_refuses_per_process_rate_limit_storage(storage):
    """Counters in each worker's memory would multiply every limit by the number of workers."""
    with pytest.raises(ConfigurationError, match="CASEWORK_RATELIMIT_STORAGE"):
        load_config("production", {**GOOD, "CASEWORK_RATELIMIT_STORAGE": storage})


def test_anonymous_limit_is_configurable():
    assert (
        load_config("production", {**GOOD, "CASEWORK_ANONYMOUS_LIMIT": "5 per minute"})["CASEWORK_ANONYMOUS_LIMIT"]
        == "5 per minute"
    )
    assert load_config("development", {})["CASEWORK_ANONYMOUS_LIMIT"] == "60 per minute"


def test_development_defaults_to_embedded_sqlite():
    config = load_config("development", {})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["CASEWORK_KEYRING_CREATE"] is True


def test_production_refuses_the_test_password_profile():
    assert load_config("production", GOOD)["CASEWORK_PASSWORD_PROFILE"] == "rfc9106-low-memory"
    with pytest.raises(ConfigurationError, match="argon2id"):
        load_config("production", {**GOOD, "CASEWORK_PASSWORD_PROFILE": "cheapest-for-tests"})
    assert load_config("testing", {})["CASEWORK_PASSWORD_PROFILE"] == "cheapest-for-tests"
