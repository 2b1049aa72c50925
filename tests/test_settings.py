"""The app's settings are read and checked once, in ``create_app``: a malformed one stops the app
there, not at the first request that needs it; and nothing changes them afterwards."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from casework import create_app
from casework.settings import Settings, settings
from config import ConfigurationError, load_config
from tests.test_config import GOOD


def start(tmp_path: Path, **overrides: Any) -> Flask:
    """An app on an SQLite file of its own; a refused setting stops it before it touches either."""
    return create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'casework.sqlite3'}",
            "CASEWORK_KEYRING": str(tmp_path / "keyring.json"),
            "LOG_LEVEL": "WARNING",
            **overrides,
        },
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("CASEWORK_EXHIBIT_CHUNK_BYTES", 0),
        ("CASEWORK_EXHIBIT_MAX_BYTES", "4 GiB"),
        ("CASEWORK_JSON_MAX_BYTES", True),
        ("CASEWORK_ANONYMOUS_LIMIT", "60 per fortnight"),
        ("CASEWORK_LOGIN_LIMIT", "lots"),
        ("CASEWORK_LOGIN_FAILURE_LIMIT", "5 per minute; often"),
        ("CASEWORK_REQUIRE_MFA", "yes"),
        ("CASEWORK_BLOB_STORE", "s3"),
        ("CASEWORK_CUSTODY_MERGE_DELAY", -1),
        ("CASEWORK_WITNESS_QUORUM", 0),
        ("CASEWORK_ERASURE_DELAY", None),
        ("CASEWORK_TOTP_ISSUER", ""),
    ],
)
def test_a_malformed_setting_stops_create_app(tmp_path: Path, key: str, value: Any):
    with pytest.raises(ConfigurationError, match=key):
        start(tmp_path, **{key: value})
    assert not (tmp_path / "keyring.json").exists()  # refused before the keyring was opened


def test_the_settings_an_app_starts_with(tmp_path: Path):
    app = start(tmp_path, CASEWORK_EXHIBIT_CHUNK_BYTES=65536, CASEWORK_REQUIRE_MFA=True)
    found = settings(app)
    assert isinstance(found, Settings)
    assert found.exhibits.chunk_bytes == 65536 and found.auth.require_mfa is True
    assert found.exhibits.upload_expiry == timedelta(hours=24) and found.erasure_delay == timedelta(hours=72)
    assert found.auth.session_seconds == 8 * 3600 and found.blobs.store == "filesystem"
    assert found.keys.keyring == str(tmp_path / "keyring.json") and found.keys.create_keyring is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.exhibits.chunk_bytes = 1  # type: ignore[misc]
    with app.app_context():
        assert settings() is found


def test_production_settings_are_typed():
    found = Settings.from_config({**load_config("production", GOOD), "PERMANENT_SESSION_LIFETIME": timedelta(hours=1)})
    assert found.http.hsts is True and found.custody.recording is True and found.custody.merge_delay == 1.0
    assert found.custody.integrate_after_commit is False and found.auth.anonymous_limit == "60 per minute"
    assert found.auth.session_seconds == 3600 and found.custody.witnesses_file is None
