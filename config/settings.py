"""Settings per environment, read from CASEWORK_* environment variables at start-up.

Production refuses to start on anything implicit: a missing secret key, database URL,
keyring or shared rate-limit storage, or the benchmark-only switch that turns custody
recording off, is an error at start-up rather than a silent weakening at run time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
ENVIRONMENTS = ("development", "testing", "production")


class ConfigurationError(RuntimeError):
    """The environment does not describe a configuration we are willing to run."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _common(env: Mapping[str, str]) -> dict[str, Any]:
    upload_max = int(env.get("CASEWORK_UPLOAD_MAX_BYTES", 20 * 1024 * 1024))
    return {
        "SECRET_KEY": env.get("CASEWORK_SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": env.get("CASEWORK_DATABASE_URL"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},  # never log SQL parameters
        "CASEWORK_KEYRING": env.get("CASEWORK_KEYRING"),
        # Only development and tests may invent a keyring file; production must be given one.
        "CASEWORK_KEYRING_CREATE": False,
        "CASEWORK_LOG_ORIGIN": env.get("CASEWORK_LOG_ORIGIN", "casework.local/custody"),
        # The signer's memory of what it signed, beside its key (default: <keyring>.signer-state).
        "CASEWORK_SIGNER_STATE": env.get("CASEWORK_SIGNER_STATE"),
        "CASEWORK_PASSWORD_PROFILE": env.get("CASEWORK_PASSWORD_PROFILE", "rfc9106-low-memory"),
        # Witnesses asked to cosign each published checkpoint: a JSON file [{name, vkey, url}].
        "CASEWORK_WITNESSES": env.get("CASEWORK_WITNESSES"),
        "CASEWORK_WITNESS_QUORUM": int(env["CASEWORK_WITNESS_QUORUM"]) if env.get("CASEWORK_WITNESS_QUORUM") else None,
        # No implicit OPTIONS responses: every answered request goes through a view and the log.
        "PROVIDE_AUTOMATIC_OPTIONS": False,
        # Request bodies: JSON is small; transcript uploads may be large.
        "CASEWORK_JSON_MAX_BYTES": int(env.get("CASEWORK_JSON_MAX_BYTES", 1024 * 1024)),
        "CASEWORK_UPLOAD_MAX_BYTES": upload_max,
        "MAX_CONTENT_LENGTH": upload_max + 64 * 1024,  # multipart framing headroom
        # Sessions: a server-side session record behind a signed HttpOnly SameSite cookie.
        "SESSION_COOKIE_NAME": "casework_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_SECURE": _bool(env.get("CASEWORK_SECURE_COOKIES"), False),
        "PERMANENT_SESSION_LIFETIME": int(env.get("CASEWORK_SESSION_SECONDS", 8 * 3600)),
        "CASEWORK_TOKEN_MAX_DAYS": 365,
        "CASEWORK_TRUSTED_PROXIES": int(env.get("CASEWORK_TRUSTED_PROXIES", 0)),
        "CASEWORK_HSTS": False,
        # Throttling; Redis when configured so that every worker shares the counters (production
        # requires it). Callers without a valid session or token are limited per address, and
        # failed logins also per username and address; refusals are summarised in the custody log.
        "RATELIMIT_STORAGE_URI": env.get("CASEWORK_RATELIMIT_STORAGE", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "CASEWORK_LOGIN_LIMIT": env.get("CASEWORK_LOGIN_LIMIT", "10 per minute"),
        "CASEWORK_ANONYMOUS_LIMIT": env.get("CASEWORK_ANONYMOUS_LIMIT", "60 per minute"),
        # Failed logins per (username, address), and wrong passwords or codes given again per
        # account: only failures count, so nobody is locked out by someone else's from elsewhere.
        "CASEWORK_LOGIN_FAILURE_LIMIT": env.get("CASEWORK_LOGIN_FAILURE_LIMIT", "5 per minute; 20 per hour"),
        # Admins and lawyers must enrol a TOTP second factor before anything else.
        "CASEWORK_REQUIRE_MFA": _bool(env.get("CASEWORK_REQUIRE_MFA"), False),
        "CASEWORK_TOTP_ISSUER": env.get("CASEWORK_TOTP_ISSUER", "Casework"),
        # Exhibits (tus uploads): where encrypted chunks go (filesystem | database), the directory of the
        # filesystem store (default: beside the SQLite file, else instance/blobs), limits and expiry.
        "CASEWORK_BLOB_STORE": env.get("CASEWORK_BLOB_STORE", "filesystem"),
        "CASEWORK_BLOB_DIR": env.get("CASEWORK_BLOB_DIR"),
        "CASEWORK_EXHIBIT_MAX_BYTES": int(env.get("CASEWORK_EXHIBIT_MAX_BYTES", 4 * 1024**3)),
        "CASEWORK_EXHIBIT_CASE_QUOTA_BYTES": int(env.get("CASEWORK_EXHIBIT_CASE_QUOTA_BYTES", 256 * 1024**3)),
        "CASEWORK_EXHIBIT_UPLOAD_EXPIRY_SECONDS": int(env.get("CASEWORK_EXHIBIT_UPLOAD_EXPIRY_SECONDS", 24 * 3600)),
        "CASEWORK_EXHIBIT_CHUNK_BYTES": int(env.get("CASEWORK_EXHIBIT_CHUNK_BYTES", 1024 * 1024)),
        # Uploads one person may hold in progress at once (expired ones stop counting at once).
        "CASEWORK_EXHIBIT_UPLOADS_IN_PROGRESS": int(env.get("CASEWORK_EXHIBIT_UPLOADS_IN_PROGRESS", 16)),
        # Benchmark-only switch; production refuses it.
        "CASEWORK_CUSTODY_RECORDING": not _bool(env.get("CASEWORK_BENCH_DISABLE_CUSTODY"), False),
        # PostgreSQL: a request's events are durable in the intake queue when it commits, and in the
        # tree within the merge delay (seconds; the background integrator polls at a quarter of it).
        # Receipts promise it. Auditors' reads, publication and export always catch up first.
        "CASEWORK_CUSTODY_MERGE_DELAY": float(env.get("CASEWORK_CUSTODY_MERGE_DELAY", 1.0)),
        # Tests only: each request integrates its own events after its commit, in place of the
        # background integrator that gunicorn workers run.
        "CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT": False,
        # A withdrawal's erasure unconfirmed after this many seconds is listed as overdue (never destroyed
        # by the clock: a second person confirms it).
        "CASEWORK_ERASURE_DELAY": int(env.get("CASEWORK_ERASURE_DELAY", 72 * 3600)),
        # The request that writes every Nth intake row vacuums the queue (0: leave it to autovacuum).
        "CASEWORK_CUSTODY_VACUUM_EVERY": max(0, int(env.get("CASEWORK_CUSTODY_VACUUM_EVERY", 10_000))),
        # OpenAPI (flask-smorest)
        "API_TITLE": "Casework",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        # The docs page (/api/v1/docs) is casework/api_docs.py, not flask-smorest's Swagger UI page:
        # that one starts Swagger UI with an inline script, which the page's policy refuses.
        "OPENAPI_SWAGGER_UI_PATH": None,
        "API_SPEC_OPTIONS": {
            "info": {"description": "Witness-interview case management with a verifiable chain of custody."},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "casework_session"},
                }
            },
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        },
        "LOG_LEVEL": env.get("CASEWORK_LOG_LEVEL", "INFO"),
    }


