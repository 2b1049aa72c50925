"""The app's own settings, typed and frozen: read once from the Flask config in ``create_app``.

``config/settings.py`` loads the environment into the Flask config, which stays the source (and
keeps Flask's own keys: SECRET_KEY, SESSION_*, SQLALCHEMY_*, ...). ``Settings.from_config`` reads
the CASEWORK_* keys from it once, and checks them there, so a malformed value stops the app at
start-up rather than the first request that needs it; services and domain code then ask
``settings()`` for a typed field instead of indexing the config by a string nobody type-checks.
Nothing changes them at run time (tests replace the whole object: tests/settings.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from limits import parse_many

from config import ConfigurationError

EXTENSION = "casework.settings"
BLOB_STORES = ("filesystem", "database")


@dataclass(frozen=True)
class HttpSettings:
    json_max_bytes: int  # a JSON request body
    upload_max_bytes: int  # an uploaded transcript or statement file
    hsts: bool
    trusted_proxies: int  # reverse proxies whose X-Forwarded-For/-Proto are believed


@dataclass(frozen=True)
class AuthSettings:
    login_limit: str  # logins per address ("10 per minute"; several separated by ";")
    login_failure_limit: str  # failed logins per (username, address), wrong secrets per account
    anonymous_limit: str  # requests per address from callers without a session or token
    require_mfa: bool  # admins and lawyers must enrol a TOTP second factor
    totp_issuer: str
    session_seconds: int  # a login session's lifetime (Flask's PERMANENT_SESSION_LIFETIME)


@dataclass(frozen=True)
class KeySettings:
    keyring: str | None  # a keyring file, or a ``pkcs11:`` URI
    create_keyring: bool  # development and tests only: invent a missing keyring file


@dataclass(frozen=True)
class CustodySettings:
    recording: bool  # False only with the benchmark-only switch (production refuses it)
    merge_delay: float  # seconds until an event is in the tree: what a receipt promises
    integrate_after_commit: bool  # tests: each request integrates its own events
    vacuum_every: int  # the request writing every Nth intake row vacuums the queue (0: never)
    log_origin: str  # the log's name in its signed checkpoints
    signer_state: str | None  # the signer's memory of what it signed (default: beside the keyring)
    witnesses_file: str | None  # JSON [{name, vkey, url}] of the witnesses asked to cosign
    witness_quorum: int | None  # cosignatures a checkpoint needs (default: a majority)


@dataclass(frozen=True)
class ExhibitSettings:
    max_bytes: int  # one exhibit
    case_quota_bytes: int  # all of a case's exhibits, uploads still open included
    upload_expiry: timedelta
    chunk_bytes: int  # one encrypted chunk; a PATCH body longer than this is streamed
    uploads_in_progress: int  # per person, at once


@dataclass(frozen=True)
class BlobSettings:
    store: str  # where new exhibits' chunks go: filesystem | database
    directory: str | None  # the filesystem store's (default: beside the SQLite file, else instance/blobs)


@dataclass(frozen=True)
class Settings:
    password_profile: str  # argon2id parameters for new password hashes
    http: HttpSettings
    auth: AuthSettings
    keys: KeySettings
    custody: CustodySettings
    exhibits: ExhibitSettings
    blobs: BlobSettings
    erasure_delay: timedelta  # a withdrawal's erasure unconfirmed after this is overdue (never destroyed by it)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The settings in a loaded Flask config; ``ConfigurationError`` names the first bad key."""
        read = _Reader(config)
        return cls(
            password_profile=read.text("CASEWORK_PASSWORD_PROFILE"),
            http=HttpSettings(
                json_max_bytes=read.integer("CASEWORK_JSON_MAX_BYTES", minimum=1),
                upload_max_bytes=read.integer("CASEWORK_UPLOAD_MAX_BYTES", minimum=1),
                hsts=read.flag("CASEWORK_HSTS"),
                trusted_proxies=read.integer("CASEWORK_TRUSTED_PROXIES"),
            ),
            auth=AuthSettings(
                login_limit=read.rate_limit("CASEWORK_LOGIN_LIMIT"),
                login_failure_limit=read.rate_limit("CASEWORK_LOGIN_FAILURE_LIMIT"),
                anonymous_limit=read.rate_limit("CASEWORK_ANONYMOUS_LIMIT"),
                require_mfa=read.flag("CASEWORK_REQUIRE_MFA"),
                totp_issuer=read.text("CASEWORK_TOTP_ISSUER"),
                session_seconds=read.seconds("PERMANENT_SESSION_LIFETIME"),
            ),
            keys=KeySettings(
                keyring=read.optional_text("CASEWORK_KEYRING"),
                create_keyring=read.flag("CASEWORK_KEYRING_CREATE"),
            ),
            custody=CustodySettings(
                recording=read.flag("CASEWORK_CUSTODY_RECORDING"),
                merge_delay=read.number("CASEWORK_CUSTODY_MERGE_DELAY"),
                integrate_after_commit=read.flag("CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT"),
                vacuum_every=read.integer("CASEWORK_CUSTODY_VACUUM_EVERY"),
                log_origin=read.text("CASEWORK_LOG_ORIGIN"),
                signer_state=read.optional_text("CASEWORK_SIGNER_STATE"),
                witnesses_file=read.optional_text("CASEWORK_WITNESSES"),
                witness_quorum=read.optional_integer("CASEWORK_WITNESS_QUORUM", minimum=1),
            ),
            exhibits=ExhibitSettings(
                max_bytes=read.integer("CASEWORK_EXHIBIT_MAX_BYTES", minimum=1),
                case_quota_bytes=read.integer("CASEWORK_EXHIBIT_CASE_QUOTA_BYTES"),
                upload_expiry=timedelta(seconds=read.integer("CASEWORK_EXHIBIT_UPLOAD_EXPIRY_SECONDS")),
                chunk_bytes=read.integer("CASEWORK_EXHIBIT_CHUNK_BYTES", minimum=1),
                uploads_in_progress=read.integer("CASEWORK_EXHIBIT_UPLOADS_IN_PROGRESS"),
            ),
            blobs=BlobSettings(
                store=read.choice("CASEWORK_BLOB_STORE", BLOB_STORES),
                directory=read.optional_text("CASEWORK_BLOB_DIR"),
            ),
            erasure_delay=timedelta(seconds=read.integer("CASEWORK_ERASURE_DELAY")),
        )


