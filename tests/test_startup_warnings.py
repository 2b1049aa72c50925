"""A warning at start when the app's database role could rewrite the custody log (PostgreSQL): a
superuser, or the owner of the custody tables, gets past the append-only triggers that hold the
app's role (casework_app). The suite's PostgreSQL login is the superuser postgres; the other roles
are taken at connection time (``options=-c role=...``), as a login role in them would be."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import text

from casework.custody import append_only
from casework.db import db
from tests.conftest import make_app

SECURITY_LOGGER = "casework.security"


def started(
    backend: dict[str, str], keyring_path: str, caplog: pytest.LogCaptureFixture, role: str | None = None
) -> list[logging.LogRecord]:
    """Create an app (connecting as ``role`` if given) and return the security warnings it logged."""
    url = backend["url"]
    if role is not None:
        url += "?options=" + quote(f"-c role={role}")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        app = make_app(backend, keyring_path, SQLALCHEMY_DATABASE_URI=url)
    if role is not None:
        with app.app_context(), db.engine.connect() as conn:
            assert conn.scalar(text("SELECT current_user")) == role
            db.engine.dispose()
    return [r for r in caplog.records if r.name == SECURITY_LOGGER and r.levelno == logging.WARNING]


def test_a_superuser_is_warned_about_on_postgresql_only(
    app: Flask, backend: dict[str, str], keyring_path: str, caplog: pytest.LogCaptureFixture
):
    warnings = started(backend, keyring_path, caplog)
    if backend["name"] != "postgresql":
        assert warnings == []  # SQLite has no roles: nothing to say
        return
    [warning] = warnings
    message = warning.getMessage()
    assert "'postgres' is a superuser" in message
    assert append_only.APP_ROLE in message and "Append-only custody tables" in message
    assert warning.__dict__["superuser"] is True


def test_the_owner_of_the_custody_tables_is_warned_about(
    app: Flask, backend: dict[str, str], keyring_path: str, caplog: pytest.LogCaptureFixture, pg_only
):
    [warning] = started(backend, keyring_path, caplog, role=append_only.OWNER_ROLE)
    message = warning.getMessage()
    assert f"'{append_only.OWNER_ROLE}' owns the custody tables" in message
    for table in ("custody_events", "custody_intake", "custody_checkpoints"):
        assert table in message
    assert "is a superuser" not in message and warning.__dict__["superuser"] is False
    assert append_only.APP_ROLE in message and "Append-only custody tables" in message


def test_the_app_role_starts_without_a_warning(
    app: Flask, backend: dict[str, str], keyring_path: str, caplog: pytest.LogCaptureFixture, pg_only
):
    assert started(backend, keyring_path, caplog, role=append_only.APP_ROLE) == []