def _development(env: Mapping[str, str], config: dict[str, Any]) -> None:
    config["SECRET_KEY"] = config["SECRET_KEY"] or "development-only-not-a-secret"
    config["SQLALCHEMY_DATABASE_URI"] = (
        config["SQLALCHEMY_DATABASE_URI"] or f"sqlite:///{INSTANCE_DIR / 'casework.sqlite3'}"
    )
    config["CASEWORK_KEYRING"] = config["CASEWORK_KEYRING"] or str(INSTANCE_DIR / "keyring.json")
    config["CASEWORK_KEYRING_CREATE"] = True


def _testing(env: Mapping[str, str], config: dict[str, Any]) -> None:
    config["TESTING"] = True
    # Thousands of accounts are created by the suite; production refuses this profile.
    config["CASEWORK_PASSWORD_PROFILE"] = env.get("CASEWORK_PASSWORD_PROFILE", "cheapest-for-tests")
    config["SECRET_KEY"] = config["SECRET_KEY"] or "testing-secret"
    # Every test client calls from 127.0.0.1; throttling tests set their own limit.
    config["CASEWORK_ANONYMOUS_LIMIT"] = env.get("CASEWORK_ANONYMOUS_LIMIT", "10000 per minute")
    config["CASEWORK_LOGIN_FAILURE_LIMIT"] = env.get("CASEWORK_LOGIN_FAILURE_LIMIT", "10000 per minute")
    config["CASEWORK_KEYRING_CREATE"] = True
    # Exhibit chunks of test apps on PostgreSQL go to a scratch directory, never instance/.
    config["CASEWORK_BLOB_DIR"] = config["CASEWORK_BLOB_DIR"] or str(
        Path(tempfile.gettempdir()) / f"casework-test-blobs-{os.getpid()}"
    )
    # Tests read the log straight from the database after each request.
    config["CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT"] = _bool(env.get("CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT"), True)