def settings(app: Flask | None = None) -> Settings:
    """The settings of ``app`` (default: the current app), as ``create_app`` read them."""
    return (app or current_app).extensions[EXTENSION]


def init_app(app: Flask) -> Settings:
    """Read and check the settings once, at start-up (``create_app``)."""
    app.extensions[EXTENSION] = found = Settings.from_config(app.config)
    return found


class _Reader:
    """Typed reads of config keys; a wrong type or range is a ``ConfigurationError`` naming the key."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def _get(self, key: str) -> Any:
        if key not in self.config:
            raise ConfigurationError(f"{key} is not set")
        return self.config[key]

    def _bad(self, key: str, wanted: str) -> ConfigurationError:
        return ConfigurationError(f"{key} must be {wanted}, not {self.config.get(key)!r}")

    def integer(self, key: str, *, minimum: int = 0) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._bad(key, f"an integer of at least {minimum}")
        return value

    def optional_integer(self, key: str, *, minimum: int = 0) -> int | None:
        return None if self.config.get(key) is None else self.integer(key, minimum=minimum)

    def number(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
            raise self._bad(key, "a number of seconds, at least 0")
        return float(value)

    def seconds(self, key: str) -> int:
        """Whole seconds, given as such or as a ``timedelta`` (as Flask accepts its own durations)."""
        value = self._get(key)
        if isinstance(value, timedelta):
            value = int(value.total_seconds())
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._bad(key, "a number of seconds, at least 1")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self._bad(key, "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.config.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str | os.PathLike):
            raise self._bad(key, "a path or a string")
        return str(value)

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self._get(key)
        if value not in choices:
            raise self._bad(key, " or ".join(choices))
        return value

    def rate_limit(self, key: str) -> str:
        """A limit as flask-limiter takes it ("5 per minute; 20 per hour")."""
        value = self.text(key)
        try:
            parse_many(value)
        except ValueError:
            raise self._bad(key, 'a rate limit such as "10 per minute" (several separated by ";")') from None
        return value