def _production(env: Mapping[str, str], config: dict[str, Any]) -> None:
    config["SESSION_COOKIE_SECURE"] = True
    config["CASEWORK_HSTS"] = True
    missing = [
        name
        for name, key in (
            ("CASEWORK_SECRET_KEY", "SECRET_KEY"),
            ("CASEWORK_DATABASE_URL", "SQLALCHEMY_DATABASE_URI"),
            ("CASEWORK_KEYRING", "CASEWORK_KEYRING"),
        )
        if not config[key]
    ]
    if not env.get("CASEWORK_RATELIMIT_STORAGE"):
        missing.append("CASEWORK_RATELIMIT_STORAGE")
    if missing:
        raise ConfigurationError(f"production requires {', '.join(missing)}")
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigurationError("CASEWORK_SECRET_KEY must be at least 32 characters")
    if not config["CASEWORK_CUSTODY_RECORDING"]:
        raise ConfigurationError("custody recording cannot be disabled in production")
    if config["CASEWORK_PASSWORD_PROFILE"] != "rfc9106-low-memory":  # noqa: S105 (a profile's name)
        raise ConfigurationError("production hashes passwords with the rfc9106-low-memory argon2id profile")
    # Per-process counters would multiply every limit by the number of workers (and forget them
    # on restart): the limits and the throttling summaries need storage all workers share.
    scheme = config["RATELIMIT_STORAGE_URI"].partition("://")[0]
    if "memory" in scheme:
        raise ConfigurationError(
            "CASEWORK_RATELIMIT_STORAGE must be storage every worker shares (e.g. redis://...), not memory://"
        )


def load_config(name: str | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the settings for ``name`` (default: $CASEWORK_ENV, else development)."""
    env = os.environ if environ is None else environ
    name = name or env.get("CASEWORK_ENV", "development")
    if name not in ENVIRONMENTS:
        raise ConfigurationError(f"unknown CASEWORK_ENV {name!r}; use one of {', '.join(ENVIRONMENTS)}")
    config = _common(env)
    config["CASEWORK_ENV"] = name
    if config["CASEWORK_BLOB_STORE"] not in ("filesystem", "database"):
        raise ConfigurationError("CASEWORK_BLOB_STORE must be filesystem or database")
    {"development": _development, "testing": _testing, "production": _production}[name](env, config)
    return config
